"""Convolution through im2col + cuBLAS GEMM (formulas: kernels/reference/conv.py).

im2col and col2im are gather kernels (conv.cu): one thread per output element, no
atomics. The GEMMs are strided-batched cuBLAS calls (_blas.py; transposes as operation flags, no copies); the bias is added
by one elementwise launch; its gradient is a deterministic two-launch channel sum.
A 1x1 convolution with stride 1 and no padding skips im2col (cols is x itself).
A fused activation runs as the activation's own elementwise kernel after the bias
(activations.py), and its gradient before the GEMMs of the backward pass.
"""

from ._lazy import cupy

from ..contract import GRAD_FROM_OUTPUT
from . import activations, sources
from ._blas import gemm, gemm_batched
from ._rt import cu, elementwise, launch, ones
from .batchnorm import channel_sum


def _out(size, k, s, lo, hi):
    return (size + lo + hi - k) // s + 1


def _geometry(x_shape, kernel, stride, pad):
    n, c, h, w = x_shape
    kh, kw = kernel
    oh = _out(h, kh, stride[0], pad[0], pad[1])
    ow = _out(w, kw, stride[1], pad[2], pad[3])
    return n, c, h, w, kh, kw, oh, ow


def _args(x_shape, kernel, stride, pad):
    n, c, h, w, kh, kw, oh, ow = _geometry(x_shape, kernel, stride, pad)
    return [cupy.int32(v) for v in (c, h, w, kh, kw, stride[0], stride[1], pad[0], pad[2], oh, ow)]


def im2col(x, kernel, stride, pad):
    n, c, h, w, kh, kw, oh, ow = _geometry(x.shape, kernel, stride, pad)
    cols = cupy.empty((n, c * kh * kw, oh * ow), dtype=x.dtype)
    total = cols.size
    if total:
        launch(cu("conv.cu", "fastnn_im2col", x.dtype), total,
               [x, cols, cupy.int64(total)] + _args(x.shape, kernel, stride, pad))
    return cols


def col2im(cols, x_shape, kernel, stride, pad):
    x = cupy.empty(tuple(x_shape), dtype=cols.dtype)
    total = x.size
    if total:
        launch(cu("conv.cu", "fastnn_col2im", cols.dtype), total,
               [cols, x, cupy.int64(total)] + _args(x_shape, kernel, stride, pad))
    return x


def _pointwise(kernel, stride, pad):
    return tuple(kernel) == (1, 1) and tuple(stride) == (1, 1) and not any(pad)


def conv2d_fwd(x, w, b, stride, pad, activation, alpha):
    f = w.shape[0]
    n, c, h, wd, kh, kw, oh, ow = _geometry(x.shape, w.shape[2:], stride, pad)
    if _pointwise((kh, kw), stride, pad):
        cols = x.reshape(n, c, h * wd)
    else:
        cols = im2col(x, (kh, kw), stride, pad)
    k, L = cols.shape[1], cols.shape[2]
    y = gemm_batched(w.reshape(f, k), cols, False, False, n, 0, k * L)  # (N, F, OH*OW), one cuBLAS call
    if b is not None and y.size:
        if y.size < 2**31:
            lmagic, lshift = sources.magic_div(oh * ow)
            cmagic, cshift = sources.magic_div(f)
            elementwise("fastnn_bias_channel", y.dtype)(y.size, b, f, lmagic, lshift, cmagic, cshift, y)
        else:
            y += b[:, None]
    z = y.reshape(n, f, oh, ow)
    if activation is None:
        return z, None, cols
    out = getattr(activations, f"{activation}_fwd")(z, alpha)
    return out, (None if activation in GRAD_FROM_OUTPUT else z), cols


def conv2d_bwd(x_shape, w, saved, z, y, gy, stride, pad, activation, alpha, need_gx, need_gw, need_gb):
    n, f, oh, ow = gy.shape
    cols = saved                     # this backend's record of x is its im2col matrix
    if activation is not None:
        gy = getattr(activations, f"{activation}_bwd")(z, y, gy, alpha)
    gy2 = gy.reshape(n, f, oh * ow)
    w2 = w.reshape(f, -1)
    k, L = cols.shape[1], cols.shape[2]
    gw = None
    if need_gw:  # gw = sum_n gy[n] @ cols[n]^T: a batched GEMM, then the sum over n as a GEMV
        per_sample = gemm_batched(gy2, cols, False, True, n, f * L, k * L).reshape(n, f * k)
        gw = gemm(ones(n, gy.dtype).reshape(1, n), per_sample).reshape(w.shape)
    gb = channel_sum(gy2) if need_gb else None
    gx = None
    if need_gx:
        gcols = gemm_batched(w2, gy2, True, False, n, 0, f * L)  # (N, C*kh*kw, OH*OW)
        if _pointwise(w.shape[2:], stride, pad):
            gx = gcols.reshape(tuple(x_shape))
        else:
            gx = col2im(gcols, x_shape, w.shape[2:], stride, pad)
    return gx, gw, gb
