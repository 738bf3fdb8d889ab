"""Direct convolution for few input channels (first layers), Numba, no GEMM.

For x: (N, C, H, W), w: (F, C, kh, kw), stride (sh, sw), the zero-padded input xp and
OH, OW as in kernels/reference/conv.py:

    z[n, f, i, j] = b[f] + sum_{c, p, q} w[f, c, p, q] xp[n, c, i*sh + p, j*sw + q],   y = act(z)
    gz = act'(z) * gy,   gb[f] = sum_{n, i, j} gz[n, f, i, j]
    gw[f, c, p, q] = sum_{n, i, j} gz[n, f, i, j] xp[n, c, i*sh + p, j*sw + q]
    gxp[n, c, i*sh + p, j*sw + q] += gz[n, f, i, j] w[f, c, p, q],   gx = gxp cropped

With C*kh*kw of 9 to 75, im2col + GEMM gives BLAS a product whose inner dimension is
too short to run well, after a copy of the input kh*kw times over; here each kernel
row's kw weights are kw scalars times kw shifted rows of the image, summed into an
output plane held in L1 (one pass per kernel row and channel, the first one starting
from the bias; a 3x3 kernel's three rows in one pass; two filters per pass for 3x3 and
5x5 kernels, so each value loaded feeds both). At stride 1 the plane has the padded
input's row pitch, so every pass is one long vectorised loop; the fused epilogue then
writes the OW real columns of each row. The epilogue, called once per row, is inlined
(``activations.epilogue_run``, ``jit(inline=True)``): as a call, the reference counting
of its array arguments cost more than the work on a 28-value row. The helpers called
once per pass over a plane stay calls: inlined they measured no faster and the module
took 30 % longer to compile.

The filter gradient is the mirror image: per (image, filter) plane, gz = act'(z) gy is
laid out with the same pitch in L1 (zeros beyond OW), and each kernel row's kw taps are
kw dot products in one loop over the plane, the bias sum on the way. Forward and filter
gradient are parallel over images (per-image partial sums for the gradients, added up by
the caller); the input gradient over (image, channel) planes, each iteration writing its
own plane.

When conv.choose_algorithm picks it is measured there (first layers, stride 1).
"""

from __future__ import annotations

import numpy as np

from ._jit import dual, jit, prange
from ._workspace import recycled
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


# One kernel row's kw taps over ``count`` values: acc[a + j] (+)= sum_q w[wo + q] xp[s + q + j].
# The shifted sources get their own unsigned base each (s + q as one value): written as
# xp[s + j + q], LLVM could not rule out the index wrapping, kept the loop scalar, and the
# 1->32 3x3 forward took 2.3 ms instead of 0.4 (serial, taps alone).
@jit
def _taps3(first, bias, xp, s, w, wo, acc, count):
    s0, s1, s2 = U(s), U(s + 1), U(s + 2)
    w0, w1, w2 = w[wo], w[wo + 1], w[wo + 2]
    if first:
        for j in range(U(count)):
            acc[j] = bias + w0 * xp[s0 + j] + w1 * xp[s1 + j] + w2 * xp[s2 + j]
    else:
        for j in range(U(count)):
            acc[j] += w0 * xp[s0 + j] + w1 * xp[s1 + j] + w2 * xp[s2 + j]


@jit
def _taps5(first, bias, xp, s, w, wo, acc, count):
    s0, s1, s2, s3, s4 = U(s), U(s + 1), U(s + 2), U(s + 3), U(s + 4)
    w0, w1, w2, w3, w4 = w[wo], w[wo + 1], w[wo + 2], w[wo + 3], w[wo + 4]
    if first:
        for j in range(U(count)):
            acc[j] = bias + w0 * xp[s0 + j] + w1 * xp[s1 + j] + w2 * xp[s2 + j] + w3 * xp[s3 + j] + w4 * xp[s4 + j]
    else:
        for j in range(U(count)):
            acc[j] += w0 * xp[s0 + j] + w1 * xp[s1 + j] + w2 * xp[s2 + j] + w3 * xp[s3 + j] + w4 * xp[s4 + j]


@jit
def _window_starts(s, wp):
    """The unsigned starts of a 3x3 window's nine shifted sources, row by row (s: the
    window's top-left source, wp: the row pitch)."""
    r0, r1, r2 = U(s), U(s + wp), U(s + 2 * wp)
    return r0, r0 + U(1), r0 + U(2), r1, r1 + U(1), r1 + U(2), r2, r2 + U(1), r2 + U(2)


@jit
def _nine(w, o):
    """w[o:o + 9] as nine scalars (a 3x3 filter's weights, held in registers)."""
    return w[o], w[o + 1], w[o + 2], w[o + 3], w[o + 4], w[o + 5], w[o + 6], w[o + 7], w[o + 8]


# A whole 3x3 window in one pass over the plane (stride 1): the plane is loaded and
# stored once per channel instead of once per kernel row, and the nine products of a
# value are summed in registers (s: the window's top-left source, wp: the row pitch).
# Measured against three _taps3 passes (forward alone, float32, ms): 1->32 on 28x28
# batch 64 0.66 -> 0.58, 3->32 on 32x32 batch 64 1.75 -> 1.43. The same for 5x5 (25
# products, 25 weights held in registers) ran 30-40 % slower than five _taps5 passes.
@jit
def _window3x3(first, bias, xp, s, wp, w, wo, acc, count):
    a0, a1, a2, b0, b1, b2, c0, c1, c2 = _window_starts(s, wp)
    w0, w1, w2, w3, w4, w5, w6, w7, w8 = _nine(w, wo)
    for j in range(U(count)):
        v = (w0 * xp[a0 + j] + w1 * xp[a1 + j] + w2 * xp[a2 + j]
             + w3 * xp[b0 + j] + w4 * xp[b1 + j] + w5 * xp[b2 + j]
             + w6 * xp[c0 + j] + w7 * xp[c1 + j] + w8 * xp[c2 + j])
        if first:
            acc[j] = bias + v
        else:
            acc[j] += v


# Two filters in one pass (the second's weights at wo + wstep, its plane at acc[plane:]):
# each input value loaded feeds two multiply-adds, where one filter at a time spent a
# load on each (loads, not multiply-adds, bounded the one-filter pass).
@jit
def _window3x3x2(first, bias0, bias1, xp, s, wp, w, wo, wstep, acc, plane, count):
    a0, a1, a2, b0, b1, b2, c0, c1, c2 = _window_starts(s, wp)
    u0, u1, u2, u3, u4, u5, u6, u7, u8 = _nine(w, wo)
    v0, v1, v2, v3, v4, v5, v6, v7, v8 = _nine(w, wo + wstep)
    second = U(plane)
    for j in range(U(count)):
        xa0, xa1, xa2 = xp[a0 + j], xp[a1 + j], xp[a2 + j]
        xb0, xb1, xb2 = xp[b0 + j], xp[b1 + j], xp[b2 + j]
        xc0, xc1, xc2 = xp[c0 + j], xp[c1 + j], xp[c2 + j]
        t = (u0 * xa0 + u1 * xa1 + u2 * xa2 + u3 * xb0 + u4 * xb1 + u5 * xb2
             + u6 * xc0 + u7 * xc1 + u8 * xc2)
        t2 = (v0 * xa0 + v1 * xa1 + v2 * xa2 + v3 * xb0 + v4 * xb1 + v5 * xb2
              + v6 * xc0 + v7 * xc1 + v8 * xc2)
        if first:
            acc[j] = bias0 + t
            acc[second + j] = bias1 + t2
        else:
            acc[j] += t
            acc[second + j] += t2


@jit
def _taps5x2(first, bias0, bias1, xp, s, w, wo, wstep, acc, plane, count):
    s0, s1, s2, s3, s4 = U(s), U(s + 1), U(s + 2), U(s + 3), U(s + 4)
    u0, u1, u2, u3, u4 = w[wo], w[wo + 1], w[wo + 2], w[wo + 3], w[wo + 4]
    vo = wo + wstep
    v0, v1, v2, v3, v4 = w[vo], w[vo + 1], w[vo + 2], w[vo + 3], w[vo + 4]
    second = U(plane)
    if first:
        for j in range(U(count)):
            x0, x1, x2, x3, x4 = xp[s0 + j], xp[s1 + j], xp[s2 + j], xp[s3 + j], xp[s4 + j]
            acc[j] = bias0 + u0 * x0 + u1 * x1 + u2 * x2 + u3 * x3 + u4 * x4
            acc[second + j] = bias1 + v0 * x0 + v1 * x1 + v2 * x2 + v3 * x3 + v4 * x4
    else:
        for j in range(U(count)):
            x0, x1, x2, x3, x4 = xp[s0 + j], xp[s1 + j], xp[s2 + j], xp[s3 + j], xp[s4 + j]
            acc[j] += u0 * x0 + u1 * x1 + u2 * x2 + u3 * x3 + u4 * x4
            acc[second + j] += v0 * x0 + v1 * x1 + v2 * x2 + v3 * x3 + v4 * x4


@jit
def _taps(first, bias, xp, s, w, wo, acc, count, kw):
    if kw == 3:
        _taps3(first, bias, xp, s, w, wo, acc, count)
    elif kw == 5:
        _taps5(first, bias, xp, s, w, wo, acc, count)
    else:
        if first:
            for j in range(U(count)):
                acc[j] = bias
        for q in range(kw):
            _row_axpy(w[wo + q], xp, s + q, 1, acc, 0, count)


# The filter gradient's mirror image: out[o + q] += sum_j g[gs + j] xp[s + q + j], q < kw,
# all kw dot products in one pass over g (one load of g per kw multiply-adds).
@jit
def _dots3(g, gs, xp, s, out, o, count, zero):
    g0, s0, s1, s2 = U(gs), U(s), U(s + 1), U(s + 2)
    a0 = a1 = a2 = zero
    for j in range(U(count)):
        v = g[g0 + j]
        a0 += v * xp[s0 + j]
        a1 += v * xp[s1 + j]
        a2 += v * xp[s2 + j]
    out[o] += a0
    out[o + 1] += a1
    out[o + 2] += a2


@jit
def _dots5(g, gs, xp, s, out, o, count, zero):
    g0, s0, s1, s2, s3, s4 = U(gs), U(s), U(s + 1), U(s + 2), U(s + 3), U(s + 4)
    a0 = a1 = a2 = a3 = a4 = zero
    for j in range(U(count)):
        v = g[g0 + j]
        a0 += v * xp[s0 + j]
        a1 += v * xp[s1 + j]
        a2 += v * xp[s2 + j]
        a3 += v * xp[s3 + j]
        a4 += v * xp[s4 + j]
    out[o] += a0
    out[o + 1] += a1
    out[o + 2] += a2
    out[o + 3] += a3
    out[o + 4] += a4


@jit
def _dots(g, gs, xp, s, out, o, count, kw, zero):
    if kw == 3:
        _dots3(g, gs, xp, s, out, o, count, zero)
    elif kw == 5:
        _dots5(g, gs, xp, s, out, o, count, zero)
    else:
        g0 = U(gs)
        for q in range(kw):
            sq = U(s + q)
            a = zero
            for j in range(U(count)):
                a += g[g0 + j] * xp[sq + j]
            out[o + q] += a


@jit
def _dots3x4(g, gs, gstride, xp, s, out, o, ostride, count, zero):
    # Four filters' planes (gstride apart) against one kernel row's 3 taps: 12 independent
    # sums, 7 loads per 12 multiply-adds. One filter at a time, the 3 dependent chains
    # of _dots3 left the FMA units idle waiting on each other (0.5 FMA a cycle measured).
    g0, g1, g2, g3 = U(gs), U(gs + gstride), U(gs + 2 * gstride), U(gs + 3 * gstride)
    s0, s1, s2 = U(s), U(s + 1), U(s + 2)
    a00 = a01 = a02 = a10 = a11 = a12 = a20 = a21 = a22 = a30 = a31 = a32 = zero
    for j in range(U(count)):
        x0, x1, x2 = xp[s0 + j], xp[s1 + j], xp[s2 + j]
        v = g[g0 + j]
        a00 += v * x0
        a01 += v * x1
        a02 += v * x2
        v = g[g1 + j]
        a10 += v * x0
        a11 += v * x1
        a12 += v * x2
        v = g[g2 + j]
        a20 += v * x0
        a21 += v * x1
        a22 += v * x2
        v = g[g3 + j]
        a30 += v * x0
        a31 += v * x1
        a32 += v * x2
    out[o] += a00
    out[o + 1] += a01
    out[o + 2] += a02
    out[o + ostride] += a10
    out[o + ostride + 1] += a11
    out[o + ostride + 2] += a12
    out[o + 2 * ostride] += a20
    out[o + 2 * ostride + 1] += a21
    out[o + 2 * ostride + 2] += a22
    out[o + 3 * ostride] += a30
    out[o + 3 * ostride + 1] += a31
    out[o + 3 * ostride + 2] += a32


@jit
def _dots5x2(g, gs, gstride, xp, s, out, o, ostride, count, zero):
    # Two filters against one kernel row's 5 taps: 10 independent sums, 7 loads per 10
    # multiply-adds (see _dots3x4).
    g0, g1 = U(gs), U(gs + gstride)
    s0, s1, s2, s3, s4 = U(s), U(s + 1), U(s + 2), U(s + 3), U(s + 4)
    a00 = a01 = a02 = a03 = a04 = a10 = a11 = a12 = a13 = a14 = zero
    for j in range(U(count)):
        x0, x1, x2, x3, x4 = xp[s0 + j], xp[s1 + j], xp[s2 + j], xp[s3 + j], xp[s4 + j]
        v = g[g0 + j]
        a00 += v * x0
        a01 += v * x1
        a02 += v * x2
        a03 += v * x3
        a04 += v * x4
        v = g[g1 + j]
        a10 += v * x0
        a11 += v * x1
        a12 += v * x2
        a13 += v * x3
        a14 += v * x4
    out[o] += a00
    out[o + 1] += a01
    out[o + 2] += a02
    out[o + 3] += a03
    out[o + 4] += a04
    out[o + ostride] += a10
    out[o + ostride + 1] += a11
    out[o + ostride + 2] += a12
    out[o + ostride + 3] += a13
    out[o + ostride + 4] += a14


#: Filters whose planes _dots_block takes at once, per kernel width (see _dots3x4).
_DOT_FILTERS3 = 4
_DOT_FILTERS5 = 2


@jit
def _dots_block(g, gs, gstride, nf, xp, s, out, o, ostride, count, kw, zero):
    """out[o + k*ostride + q] += sum_j g[gs + k*gstride + j] xp[s + q + j] for k < nf
    filters and q < kw taps."""
    k = 0
    if kw == 3:
        while k + _DOT_FILTERS3 <= nf:
            _dots3x4(g, gs + k * gstride, gstride, xp, s, out, o + k * ostride, ostride, count, zero)
            k += _DOT_FILTERS3
    elif kw == 5:
        while k + _DOT_FILTERS5 <= nf:
            _dots5x2(g, gs + k * gstride, gstride, xp, s, out, o + k * ostride, ostride, count, zero)
            k += _DOT_FILTERS5
    for kk in range(k, nf):
        _dots(g, gs + kk * gstride, xp, s, out, o + kk * ostride, count, kw, zero)


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


#: Filters per parallel iteration of the forward pass (one L1 plane reused across them).
_FILTER_BLOCK = 8


@dual
def _forward(xp, wt, b, y, z, tag, alpha, n, f, c, hp, wp, kh, kw, sh, sw, oh, ow, keep_z, zero):
    # b has F entries (zeros without a bias). At stride 1 the plane has the padded input's
    # row pitch, so each kernel row is one pass over OH*Wp values (the columns beyond OW
    # are never read): loops of a few dozen values cost more to start than to run (the
    # 1->32 3x3 forward on 28x28, batch 64, took 5.2 ms row by row). One iteration owns
    # a block of filters of one image and reuses one plane for them.
    unit = sh == 1 and sw == 1
    pitch = wp if unit else ow
    count = (oh - 1) * wp + ow
    blocks = (f + _FILTER_BLOCK - 1) // _FILTER_BLOCK
    pairable = unit and ((kh == 3 and kw == 3) or kw == 5)
    for it in prange(n * blocks):
        img = it // blocks
        f0 = (it - img * blocks) * _FILTER_BLOCK
        f1 = min(f, f0 + _FILTER_BLOCK)
        plane_len = oh * pitch
        acc = np.empty(2 * plane_len, dtype=y.dtype)
        ff = f0
        while ff < f1:
            pair = pairable and ff + 1 < f1
            for ch in range(c):
                plane = (img * c + ch) * hp * wp
                wo = (ff * c + ch) * kh * kw
                if pair and kw == 3:
                    _window3x3x2(ch == 0, b[ff], b[ff + 1], xp, plane, wp, wt, wo, c * kh * kw, acc, plane_len,
                                 count)
                    continue
                if pair:
                    for p in range(kh):
                        _taps5x2(ch == 0 and p == 0, b[ff], b[ff + 1], xp, plane + p * wp, wt, wo + p * kw,
                                 c * kh * kw, acc, plane_len, count)
                    continue
                if unit and kh == 3 and kw == 3:
                    _window3x3(ch == 0, b[ff], xp, plane, wp, wt, wo, acc, count)
                    continue
                for p in range(kh):
                    first = ch == 0 and p == 0
                    if unit:
                        _taps(first, b[ff], xp, plane + p * wp, wt, wo + p * kw, acc, count, kw)
                    else:
                        if first:
                            for k in range(U(plane_len)):
                                acc[k] = b[ff]
                        for q in range(kw):
                            for i in range(oh):
                                _row_axpy(wt[wo + p * kw + q], xp, plane + (i * sh + p) * wp + q, sw, acc,
                                          i * pitch, ow)
            for k in range(2 if pair else 1):
                out = U((img * f + ff + k) * oh * ow)
                for i in range(oh):
                    epilogue_run(acc, k * plane_len + i * pitch, zero, y, z, out + U(i * ow), ow, tag, alpha, keep_z)
            ff += 2 if pair else 1


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
    """gw[ff, ch, p, q] = sum_{img, i, j} gz[img, ff, i, j] xp[img, ch, i*sh + p, j*sw + q],
    for strides other than 1 (stride 1 runs _grad_wb): gz rows of OW values, a dot per
    tap and output row."""
    taps = kh * kw
    for fc in prange(f * c):
        ff = fc // c
        ch = fc - ff * c
        acc = np.zeros(taps, dtype=np.float64)
        for img in range(n):
            plane = (img * c + ch) * hp * wp
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


#: Filters per block of the filter gradient (their gz planes laid out side by side).
_GRAD_FILTER_BLOCK = 4


@dual
def _grad_wb(gy, zz, y, gz, built, xp, part_w, part_b, tag, alpha, n, f, c, hp, wp, kh, kw, oh, ow, zero):
    """Stride 1: part_w[img, (ff, ch, p, q)] = sum_{i, j} gz[img, ff, i, j] xp[img, ch, i + p, j + q]
    and part_b[img, ff] = sum_{i, j} gz[img, ff, i, j], with gz = act'(z) gy.

    gz is either ``built`` already (the pitched planes of _grad_z, when the input gradient
    needs them too) or laid out here, a block of filters' planes at a time, in a buffer of
    the padded input's row pitch whose columns beyond OW stay zero; then each kernel row's
    taps are dot products over whole planes, several filters in one loop (_dots_block)."""
    count = (oh - 1) * wp + ow
    taps = kh * kw
    plane_len = oh * wp
    for img in prange(n):
        part_w[img, :] = 0
        buf = np.zeros(_GRAD_FILTER_BLOCK * plane_len, dtype=gy.dtype)
        for f0 in range(0, f, _GRAD_FILTER_BLOCK):
            nf = min(_GRAD_FILTER_BLOCK, f - f0)
            if built:
                src = gz
                g0 = (img * f + f0) * plane_len
            else:
                src = buf
                g0 = 0
                for k in range(nf):
                    s = 0.0
                    base = U((img * f + f0 + k) * oh * ow)
                    for i in range(oh):
                        s += grad_run(gy, zz, y, base + U(i * ow), buf, k * plane_len + i * wp, ow, tag, alpha)
                    part_b[img, f0 + k] = s
            for ch in range(c):
                plane = (img * c + ch) * hp * wp
                o = (f0 * c + ch) * taps
                for p in range(kh):
                    _dots_block(src, g0, plane_len, nf, xp, plane + p * wp, part_w[img], o + p * kw, c * taps,
                                count, kw, zero)


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
    """The zero-padded input (N, C, Hp, Wp) that the windows read (Hp covers every window);
    a recycled array, as the backward pass keeps it."""
    n, c, h, w = x.shape
    kh, kw = kernel
    sh, sw = stride
    pt, pb, pl, pr = pad
    oh = (h + pt + pb - kh) // sh + 1
    ow = (w + pl + pr - kw) // sw + 1
    hp = max((oh - 1) * sh + kh, pt + h)
    wp = max((ow - 1) * sw + kw, pl + w)
    xp = recycled((n, c, hp, wp), x.dtype)
    _pad_planes(xp.size, x.reshape(-1), xp.reshape(-1), n * c, h, w, hp, wp, pt, pl)
    return xp, oh, ow


def forward(x, w, b, stride, pad, tag, alpha, keep_z):
    """(y, z, xp): the fused convolution; xp, the padded input, is kept for the gradients."""
    n, c = x.shape[:2]
    f, _, kh, kw = w.shape
    xp, oh, ow = padded(x, (kh, kw), stride, pad)
    y = recycled((n, f, oh, ow), x.dtype)
    z = recycled(y.shape, x.dtype) if keep_z else y
    bias = np.zeros(f, dtype=x.dtype) if b is None else b
    _forward(y.size * c * kh * kw, xp.reshape(-1), w.reshape(-1), bias, y.reshape(-1), z.reshape(-1), tag, alpha,
             n, f, c, xp.shape[2], xp.shape[3], kh, kw, stride[0], stride[1], oh, ow, keep_z, x.dtype.type(0))
    return y, (z if keep_z else None), xp


def backward(x_shape, w, xp, z, y, gy, stride, pad, tag, alpha, need_gx, need_gw, need_gb, workspace):
    n, c, h, wd = x_shape
    f, _, kh, kw = w.shape
    oh, ow = gy.shape[2:]
    unit = tuple(stride) == (1, 1)
    hp, wp = xp.shape[2:]
    zz = y if z is None else z
    zero = gy.dtype.type(0)
    work = gy.size * c * kh * kw
    gw = gx = gb = None
    if unit and not need_gx:
        # The filter and bias gradients in one pass over gy, gz laid out plane by plane in L1.
        part_w = workspace("direct_part_w", (n, f * c * kh * kw), np.float64)   # zeroed by _grad_wb
        part_b = np.zeros((n, f), dtype=np.float64)
        _grad_wb(work, gy.reshape(-1), zz.reshape(-1), y.reshape(-1), gy.reshape(-1), False, xp.reshape(-1),
                 part_w, part_b, tag, alpha, n, f, c, hp, wp, kh, kw, oh, ow, zero)
        if need_gw:
            gw = part_w.sum(axis=0).astype(gy.dtype).reshape(w.shape)
        if need_gb:
            gb = part_b.sum(axis=0).astype(gy.dtype)
        return gx, gw, gb
    pitch = wp if unit else ow
    gz = workspace("direct_gz", (n, f, oh, pitch), gy.dtype)
    partial = np.zeros((n, f), dtype=np.float64)
    _grad_z(gy.size, gy.reshape(-1), zz.reshape(-1), y.reshape(-1), gz.reshape(-1), partial, tag, alpha,
            n, f, oh, ow, pitch)
    gb = partial.sum(axis=0).astype(gy.dtype) if need_gb else None
    if need_gw and unit:
        part_w = workspace("direct_part_w", (n, f * c * kh * kw), np.float64)
        _grad_wb(work, gy.reshape(-1), zz.reshape(-1), y.reshape(-1), gz.reshape(-1), True, xp.reshape(-1),
                 part_w, partial, tag, alpha, n, f, c, hp, wp, kh, kw, oh, ow, zero)
        gw = part_w.sum(axis=0).astype(gy.dtype).reshape(w.shape)
    elif need_gw:
        gw = np.empty(w.shape, dtype=gy.dtype)
        _grad_w(work, gz.reshape(-1), xp.reshape(-1), gw.reshape(-1), n, f, c, hp, wp, kh, kw, stride[0], stride[1],
                oh, ow)
    if need_gx:
        if not unit:
            gz = np.ascontiguousarray(gz)      # already (N, F, OH, OW)
        gx = recycled(x_shape, gy.dtype)
        _grad_x(work, gz.reshape(-1), w.reshape(-1), gx.reshape(-1), n, f, c, h, wd, kh, kw,
                stride[0], stride[1], pad[0], pad[2], oh, ow, pitch)
    return gx, gw, gb
