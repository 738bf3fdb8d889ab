"""Cosine similarity between vectors, and the nearest neighbours of one vector by it.

The cosine of the angle between two vectors measures how alike their directions are,
whatever their lengths:

    cos(a, b) = (a . b) / (|a| |b|)            in [-1, 1]

1 means the same direction, 0 orthogonal (nothing in common), -1 opposite. It is the
usual similarity for embeddings (learned item or word vectors) and for TF-IDF sentence
vectors, where the length mostly reflects how long a sentence is, not what it is about.

A zero vector has no direction: here its similarity to anything is defined as 0 (not
the NaN that 0 / 0 would give), so an empty sentence or an untrained row simply matches
nothing.

Both functions take rows of numpy arrays or of fastnn tensors (on any backend; the
numbers are copied to the host) and answer with numpy arrays.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import backend as backends


def _as_matrix(vectors, name: str) -> np.ndarray:
    """``vectors`` as a float64 host matrix (rows are vectors), or a clear error naming ``name``."""
    from .tensor import Tensor

    if isinstance(vectors, Tensor):
        vectors = vectors.numpy()
    elif not backends.of_array(vectors).host_memory:
        vectors = backends.to_host(vectors)
    try:
        array = np.asarray(vectors)
    except (TypeError, ValueError) as error:  # ragged lists and the like
        raise TypeError(f"{name} must be a 2-D array of numbers (rows are vectors), "
                        f"got {type(vectors).__name__} that is not one: {error}") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers (bool, int or float), got dtype {array.dtype}")
    if array.ndim != 2:
        hint = "; for a single vector v pass v.reshape(1, -1)" if array.ndim == 1 else ""
        raise ValueError(f"{name} must be 2-D, shape (n_vectors, n_features), got shape {array.shape}{hint}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        row, column = np.argwhere(~np.isfinite(array))[0]
        raise ValueError(f"{name} must hold finite numbers, got {name}[{row}, {column}] = {array[row, column]}")
    return array


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its Euclidean length; rows of length 0 stay 0 (no direction)."""
    norms = np.sqrt((matrix * matrix).sum(axis=1, keepdims=True))
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def cosine_similarity(a, b=None) -> np.ndarray:
    """The cosines between the rows of ``a`` (n, d) and the rows of ``b`` (m, d): shape (n, m).

        S[i, j] = (a_i . b_j) / (|a_i| |b_j|)       and S[i, j] = 0 where a_i = 0 or b_j = 0

    Without ``b`` the rows of ``a`` are compared with each other (b = a): S is then
    symmetric with 1 on the diagonal (0 for a zero row). Computed as the product of the
    row-normalised matrices in float64; values are clipped to [-1, 1], so rounding cannot
    push a cosine past its range. ``a`` and ``b`` are numpy arrays, nested lists or fastnn
    tensors (copied to the host); the result is a float64 numpy array.

    Raises TypeError for non-numeric input, ValueError for arrays that are not 2-D, hold
    nan/inf, or whose numbers of features (columns) differ.
    """
    a = _as_matrix(a, "a")
    b = a if b is None else _as_matrix(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have the same number of features (columns), "
                         f"got a of shape {a.shape} and b of shape {b.shape}")
    unit_a = _unit_rows(a)
    unit_b = unit_a if b is a else _unit_rows(b)
    return np.clip(unit_a @ unit_b.T, -1.0, 1.0)


def most_similar(vectors, index: int, k: int = 5):
    """The ``k`` rows of ``vectors`` most similar (by cosine) to row ``index``, the row itself excluded.

    Returns ``(indices, similarities)``: int64 and float64 arrays of length k, the most
    similar first; equal similarities keep the lower index first. This is item-to-item
    recommendation: "people who liked this also liked ...", read off learned item vectors.

    Raises ValueError when ``index`` is not a row of ``vectors`` or ``k`` is not in
    [1, n_vectors - 1], TypeError when either is not an int.
    """
    matrix = _as_matrix(vectors, "vectors")
    n = matrix.shape[0]
    for name, value in (("index", index), ("k", k)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if not 0 <= index < n:
        raise ValueError(f"index must be a row of vectors, in [0, {n}) for {n} vectors, got {index}")
    if not 1 <= k <= n - 1:
        raise ValueError(f"k must be in [1, {n - 1}] (the other rows of {n} vectors), got {k}")
    similarities = cosine_similarity(matrix[index:index + 1], matrix)[0]
    others = np.delete(np.arange(n), index)
    # A stable sort of the negated similarities: most similar first, ties in index order.
    order = others[np.argsort(-similarities[others], kind="stable")][:k]
    return order.astype(np.int64), similarities[order]
