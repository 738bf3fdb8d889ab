"""Direct convolution for few input channels (first layers), Numba, no GEMM.

For x: (N, C, H, W), w: (F, C, kh, kw), stride (sh, sw), the zero-padded input xp and
OH, OW as in kernels/reference/conv.py:

    z[n, f, i, j] = b[f] + sum_{c, p, q} w[f, c, p, q] xp[n, c, i*sh + p, j*sw + q],   y = act(z)
    gz = act'(z) * gy,   gb[f] = sum_{n, i, j} gz[n, f, i, j]
    gw[f, c, p, q] = sum_{n, i, j} gz[n, f, i, j] xp[n, c, i*sh + p, j*sw + q]
    gxp[n, c, i*sh + p, j*sw + q] += gz[n, f, i, j] w[f, c, p, q],   gx = gxp cropped

With C*kh*kw of 9 to 75, im2col + GEMM gives BLAS a product whose inner dimension is
too short to run well, after a copy of the input kh*kw times over; here every weight
is one scalar times one shifted row of the image, added into an output row held in
L1. Forward and input gradient are parallel over (image, filter) and (image, channel)
planes, each iteration writing its own plane; the filter gradient is parallel over
(filter, channel) pairs, each summing its own kh*kw taps over the whole batch.

Measured (conv.choose_algorithm): its forward pass beats im2col on first layers by
10-25 %, its filter gradient loses to im2col's one GEMM by more, so the rule does not
pick it for training; FASTNN_CONV_ALGORITHM=direct forces it.
"""

from __future__ import annotations

import numpy as np

from ._jit import dual, jit, prange
from ._windows import U
from .activations import epilogue_run, grad_run


@jit
def _row_axpy(coef, src, s0, step, dst, d0, count):
    """dst[d0 + j] += coef * src[s0 + j*step] for j < count (step 1: contiguous)."""
    s, d = U(s0), U(d0)
    if step == 1:
        for j in range(U(count)):
            dst[d + j] += coef * src[s + j]
    else:
        st = U(step)
        for j in range(U(count)):
            dst[d + j] += coef * src[s + j * st]


@dual
def _pad_planes(x, xp, planes, h, w, hp, wp, pt, pl):
    """xp[plane] = x[plane] with pt rows / pl columns of zeros before it (and zeros after)."""
    for pc in prange(planes):
        base = pc * hp * wp
        for k in range(U(base), U(base + hp * wp)):
            xp[k] = 0
        for i in range(h):
            src = U(pc * h * w + i * w)
            dst = U(base + (i + pt) * wp + pl)
            for j in range(U(w)):
                xp[dst + j] = x[src + j]


@dual
def _forward(xp, wt, b, y, z, tag, alpha, n, f, c, hp, wp, kh, kw, sh, sw, oh, ow, has_bias, keep_z):
    # At stride 1 the accumulator has the padded input's row pitch, so each weight is one
    # contiguous axpy over the whole plane (OH*Wp values, the columns beyond OW are
    # never read) instead of OH row-long ones: loops of a few dozen values cost more to
    # start than to run (conv 1->32 on 28x28, batch 64: 5.2 ms row by row).
    pitch = wp if sw == 1 else ow
    for nf in prange(n * f):
        img = nf // f
        ff = nf - img * f
        acc = np.zeros(oh * pitch, dtype=y.dtype)
        for ch in range(c):
            plane = (img * c + ch) * hp * wp
            for p in range(kh):
                for q in range(kw):
                    coef = wt[((ff * c + ch) * kh + p) * kw + q]
                    if sw == 1 and sh == 1:
                        _row_axpy(coef, xp, plane + p * wp + q, 1, acc, 0, (oh - 1) * wp + ow)
                    else:
                        for i in range(oh):
                            _row_axpy(coef, xp, plane + (i * sh + p) * wp + q, sw, acc, i * pitch, ow)
        bias = b[ff] if has_bias else b[0] * 0
        out = U(nf * oh * ow)
        for i in range(oh):
            epilogue_run(acc, i * pitch, bias, y, z, out + U(i * ow), ow, tag, alpha, keep_z)


@dual
def _grad_z(gy, zz, y, gz, partial, tag, alpha, n, f, oh, ow, pitch):
    """gz = act'(z) gy (rows of ``pitch`` values, zeros beyond OW), and partial[img, ff] =
    the plane's sum of gz."""
    for nf in prange(n * f):
        src = U(nf * oh * ow)
        dst = U(nf * oh * pitch)
        s = 0.0
        for i in range(oh):
            s += grad_run(gy, zz, y, src + U(i * ow), gz, dst + U(i * pitch), ow, tag, alpha)
            for j in range(U(ow), U(pitch)):
                gz[dst + U(i * pitch) + j] = 0
        img = nf // f
        partial[img, nf - img * f] = s


@dual
def _grad_w(gz, xp, gw, n, f, c, hp, wp, kh, kw, sh, sw, oh, ow):
    """gw[ff, ch, p, q] = sum_{img, i, j} gz[img, ff, i, j] xp[img, ch, i*sh + p, j*sw + q].

    At stride 1, gz arrives with the padded input's row pitch (zeros beyond OW), so each
    tap is one dot product over the whole plane."""
    taps = kh * kw
    unit = sh == 1 and sw == 1
    span_ = (oh - 1) * wp + ow
    for fc in prange(f * c):
        ff = fc // c
        ch = fc - ff * c
        acc = np.zeros(taps, dtype=np.float64)
        for img in range(n):
            plane = (img * c + ch) * hp * wp
            if unit:
                g0 = U((img * f + ff) * oh * wp)
                for p in range(kh):
                    for q in range(kw):
                        s0 = U(plane + p * wp + q)
                        s = 0.0
                        for j in range(U(span_)):
                            s += gz[g0 + j] * xp[s0 + j]
                        acc[p * kw + q] += s
            else:
                grow = (img * f + ff) * oh * ow
                for i in range(oh):
                    g0 = U(grow + i * ow)
                    for p in range(kh):
                        for q in range(kw):
                            s0 = U(plane + (i * sh + p) * wp + q)
                            st = U(sw)
                            s = 0.0
                            for j in range(U(ow)):
                                s += gz[g0 + j] * xp[s0 + j * st]
                            acc[p * kw + q] += s
        for t in range(taps):
            gw[fc * taps + t] = acc[t]


@dual
def _grad_x(gz, wt, gx, n, f, c, h, w, kh, kw, sh, sw, pt, pl, oh, ow, gpitch):
    """gx[img, ch] = the (image, channel) plane of sum_f gz[img, f] (*) w[f, ch], cropped.
    Each iteration accumulates its own padded plane, then copies out the image part; at
    stride 1 each weight is one contiguous axpy over the plane (gz rows of ``gpitch``
    values, zeros beyond OW, the padded plane's pitch)."""
    hp = max((oh - 1) * sh + kh, h + pt)
    pitch = max((ow - 1) * sw + kw, w + pl)
    unit = sh == 1 and sw == 1
    for nc in prange(n * c):
        img = nc // c
        ch = nc - img * c
        acc = np.zeros(hp * pitch, dtype=gx.dtype)
        for ff in range(f):
            coef0 = ((ff * c + ch) * kh) * kw
            if unit:
                g0 = (img * f + ff) * oh * gpitch
                for p in range(kh):
                    for q in range(kw):
                        _row_axpy(wt[coef0 + p * kw + q], gz, g0, 1, acc, p * pitch + q, (oh - 1) * gpitch + ow)
            else:
                grow = (img * f + ff) * oh * ow
                for p in range(kh):
                    for q in range(kw):
                        coef = wt[coef0 + p * kw + q]
                        for i in range(oh):
                            dst = U((i * sh + p) * pitch + q)
                            src = U(grow + i * ow)
                            st = U(sw)
                            for j in range(U(ow)):
                                acc[dst + j * st] += coef * gz[src + j]
        out = U(nc * h * w)
        for i in range(h):
            src = U((i + pt) * pitch + pl)
            dst = out + U(i * w)
            for j in range(U(w)):
                gx[dst + j] = acc[src + j]


def padded(x, kernel, stride, pad):
    """The zero-padded input (N, C, Hp, Wp) that the windows read (Hp covers every window)."""
    n, c, h, w = x.shape
    kh, kw = kernel
    sh, sw = stride
    pt, pb, pl, pr = pad
    oh = (h + pt + pb - kh) // sh + 1
    ow = (w + pl + pr - kw) // sw + 1
    hp = max((oh - 1) * sh + kh, pt + h)
    wp = max((ow - 1) * sw + kw, pl + w)
    xp = np.empty((n, c, hp, wp), dtype=x.dtype)
    _pad_planes(xp.size, x.reshape(-1), xp.reshape(-1), n * c, h, w, hp, wp, pt, pl)
    return xp, oh, ow


def forward(x, w, b, stride, pad, tag, alpha, keep_z):
    """(y, z, xp): the fused convolution; xp, the padded input, is kept for the gradients."""
    n, c = x.shape[:2]
    f, _, kh, kw = w.shape
    xp, oh, ow = padded(x, (kh, kw), stride, pad)
    y = np.empty((n, f, oh, ow), dtype=x.dtype)
    z = np.empty_like(y) if keep_z else y
    bias = b if b is not None else np.zeros(1, dtype=x.dtype)
    _forward(y.size * c * kh * kw, xp.reshape(-1), w.reshape(-1), bias, y.reshape(-1), z.reshape(-1), tag, alpha,
             n, f, c, xp.shape[2], xp.shape[3], kh, kw, stride[0], stride[1], oh, ow, b is not None, keep_z)
    return y, (z if keep_z else None), xp


def backward(x_shape, w, xp, z, y, gy, stride, pad, tag, alpha, need_gx, need_gw, need_gb, workspace):
    n, c, h, wd = x_shape
    f, _, kh, kw = w.shape
    oh, ow = gy.shape[2:]
    unit = tuple(stride) == (1, 1)
    pitch = xp.shape[3] if unit else ow
    gz = workspace("direct_gz", (n, f, oh, pitch), gy.dtype)
    partial = np.zeros((n, f), dtype=np.float64)
    zz = y if z is None else z
    _grad_z(gy.size, gy.reshape(-1), zz.reshape(-1), y.reshape(-1), gz.reshape(-1), partial, tag, alpha,
            n, f, oh, ow, pitch)
    gb = partial.sum(axis=0).astype(gy.dtype) if need_gb else None
    gw = gx = None
    if need_gw:
        gw = np.empty(w.shape, dtype=gy.dtype)
        _grad_w(gy.size * c * kh * kw, gz.reshape(-1), xp.reshape(-1), gw.reshape(-1), n, f, c,
                xp.shape[2], xp.shape[3], kh, kw, stride[0], stride[1], oh, ow)
    if need_gx:
        if not unit:
            gz = np.ascontiguousarray(gz)      # already (N, F, OH, OW)
        gx = np.empty(x_shape, dtype=gy.dtype)
        _grad_x(gy.size * c * kh * kw, gz.reshape(-1), w.reshape(-1), gx.reshape(-1), n, f, c, h, wd, kh, kw,
                stride[0], stride[1], pad[0], pad[2], oh, ow, pitch)
    return gx, gw, gb
