"""Direct convolution for few input channels (first layers), Numba, no GEMM.

For x: (N, C, H, W), w: (F, C, kh, kw), stride (sh, sw), the zero-padded input xp and
OH, OW as in kernels/reference/conv.py:

    z[n, f, i, j] = b[f] + sum_{c, p, q} w[f, c, p, q] xp[n, c, i*sh + p, j*sw + q],   y = act(z)
    gz = act'(z) * gy,   gb[f] = sum_{n, i, j} gz[n, f, i, j]
    gw[f, c, p, q] = sum_{n, i, j} gz[n, f, i, j] xp[n, c, i*sh + p, j*sw + q]
    gxp[n, c, i*sh + p, j*sw + q] += gz[n, f, i, j] w[f, c, p, q],   gx = gxp cropped

With C*kh*kw of 9 to 75, im2col + GEMM gives BLAS a product whose inner dimension is
too short to run well, after a copy of the input kh*kw times over. Here, at stride 1,
the sums live in registers as vectors (kernels/cpu/_simd.py):

* forward: a tile of two output rows by 128 bytes of columns (32 float32) for four
  filters is eight vectors that start from the bias and take every tap (c, p, q) as
  two vector loads of the shifted input and four broadcast weights. Held in memory
  instead (the plane-at-a-time kernel before it, which LLVM vectorised from scalar
  loops), every tap's partial sums were loaded and stored again: 3->32 5x5 on 32x32,
  batch 64, forward 2.41 -> 1.83 ms. The fused epilogue then writes the tile's real
  columns: ReLU or the identity applied to the vectors, which masked stores put straight
  into y; other activations through a scratch tile and the scalar epilogue, per row
  (which for ReLU cost 1->32 3x3 on 28x28, batch 64, 0.53 ms forward against 0.41).
* filter gradient: gz = act'(z) gy for four filters is laid out in L1 with rows of a
  whole number of 64-byte vectors (zeros beyond OW); each kernel row of each channel is
  then one pass over those planes with the 4*kw sums in vectors (one lane per column),
  four gz loads and kw shifted input loads for 4*kw multiply-adds; the lanes are added
  up once per pass. The bias gradient comes from the same layout pass, which for ReLU
  and the identity also runs in vectors (masked loads of each gy row).

The vectors read up to a row and a vector past the padded planes, so the padded input
carries ``slack`` zeros after its last plane. The epilogue, called once per row, is
inlined (``activations.epilogue_run``, ``jit(inline=True)``): as a call, the reference
counting of its array arguments cost more than the work on a 28-value row.

Other strides (rare in first layers) take plain loops: an output plane in L1 summed by
strided row axpys, and a dot per tap and output row for the filter gradient. The input
gradient (a first layer's input needs none; other callers may ask) accumulates each
(image, channel) plane by one axpy per tap. Forward and filter gradient are parallel
over images (per-image partial sums for the gradients, added up by the caller), the
input gradient over (image, channel) planes, each iteration writing its own plane.

When conv.choose_algorithm picks it is measured there (first layers, stride 1).
"""

from __future__ import annotations

import numpy as np

from ._jit import dual, jit, prange
from ._simd import (lanes64, lanes128, vadd64, vfill64, vfill128, vload64, vload128, vload_first64, vmuladd64,
                    vmuladd128, vrelu128, vrelu_grad64, vstore64, vstore128, vstore_first128, vsum64)
from ._workspace import recycled
from ._windows import U
from .activations import TAG, epilogue_run, grad_run


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


# The filter gradient at stride 1 takes four filters' gz planes (``plane`` apart, rows of
# ``pitch`` values, zeros beyond OW) against one kernel row of one input channel:
# out[o + k*ostride + q] += sum_{i, j} gz[k, i, j] xp[xs + i*wp + j + q] for k < nf, q < kw.
# The 4*kw sums are vectors held in registers across the whole plane, one lane per
# column (64-byte vectors: 16 float32 lanes, up to 20 of them live at once), so each
# step loads four gz vectors and kw shifted input vectors for 4*kw multiply-adds.
@jit
def _dots_x4(gz, plane, pitch, xp, xs, wp, oh, out, o, ostride, nf, five):
    """kw = 3, or 5 when ``five`` (the two extra taps' sums stay zero otherwise; LLVM splits
    the loop on the loop-invariant test)."""
    lanes = lanes64(xp)
    a0 = a1 = a2 = a3 = a4 = b0 = b1 = b2 = b3 = b4 = vfill64(xp, 0)
    c0 = c1 = c2 = c3 = c4 = d0 = d1 = d2 = d3 = d4 = a0
    for i in range(oh):
        for j in range(0, pitch, lanes):
            g = U(i * pitch + j)
            ga, gb, gc, gd = vload64(gz, g), vload64(gz, g + U(plane)), vload64(gz, g + U(2 * plane)), \
                vload64(gz, g + U(3 * plane))
            s = U(xs + i * wp + j)
            x = vload64(xp, s)
            a0, b0, c0, d0 = vmuladd64(a0, ga, x), vmuladd64(b0, gb, x), vmuladd64(c0, gc, x), vmuladd64(d0, gd, x)
            x = vload64(xp, s + U(1))
            a1, b1, c1, d1 = vmuladd64(a1, ga, x), vmuladd64(b1, gb, x), vmuladd64(c1, gc, x), vmuladd64(d1, gd, x)
            x = vload64(xp, s + U(2))
            a2, b2, c2, d2 = vmuladd64(a2, ga, x), vmuladd64(b2, gb, x), vmuladd64(c2, gc, x), vmuladd64(d2, gd, x)
            if five:
                x = vload64(xp, s + U(3))
                a3, b3, c3, d3 = vmuladd64(a3, ga, x), vmuladd64(b3, gb, x), vmuladd64(c3, gc, x), \
                    vmuladd64(d3, gd, x)
                x = vload64(xp, s + U(4))
                a4, b4, c4, d4 = vmuladd64(a4, ga, x), vmuladd64(b4, gb, x), vmuladd64(c4, gc, x), \
                    vmuladd64(d4, gd, x)
    taps = 5 if five else 3
    _add_taps(out, o, taps, vsum64(a0), vsum64(a1), vsum64(a2), vsum64(a3), vsum64(a4))
    if nf > 1:
        _add_taps(out, o + ostride, taps, vsum64(b0), vsum64(b1), vsum64(b2), vsum64(b3), vsum64(b4))
    if nf > 2:
        _add_taps(out, o + 2 * ostride, taps, vsum64(c0), vsum64(c1), vsum64(c2), vsum64(c3), vsum64(c4))
    if nf > 3:
        _add_taps(out, o + 3 * ostride, taps, vsum64(d0), vsum64(d1), vsum64(d2), vsum64(d3), vsum64(d4))


@jit
def _dots1x4(gz, plane, pitch, xp, xs, wp, oh, out, o, ostride, nf):
    """One tap (other kernel widths, a call per tap)."""
    lanes = lanes64(xp)
    a = b = c = d = vfill64(xp, 0)
    for i in range(oh):
        for j in range(0, pitch, lanes):
            g = U(i * pitch + j)
            x = vload64(xp, U(xs + i * wp + j))
            a, b = vmuladd64(a, vload64(gz, g), x), vmuladd64(b, vload64(gz, g + U(plane)), x)
            c, d = vmuladd64(c, vload64(gz, g + U(2 * plane)), x), vmuladd64(d, vload64(gz, g + U(3 * plane)), x)
    sums = (vsum64(a), vsum64(b), vsum64(c), vsum64(d))
    for k in range(nf):
        out[o + k * ostride] += sums[k]


@jit(inline=True)
def _add_taps(out, o, taps, s0, s1, s2, s3, s4):
    out[o] += s0
    out[o + 1] += s1
    out[o + 2] += s2
    if taps == 5:
        out[o + 3] += s3
        out[o + 4] += s4


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


#: Filters and output rows in one register tile of the stride-1 forward pass.
_TILE_FILTERS = 4
_TILE_ROWS = 2


@dual
def _forward_unit(xp, wt, b, y, z, tag, alpha, n, f, c, hp, wp, kh, kw, oh, ow, keep_z, zero, in_registers, relu):
    # Stride 1. A tile is two output rows by one run of 128 bytes of columns (32 float32)
    # for four filters: eight vectors of sums held in registers through all C*kh*kw taps,
    # each tap two vector loads of the input (the rows under the tile's two rows) and four
    # weights for eight multiply-adds. The sums start from the bias and leave through the
    # fused epilogue: for ReLU and the identity (``in_registers``: no z kept) applied to
    # the vectors, which masked stores write straight into y; otherwise through a scratch
    # tile and the scalar epilogue_run. Lanes beyond OW, and a second row below the last,
    # compute on the input's slack and are never written. A block of fewer than four
    # filters repeats its last filter's weights (computed, not written). Parallel over
    # (image, filter block).
    lanes = lanes128(xp)
    blocks = (f + _TILE_FILTERS - 1) // _TILE_FILTERS
    taps = c * kh * kw
    for it in prange(n * blocks):
        img = it // blocks
        f0 = (it - img * blocks) * _TILE_FILTERS
        nf = min(_TILE_FILTERS, f - f0)
        k1, k2, k3 = min(1, nf - 1), min(2, nf - 1), min(3, nf - 1)
        o1, o2, o3 = U(k1 * taps), U(k2 * taps), U(k3 * taps)
        # No scratch tile where the vectors go straight to y: the 1 KB allocation per
        # iteration alone cost 10 % of 1->32 5x5 on 28x28, batch 64 (0.58 -> 0.52 ms).
        tile = np.empty(0 if in_registers else _TILE_ROWS * _TILE_FILTERS * lanes, dtype=y.dtype)
        for i in range(0, oh, _TILE_ROWS):
            for j0 in range(0, ow, lanes):
                a0, a1, a2, a3 = vfill128(xp, b[f0]), vfill128(xp, b[f0 + k1]), vfill128(xp, b[f0 + k2]), \
                    vfill128(xp, b[f0 + k3])
                b0, b1, b2, b3 = a0, a1, a2, a3
                for ch in range(c):
                    src = (img * c + ch) * hp * wp + i * wp + j0
                    wo = (f0 * c + ch) * kh * kw
                    for p in range(kh):
                        s = U(src + p * wp)
                        t = U(wo + p * kw)
                        for q in range(U(kw)):
                            top, below = vload128(xp, s + q), vload128(xp, s + q + U(wp))
                            w0, w1, w2, w3 = wt[t + q], wt[t + q + o1], wt[t + q + o2], wt[t + q + o3]
                            a0, a1, a2, a3 = vmuladd128(a0, top, w0), vmuladd128(a1, top, w1), \
                                vmuladd128(a2, top, w2), vmuladd128(a3, top, w3)
                            b0, b1, b2, b3 = vmuladd128(b0, below, w0), vmuladd128(b1, below, w1), \
                                vmuladd128(b2, below, w2), vmuladd128(b3, below, w3)
                cols = min(lanes, ow - j0)
                if in_registers:
                    out = ((img * f + f0) * oh + i) * ow + j0
                    two = i + 1 < oh
                    _put_rows(y, out, ow, a0, b0, cols, two, relu)
                    if nf > 1:
                        _put_rows(y, out + oh * ow, ow, a1, b1, cols, two, relu)
                    if nf > 2:
                        _put_rows(y, out + 2 * oh * ow, ow, a2, b2, cols, two, relu)
                    if nf > 3:
                        _put_rows(y, out + 3 * oh * ow, ow, a3, b3, cols, two, relu)
                    continue
                vstore128(tile, 0, a0)
                vstore128(tile, lanes, a1)
                vstore128(tile, 2 * lanes, a2)
                vstore128(tile, 3 * lanes, a3)
                vstore128(tile, 4 * lanes, b0)
                vstore128(tile, 5 * lanes, b1)
                vstore128(tile, 6 * lanes, b2)
                vstore128(tile, 7 * lanes, b3)
                for r in range(min(_TILE_ROWS, oh - i)):
                    for k in range(nf):
                        out = ((img * f + f0 + k) * oh + i + r) * ow + j0
                        epilogue_run(tile, (r * _TILE_FILTERS + k) * lanes, zero, y, z, out, cols, tag, alpha,
                                     keep_z)


@jit(inline=True)
def _put_rows(y, out, ow, top, below, cols, two, relu):
    """y[out : out + cols] = act(top) and, when ``two``, the row below from ``below``; act
    is ReLU or the identity, applied in registers, and masked stores write the real
    columns only."""
    if relu:
        top, below = vrelu128(top), vrelu128(below)
    vstore_first128(y, U(out), top, cols)
    if two:
        vstore_first128(y, U(out + ow), below, cols)


@dual
def _forward_strided(xp, wt, b, y, z, tag, alpha, n, f, c, hp, wp, kh, kw, sh, sw, oh, ow, keep_z, zero):
    # Other strides: per (image, filter), an output plane in L1 summed one strided row
    # axpy per tap and output row, then the epilogue. Parallel over (image, filter).
    for it in prange(n * f):
        img = it // f
        ff = it - img * f
        acc = np.empty(oh * ow, dtype=y.dtype)
        for k in range(U(oh * ow)):
            acc[k] = b[ff]
        for ch in range(c):
            plane = (img * c + ch) * hp * wp
            wo = (ff * c + ch) * kh * kw
            for p in range(kh):
                for q in range(kw):
                    for i in range(oh):
                        _row_axpy(wt[wo + p * kw + q], xp, plane + (i * sh + p) * wp + q, sw, acc, i * ow, ow)
        epilogue_run(acc, 0, zero, y, z, it * oh * ow, oh * ow, tag, alpha, keep_z)


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
    for strides other than 1 (stride 1 runs _grad_w_unit): gz rows of OW values, a dot per
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


#: Filters whose gz planes the stride-1 filter gradient takes at once (see _dots_x4).
_GRAD_FILTERS = 4


@dual
def _grad_w_unit(gy, zz, y, xp, part_w, part_b, tag, alpha, n, f, c, hp, wp, kh, kw, oh, ow, in_registers, relu):
    """Stride 1: part_w[img, (ff, ch, p, q)] = sum_{i, j} gz[img, ff, i, j] xp[img, ch, i + p, j + q]
    and part_b[img, ff] = sum_{i, j} gz[img, ff, i, j], with gz = act'(z) gy.

    Four filters' gz planes at a time are laid out in L1 with rows of a whole number of
    vectors (zeros beyond OW, and zero planes past the last filter; for ReLU and the
    identity in vectors, _relu_grad_rows), then each kernel row of each channel is one
    register-blocked pass over them (_dots_x4; other widths a pass per tap). Parallel
    over images (per-image partial sums)."""
    lanes = lanes64(xp)
    pitch = (ow + lanes - 1) // lanes * lanes
    plane = oh * pitch
    taps = kh * kw
    for img in prange(n):
        part_w[img, :] = 0
        gz = np.empty(_GRAD_FILTERS * plane, dtype=gy.dtype)
        for f0 in range(0, f, _GRAD_FILTERS):
            nf = min(_GRAD_FILTERS, f - f0)
            for k in range(_GRAD_FILTERS):
                if k >= nf:
                    gz[k * plane:(k + 1) * plane] = 0
                    continue
                src = U((img * f + f0 + k) * oh * ow)
                if in_registers:
                    part_b[img, f0 + k] = _relu_grad_rows(gy, y, src, gz, k * plane, oh, ow, pitch, relu)
                    continue
                s = 0.0
                for i in range(oh):
                    row = U(k * plane + i * pitch)
                    s += grad_run(gy, zz, y, src + U(i * ow), gz, row, ow, tag, alpha)
                    for j in range(U(ow), U(pitch)):
                        gz[row + j] = 0
                part_b[img, f0 + k] = s
            out = part_w[img]
            for ch in range(c):
                for p in range(kh):
                    xs = (img * c + ch) * hp * wp + p * wp
                    o = (f0 * c + ch) * taps + p * kw
                    if kw == 3 or kw == 5:
                        _dots_x4(gz, plane, pitch, xp, xs, wp, oh, out, o, c * taps, nf, kw == 5)
                    else:
                        for q in range(kw):
                            _dots1x4(gz, plane, pitch, xp, xs + q, wp, oh, out, o + q, c * taps, nf)


@jit(inline=True)
def _relu_grad_rows(gy, y, src, gz, dst, oh, ow, pitch, relu):
    """gz rows of ``pitch`` values from dst: gy[src + i*OW + j] times ReLU's derivative at y
    (or 1: the identity), zeros beyond OW; returns their sum. Masked loads stop at each
    row's end, so nothing past gy or y is read."""
    lanes = lanes64(gz)
    total = vfill64(gz, 0)
    for i in range(oh):
        s, d = U(src + i * ow), U(dst + i * pitch)
        for j in range(0, pitch, lanes):
            count = min(lanes, ow - j)
            g = vload_first64(gy, s + j, count)
            if relu:
                g = vrelu_grad64(vload_first64(y, s + j, count), g)
            vstore64(gz, d + j, g)
            total = vadd64(total, g)
    return vsum64(total)


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


def _vector_epilogue(tag, z_kept):
    """(in_registers, relu): whether the activation runs on the vectors themselves (ReLU
    and the identity, with no pre-activation z kept) and whether it is ReLU. The forward
    pass and the filter gradient decide by this one rule."""
    return not z_kept and tag in (TAG[None], TAG["relu"]), tag == TAG["relu"]


def slack(wp):
    """Elements a vector may read past the last padded plane: a row below the last one, and
    a run of the widest vector (128 bytes, 32 float32 values) past the end of a row."""
    return 2 * wp + 64


def padded(x, kernel, stride, pad):
    """(xp, hp, wp, oh, ow): the zero-padded input, planes of Hp x Wp (Hp covers every
    window), as one flat recycled array (the backward pass keeps it) with ``slack`` zeros
    after the last plane."""
    n, c, h, w = x.shape
    kh, kw = kernel
    sh, sw = stride
    pt, pb, pl, pr = pad
    oh = (h + pt + pb - kh) // sh + 1
    ow = (w + pl + pr - kw) // sw + 1
    hp = max((oh - 1) * sh + kh, pt + h)
    wp = max((ow - 1) * sw + kw, pl + w)
    size = n * c * hp * wp
    xp = recycled((size + slack(wp),), x.dtype)
    _pad_planes(size, x.reshape(-1), xp, n * c, h, w, hp, wp, pt, pl)
    xp[size:] = 0
    return xp, hp, wp, oh, ow


def forward(x, w, b, stride, pad, tag, alpha, keep_z):
    """(y, z, saved): the fused convolution; saved, the padded input and its plane shape,
    is kept for the gradients."""
    n, c = x.shape[:2]
    f, _, kh, kw = w.shape
    xp, hp, wp, oh, ow = padded(x, (kh, kw), stride, pad)
    y = recycled((n, f, oh, ow), x.dtype)
    z = recycled(y.shape, x.dtype) if keep_z else y
    bias = np.zeros(f, dtype=x.dtype) if b is None else b
    work = y.size * c * kh * kw
    args = (xp, w.reshape(-1), bias, y.reshape(-1), z.reshape(-1), tag, alpha, n, f, c, hp, wp, kh, kw)
    if tuple(stride) == (1, 1):
        _forward_unit(work, *args, oh, ow, keep_z, x.dtype.type(0), *_vector_epilogue(tag, keep_z))
    else:
        _forward_strided(work, *args, stride[0], stride[1], oh, ow, keep_z, x.dtype.type(0))
    return y, (z if keep_z else None), (xp, hp, wp)


def backward(x_shape, w, saved, z, y, gy, stride, pad, tag, alpha, need_gx, need_gw, need_gb, workspace):
    n, c, h, wd = x_shape
    f, _, kh, kw = w.shape
    oh, ow = gy.shape[2:]
    xp, hp, wp = saved
    unit = tuple(stride) == (1, 1)
    zz = y if z is None else z
    work = gy.size * c * kh * kw
    gw = gx = gb = None
    if unit and need_gw:
        # The filter and bias gradients in one pass over gy, gz laid out in L1.
        part_w = workspace("direct_part_w", (n, f * c * kh * kw), np.float64)   # zeroed by the kernel
        part_b = workspace("direct_part_b", (n, f), np.float64)                 # every entry written
        _grad_w_unit(work, gy.reshape(-1), zz.reshape(-1), y.reshape(-1), xp, part_w, part_b, tag, alpha,
                     n, f, c, hp, wp, kh, kw, oh, ow, *_vector_epilogue(tag, z is not None))
        gw = part_w.sum(axis=0).astype(gy.dtype).reshape(w.shape)
        if need_gb:
            gb = part_b.sum(axis=0).astype(gy.dtype)
        if not need_gx:
            return gx, gw, gb
    pitch = wp if unit else ow
    gz = workspace("direct_gz", (n, f, oh, pitch), gy.dtype)
    partial = np.zeros((n, f), dtype=np.float64)
    _grad_z(gy.size, gy.reshape(-1), zz.reshape(-1), y.reshape(-1), gz.reshape(-1), partial, tag, alpha,
            n, f, oh, ow, pitch)
    if need_gb and gb is None:
        gb = partial.sum(axis=0).astype(gy.dtype)
    if need_gw and gw is None:
        gw = np.empty(w.shape, dtype=gy.dtype)
        _grad_w(work, gz.reshape(-1), xp, gw.reshape(-1), n, f, c, hp, wp, kh, kw, stride[0], stride[1], oh, ow)
    if need_gx:
        gx = recycled(x_shape, gy.dtype)
        _grad_x(work, gz.reshape(-1), w.reshape(-1), gx.reshape(-1), n, f, c, h, wd, kh, kw,
                stride[0], stride[1], pad[0], pad[2], oh, ow, pitch)
    return gx, gw, gb
