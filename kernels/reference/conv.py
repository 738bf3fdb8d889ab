"""Convolution kernels via im2col + GEMM (cross-correlation, as every DL library).

For x: (N, C, H, W), w: (F, C, kh, kw), stride (sh, sw), pad (pt, pb, pl, pr):
    OH = (H + pt + pb - kh) // sh + 1,   OW = (W + pl + pr - kw) // sw + 1
    y[n, f, i, j] = b[f] + sum_{c,p,q} w[f, c, p, q] * xpad[n, c, i*sh + p, j*sw + q]
im2col lays out cols[n, (c, p, q), (i, j)] = xpad[n, c, i*sh + p, j*sw + q], so
y[n] = W2 @ cols[n] with W2 = w.reshape(F, C*kh*kw). Backward:
    dW2 = sum_n dy[n] @ cols[n]^T,   db = sum_{n,i,j} dy,   dcols[n] = W2^T @ dy[n]
and col2im sums dcols back onto the input positions each column came from.

With a fused activation (the contract's ``activation``/``alpha``, as in linear_fwd):
    z = conv(x, w) + b,   y = act(z),   dz = act'(z) * dy
and the backward formulas above take dz in place of dy. ``saved`` is what the backward
pass needs of x; here it is cols (a compiled backend keeps its own record).
"""

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..contract import GRAD_FROM_OUTPUT
from .activations import BACKWARD, FORWARD


def output_size(size, k, s, pad_lo, pad_hi):
    return (size + pad_lo + pad_hi - k) // s + 1


def _pad(x, pad, value=0.0):
    pt, pb, pl, pr = pad
    if not any(pad):
        return x
    return np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=value)


def windows(x, kernel, stride, pad, value=0.0):
    """View of shape (N, C, OH, OW, kh, kw): the receptive field of every output cell."""
    kh, kw = kernel
    sh, sw = stride
    n, c, h, w = x.shape
    oh = output_size(h, kh, sh, pad[0], pad[1])
    ow = output_size(w, kw, sw, pad[2], pad[3])
    view = sliding_window_view(_pad(x, pad, value), (kh, kw), axis=(2, 3))
    return view[:, :, : (oh - 1) * sh + 1 : sh, : (ow - 1) * sw + 1 : sw]


def im2col(x, kernel, stride, pad):
    n, c = x.shape[:2]
    win = windows(x, kernel, stride, pad)  # (N, C, OH, OW, kh, kw)
    oh, ow = win.shape[2:4]
    return np.ascontiguousarray(win.transpose(0, 1, 4, 5, 2, 3)).reshape(n, c * kernel[0] * kernel[1], oh * ow)


def scatter_windows(contrib, x_shape, kernel, stride, pad):
    """Sum per-window contributions (N, C, kh, kw, OH, OW) back onto the (unpadded) input.

    Loops over the kh*kw kernel offsets only; each step is one vectorised
    strided add over all elements."""
    n, c, h, w = x_shape
    kh, kw = kernel
    sh, sw = stride
    pt, pb, pl, pr = pad
    oh, ow = contrib.shape[4:6]
    out = np.zeros((n, c, h + pt + pb, w + pl + pr), dtype=contrib.dtype)
    for p in range(kh):
        for q in range(kw):
            out[:, :, p : p + sh * oh : sh, q : q + sw * ow : sw] += contrib[:, :, p, q]
    return out[:, :, pt : pt + h, pl : pl + w]


def col2im(cols, x_shape, kernel, stride, pad):
    n, c, h, w = x_shape
    kh, kw = kernel
    oh = output_size(h, kh, stride[0], pad[0], pad[1])
    ow = output_size(w, kw, stride[1], pad[2], pad[3])
    contrib = cols.reshape(n, c, kh, kw, oh, ow)
    return np.ascontiguousarray(scatter_windows(contrib, x_shape, kernel, stride, pad))


def conv2d_fwd(x, w, b, stride, pad, activation, alpha):
    n = x.shape[0]
    f, c, kh, kw = w.shape
    oh = output_size(x.shape[2], kh, stride[0], pad[0], pad[1])
    ow = output_size(x.shape[3], kw, stride[1], pad[2], pad[3])
    cols = im2col(x, (kh, kw), stride, pad)
    y = np.matmul(w.reshape(f, c * kh * kw), cols)  # (N, F, OH*OW); no -1: f may be 0
    if b is not None:
        y += b[:, None]
    z = y.reshape(n, f, oh, ow)
    if activation is None:
        return z, None, cols
    return FORWARD[activation](z, alpha), (None if activation in GRAD_FROM_OUTPUT else z), cols


def conv2d_bwd(x_shape, w, saved, z, y, gy, stride, pad, activation, alpha, need_gx, need_gw, need_gb):
    n, f, oh, ow = gy.shape
    if activation is not None:
        gy = BACKWARD[activation](z, y, gy, alpha)
    gy2 = gy.reshape(n, f, oh * ow)
    w2 = w.reshape(f, math.prod(w.shape[1:]))
    gw = np.tensordot(gy2, saved, axes=([0, 2], [0, 2])).reshape(w.shape) if need_gw else None
    gb = gy2.sum(axis=(0, 2)) if need_gb else None
    gx = None
    if need_gx:
        gcols = np.matmul(w2.T, gy2)  # (N, C*kh*kw, OH*OW)
        gx = col2im(gcols, x_shape, w.shape[2:], stride, pad)
    return gx, gw, gb
