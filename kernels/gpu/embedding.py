"""Embedding lookup (formulas: kernels/reference/embedding.py).

Forward is a gather (``cupy.take``). Backward is deterministic, without atomics: a
sort of the positions by (row, position), the start of each row's run, then one thread per
gradient entry sums its run in position order (embedding.cu)."""

from ._lazy import cupy
import numpy as np

from ._rt import cu, launch


def embedding_fwd(weight, indices):
    return cupy.take(weight, indices, axis=0)


def embedding_bwd(indices, gy, num_embeddings):
    dim = gy.shape[-1]
    gw = cupy.empty((num_embeddings, dim), dtype=gy.dtype)
    if gw.size == 0:
        return gw
    flat = indices.reshape(-1)
    if flat.size == 0:
        gw.fill(0)
        return gw
    # unique keys (row, position): the order is the same whatever sort algorithm runs
    keys = flat.astype(np.int64) * flat.size + cupy.arange(flat.size, dtype=np.int64)
    order = cupy.argsort(keys).astype(np.int64, copy=False)
    starts = cupy.searchsorted(flat[order], cupy.arange(num_embeddings + 1, dtype=flat.dtype)).astype(
        np.int64, copy=False)
    launch(cu("embedding.cu", "fastnn_embedding_bwd", gy.dtype), gw.size,
           [order, starts, cupy.ascontiguousarray(gy.reshape(-1, dim)), gw, np.int64(num_embeddings),
            np.int32(dim)])
    return gw
