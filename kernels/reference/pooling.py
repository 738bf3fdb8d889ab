"""Pooling kernels over NCHW windows (see conv.py for the window geometry).

max:  y[n,c,i,j] = max_{p,q} xpad[n,c,i*sh+p,j*sw+q]   (padding is -inf)
      argmax keeps the window offset p*kw+q of the first maximum; the gradient
      flows to that one input: dx[...] = sum of dy over the windows whose argmax is it.
avg:  y[n,c,i,j] = sum_{p,q} xpad[...] / d,  d = kh*kw (count_include_pad) or the
      number of window cells inside the unpadded input;  dx = sum over windows of dy / d.
"""

import numpy as np

from .conv import scatter_windows, windows


def max_pool2d_fwd(x, kernel, stride, pad):
    win = windows(x, kernel, stride, pad, value=-np.inf)
    n, c, oh, ow = win.shape[:4]
    flat = win.reshape(n, c, oh, ow, kernel[0] * kernel[1])   # -1 cannot be inferred for an empty batch
    argmax = flat.argmax(axis=-1)
    y = np.take_along_axis(flat, argmax[..., None], axis=-1)[..., 0]
    return np.ascontiguousarray(y), argmax.astype(np.int64)


def max_pool2d_bwd(gy, argmax, x_shape, kernel, stride, pad):
    kh, kw = kernel
    offsets = np.arange(kh * kw).reshape(1, 1, kh, kw, 1, 1)
    hit = argmax[:, :, None, None] == offsets  # (N, C, kh, kw, OH, OW)
    contrib = np.where(hit, gy[:, :, None, None], 0).astype(gy.dtype)
    return np.ascontiguousarray(scatter_windows(contrib, x_shape, kernel, stride, pad))


def _divisor(x_shape, kernel, stride, pad, count_include_pad, dtype):
    if count_include_pad:
        return dtype.type(kernel[0] * kernel[1])
    ones = np.ones((1, 1) + tuple(x_shape[2:]), dtype=dtype)
    return windows(ones, kernel, stride, pad).sum(axis=(-1, -2))  # (1, 1, OH, OW)


def avg_pool2d_fwd(x, kernel, stride, pad, count_include_pad):
    win = windows(x, kernel, stride, pad)
    y = win.sum(axis=(-1, -2)) / _divisor(x.shape, kernel, stride, pad, count_include_pad, x.dtype)
    return np.ascontiguousarray(y.astype(x.dtype, copy=False))


def avg_pool2d_bwd(gy, x_shape, kernel, stride, pad, count_include_pad):
    kh, kw = kernel
    share = gy / _divisor(x_shape, kernel, stride, pad, count_include_pad, gy.dtype)
    contrib = np.broadcast_to(share[:, :, None, None], share.shape[:2] + (kh, kw) + share.shape[2:])
    return np.ascontiguousarray(scatter_windows(contrib, x_shape, kernel, stride, pad))
