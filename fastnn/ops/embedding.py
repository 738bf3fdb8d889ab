"""Embedding lookup: out[..., :] = weight[indices[...], :].

The gradient adds dy into the rows that were looked up (a row looked up twice gets both).
"""

from __future__ import annotations

from ..function import Function
from .checks import require_float, require_in_range, require_integer, require_ndim


class Embedding(Function):
    def forward(self, weight, indices):
        require_float("embedding", weight=weight)
        require_ndim("embedding", "weight", weight, 2)
        self.indices, self.rows = indices, weight.shape[0]
        return self.k.embedding_fwd(weight, indices)

    def backward(self, g):
        return (self.k.embedding_bwd(self.indices, g, self.rows),)


def embedding(indices, weight):
    """Rows of ``weight`` (num_embeddings, dim) picked by integer ``indices`` of any shape."""
    from ..tensor import Tensor

    array = indices.data if isinstance(indices, Tensor) else weight._backend.asarray(indices)
    require_integer("embedding", "indices", array)
    require_in_range("embedding", "indices", array, weight.shape[0], weight._backend.xp)
    return Embedding.apply(weight, indices=weight._backend.contiguous(array.astype("int64", copy=False)))
