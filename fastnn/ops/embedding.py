"""Embedding lookup: out[..., :] = weight[indices[...], :].

The gradient adds dy into the rows that were looked up (a row looked up twice gets both).
"""

from __future__ import annotations

from .. import function
from ..function import Function
from .checks import require_float, require_in_range, require_integer, require_ndim, require_tensor


class Embedding(Function):
    def forward(self, weight, indices):
        require_float("embedding", weight=weight)
        self.indices, self.rows = indices, weight.shape[0]
        return self.k.embedding_fwd(weight, indices)

    def backward(self, g):
        return (self.k.embedding_bwd(self.indices, g, self.rows),)


def embedding(indices, weight):
    """Rows of ``weight`` (num_embeddings, dim), a 2-D float tensor, picked by integer
    ``indices`` of any shape (a tensor, or an array or list of ids)."""
    Tensor = function._Tensor
    if type(weight) is not Tensor:
        require_tensor("embedding", "weight", weight)
    if weight.ndim != 2:   # before weight.shape[0] is read below
        require_ndim("embedding", "weight", weight, 2)
    backend = weight._backend
    array = indices.data if isinstance(indices, Tensor) else backend.asarray(indices)
    require_integer("embedding", "indices", array)
    require_in_range("embedding", "indices", array, weight.shape[0], backend.xp)
    return Embedding.apply(weight, indices=backend.contiguous(array.astype("int64", copy=False)))
