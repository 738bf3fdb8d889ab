"""Philox-4x32-10 on the device (philox.cu): the same words as
kernels/reference/philox.py, bit for bit."""

from ._lazy import cupy
import numpy as np

from ._rt import cu, launch


def philox_uint32(seed, offset, n):
    out = cupy.empty(n, dtype=np.uint32)
    if n:
        launch(cu("philox.cu", "fastnn_philox_uint32", np.float32), -(-n // 4),
               [np.uint64(seed), np.uint64(offset), np.int64(n), out])
    return out
