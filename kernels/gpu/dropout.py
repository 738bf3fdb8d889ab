"""Inverted dropout from the Philox stream (formulas: kernels/reference/dropout.py).
The forward kernel draws the words, compares them with the integer threshold and
writes mask and output in one launch, so masks are bit-identical to the reference."""

from ._lazy import cupy
import numpy as np

from ..reference.dropout import keep_threshold, scale_for
from ._rt import cu, elementwise, launch


def dropout_fwd(x, rate, seed, offset, lane=0):
    y = cupy.empty_like(x)
    mask = cupy.empty(x.shape, dtype=np.uint8)
    n = x.size
    if n:
        launch(cu("philox.cu", "fastnn_dropout_fwd", x.dtype), -(-(lane + n) // 4),
               [x, np.uint64(seed), np.uint64(offset), np.int64(lane), np.uint64(keep_threshold(rate)),
                scale_for(rate, x.dtype), np.int64(n), y, mask])
    return y, mask


def dropout_bwd(gy, mask, rate):
    gx = cupy.empty_like(gy)
    elementwise("fastnn_dropout_bwd", gy.dtype)(gy.size, gy, mask, scale_for(rate, gy.dtype), gx)
    return gx
