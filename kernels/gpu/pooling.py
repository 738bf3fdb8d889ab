"""Max and average pooling (formulas: kernels/reference/pooling.py; CUDA: pooling.cu).
Forward: one thread per output; backward: a gather, one thread per input element."""

from ._lazy import cupy
import numpy as np

from ._rt import cu, launch


def _out(size, k, s, lo, hi):
    return (size + lo + hi - k) // s + 1


def _geometry(x_shape, kernel, stride, pad):
    n, c, h, w = x_shape
    oh = _out(h, kernel[0], stride[0], pad[0], pad[1])
    ow = _out(w, kernel[1], stride[1], pad[2], pad[3])
    args = [np.int32(v) for v in (h, w, kernel[0], kernel[1], stride[0], stride[1], pad[0], pad[2], oh, ow)]
    return (n, c, oh, ow), args


def max_pool2d_fwd(x, kernel, stride, pad):
    shape, args = _geometry(x.shape, kernel, stride, pad)
    y = cupy.empty(shape, dtype=x.dtype)
    argmax = cupy.empty(shape, dtype=np.int64)
    if y.size:
        launch(cu("pooling.cu", "fastnn_max_pool_fwd", x.dtype), y.size, [x, y, argmax, np.int64(y.size)] + args)
    return y, argmax


def max_pool2d_bwd(gy, argmax, x_shape, kernel, stride, pad):
    _, args = _geometry(x_shape, kernel, stride, pad)
    gx = cupy.empty(tuple(x_shape), dtype=gy.dtype)
    if gx.size:
        launch(cu("pooling.cu", "fastnn_max_pool_bwd", gy.dtype), gx.size,
               [gy, argmax, gx, np.int64(gx.size)] + args)
    return gx


def avg_pool2d_fwd(x, kernel, stride, pad, count_include_pad):
    shape, args = _geometry(x.shape, kernel, stride, pad)
    y = cupy.empty(shape, dtype=x.dtype)
    if y.size:
        launch(cu("pooling.cu", "fastnn_avg_pool_fwd", x.dtype), y.size,
               [x, y, np.int64(y.size)] + args + [np.int32(bool(count_include_pad))])
    return y


def avg_pool2d_bwd(gy, x_shape, kernel, stride, pad, count_include_pad):
    _, args = _geometry(x_shape, kernel, stride, pad)
    gx = cupy.empty(tuple(x_shape), dtype=gy.dtype)
    if gx.size:
        launch(cu("pooling.cu", "fastnn_avg_pool_bwd", gy.dtype), gx.size,
               [gy, gx, np.int64(gx.size)] + args + [np.int32(bool(count_include_pad))])
    return gx
