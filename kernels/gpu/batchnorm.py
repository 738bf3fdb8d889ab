"""Batch normalisation over axis 1 of (N, C) or (N, C, H, W) (formulas:
kernels/reference/batchnorm.py; CUDA: batchnorm.cu).

Each direction is two launches: one pass over the data for the per-channel sums
(training statistics in one pass; in backward the two sums, of dy and of dy * xhat,
fused in one pass), then one pass that finishes the sums and writes the output.
Per-block partial sums are added in a fixed order, so results are deterministic.
Rows of a channel are read with 16-byte loads where H*W allows it.
"""

from ._lazy import cupy
import numpy as np

from . import sources
from ._rt import cu, launch, sm_count

_THREADS = 256


def _layout(shape, *arrays):
    """Launch geometry of a (N, C, L...) array: grid (S, C), and the kernels' int arguments
    [N, C, L, nchunk, vn, lvm, lvs] (rows per block, values per pack, pack-count magic)."""
    n, c = shape[0], shape[1]
    length = int(np.prod(shape[2:], dtype=np.int64)) if len(shape) > 2 else 1
    if n * c * length >= 2**31:
        raise ValueError(f"batch norm on the gpu supports fewer than 2**31 elements, got shape {tuple(shape)}")
    vec = 16 // arrays[0].dtype.itemsize
    vn = vec if length % vec == 0 and all(a is None or a.data.ptr % 16 == 0 for a in arrays) else 1
    target = max(1, -(-8 * sm_count() // c))  # about 8 blocks per multiprocessor in all
    nchunk = max(-(-n // target), -(-2048 // length), 1)  # at least 2048 values a block
    s = -(-n // nchunk)
    lmagic, lshift = sources.magic_div(length // vn)
    return (s, c), [np.int32(n), np.int32(c), np.int32(length), np.int32(nchunk), np.int32(vn),
                    np.uint32(lmagic), np.uint32(lshift)]


def batchnorm_fwd_train(x, gamma, beta, running_mean, running_var, momentum, eps):
    y = cupy.empty_like(x)
    grid, geometry = _layout(x.shape, x, y)
    c = x.shape[1]
    part = cupy.empty((c, grid[0], 2), dtype=np.float64)
    cu("batchnorm.cu", "fastnn_bn_stats_partial", x.dtype)(grid, (_THREADS,), [x, part] + geometry)
    mean = cupy.empty(c, dtype=x.dtype)
    invstd = cupy.empty(c, dtype=x.dtype)
    real = x.dtype.type
    m = x.size // c
    cu("batchnorm.cu", "fastnn_bn_train_apply", x.dtype)(
        grid, (_THREADS,),
        [x, gamma, beta, part] + geometry + [np.float64(eps), real(momentum), real(1 - momentum),
                                             real(m / (m - 1)), y, mean, invstd, running_mean, running_var])
    return y, mean, invstd


def batchnorm_fwd_eval(x, gamma, beta, running_mean, running_var, eps):
    y = cupy.empty_like(x)
    grid, geometry = _layout(x.shape, x, y)
    cu("batchnorm.cu", "fastnn_bn_eval_apply", x.dtype)(
        grid, (_THREADS,), [x, gamma, beta, running_mean, running_var, x.dtype.type(eps)] + geometry + [y])
    return y


def _backward(x, gamma, mean, invstd, gy, train):
    gx = cupy.empty_like(x)
    grid, geometry = _layout(x.shape, x, gy, gx)
    c = x.shape[1]
    part = cupy.empty((c, grid[0], 2), dtype=np.float64)
    cu("batchnorm.cu", "fastnn_bn_bwd_partial", x.dtype)(grid, (_THREADS,), [x, gy, mean, invstd, part] + geometry)
    ggamma = cupy.empty(c, dtype=x.dtype)
    gbeta = cupy.empty(c, dtype=x.dtype)
    cu("batchnorm.cu", "fastnn_bn_bwd_apply", x.dtype)(
        grid, (_THREADS,), [x, gy, gamma, mean, invstd, part] + geometry + [np.int32(train), gx, ggamma, gbeta])
    return gx, ggamma, gbeta


def batchnorm_bwd_train(x, gamma, mean, invstd, gy):
    return _backward(x, gamma, mean, invstd, gy, 1)


def batchnorm_bwd_eval(x, gamma, running_mean, running_var, eps, gy):
    invstd = 1 / cupy.sqrt(running_var + x.dtype.type(eps))
    return _backward(x, gamma, running_mean, invstd, gy, 0)


def channel_sum(a):
    """Sum of a (N, C, L...) array over every axis but 1, deterministically (two launches)."""
    grid, geometry = _layout(a.shape, a)
    c = a.shape[1]
    part = cupy.empty((c, grid[0], 2), dtype=np.float64)
    null = np.uintp(0)
    cu("batchnorm.cu", "fastnn_bn_bwd_partial", a.dtype)(grid, (_THREADS,), [null, a, null, null, part] + geometry)
    out = cupy.empty(c, dtype=a.dtype)
    launch(cu("batchnorm.cu", "fastnn_channel_sum_finish", a.dtype), c, [part, np.int32(grid[0]), np.int32(c), out])
    return out
