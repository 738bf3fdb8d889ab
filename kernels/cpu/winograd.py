"""Winograd minimal filtering F(m x m, 3 x 3) for stride-1 3x3 convolutions (Numba
transforms, BLAS products).

Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2016). With an output
tile of m x m and a = m + 2, one a x a input tile d and one 3x3 filter g give

    Y = A^T [ (G g G^T) ⊙ (B^T d B) ] A                       (Y: m x m, exact in exact arithmetic)

Over channels the elementwise product becomes, for each of the a*a transform points xi,
one matrix product (the only O(F*C*T) work, done by BLAS):

    U[xi] = (G g G^T)[xi]    (F x C)       V[xi] = (B^T d B)[xi]    (C x T)
    M[xi] = U[xi] @ V[xi]    (F x T)       y tile = A^T M[:, f, t] A (+ bias, activation)

where T = N * TH * TW counts the tiles (TH = ceil(OH / m), TW = ceil(OW / m)); a tile
beyond the input reads zeros, and the part of an output tile beyond OH x OW is dropped.
The backward passes are the exact adjoints of those linear maps, so they share the tiles
and the transformed input V saved by the forward pass:

    dM[xi] = (A dY A^T)[xi]                       (dY: the tile of act'(z) * gy)
    dU[xi] = dM[xi] @ V[xi]^T     gw = G^T dU G   (filter gradient)
    dV[xi] = U[xi]^T @ dM[xi]     gx = sum over tiles of B dV B^T, cropped (data gradient)

Transform matrices (Lavin's interpolation points): F(2, 3) uses 0, +-1 and needs no
multiplications in B and A; F(4, 3) uses 0, +-1, +-2 and does 4x fewer multiplications
than direct convolution (36 instead of 144 per 16 outputs) against 2.25x for F(2, 3),
at a float32 error a few times larger (bench/RESULTS.md, tests/tolerances.py).

Every tile transform is separable: one pass along rows, then one along columns, each
a small matrix applied with its zero coefficients skipped, the inner loops running over
a whole row of the image or a whole row of tiles so that they vectorise. The kernels
are parallel over (image, channel) planes: each iteration writes its own plane of V or
gx, or its own (image, filter) plane of y or dM, so no two iterations touch one cell.
"""

from __future__ import annotations

import numpy as np

from ._jit import dual, jit, prange
from ._windows import U
from .activations import act_fwd, grad_run

#: m -> (B^T (a x a), G (a x 3), A^T (m x a)) in float64.
MATRICES = {
    2: (np.array([[1, 0, -1, 0],
                  [0, 1, 1, 0],
                  [0, -1, 1, 0],
                  [0, 1, 0, -1]], dtype=np.float64),
        np.array([[1, 0, 0],
                  [0.5, 0.5, 0.5],
                  [0.5, -0.5, 0.5],
                  [0, 0, 1]], dtype=np.float64),
        np.array([[1, 1, 1, 0],
                  [0, 1, -1, -1]], dtype=np.float64)),
    4: (np.array([[4, 0, -5, 0, 1, 0],
                  [0, -4, -4, 1, 1, 0],
                  [0, 4, -4, -1, 1, 0],
                  [0, -2, -1, 2, 1, 0],
                  [0, 2, -1, -2, 1, 0],
                  [0, 4, 0, -5, 0, 1]], dtype=np.float64),
        np.array([[1 / 4, 0, 0],
                  [-1 / 6, -1 / 6, -1 / 6],
                  [-1 / 6, 1 / 6, -1 / 6],
                  [1 / 24, 1 / 12, 1 / 6],
                  [1 / 24, -1 / 12, 1 / 6],
                  [0, 0, 1]], dtype=np.float64),
        np.array([[1, 1, 1, 1, 1, 0],
                  [0, 1, -1, 2, -2, 0],
                  [0, 1, 1, 4, 4, 0],
                  [0, 1, -1, 8, -8, 1]], dtype=np.float64)),
}

TILE_SIZES = tuple(MATRICES)


def tiles(oh, ow, m):
    """(TH, TW): tile rows and columns that cover an OH x OW output."""
    return -(-oh // m), -(-ow // m)


# ----------------------------------------------------------------------------- layouts
#
# NCHW rows are short (a 32x32 image gives 32-element rows and 8-16 tiles a row), and a
# transform that loops over them spends its time starting loops: the first version, per
# plane and per tile row, ran its input transform at 13 ms on the 64->64 32x32 batch-32
# convolution, slower than the whole im2col forward. So the transforms work on a
# row-major layout with every (image, channel) pair innermost:
#
#   X  (Hp, Wp, N*C): the zero-padded input, Hp = TH*m + 2, Wp = TW*m + 2
#   V  (a*a, TH, TW, N, C)  = per point xi a (T' x C) matrix, T' = TH*TW*N
#   M  (a*a, TH, TW, N, F)  = V[xi] @ U[xi]^T, one BLAS GEMM per point
#
# in which every inner loop is an axpy over N*C (or N*F) contiguous values, thousands
# long. The two transposes (NCHW in, NCHW out) are fused with the padding on the way in
# and with the bias and activation on the way out. Loops are parallel over tile rows
# times one transform index, or over image rows, and each iteration writes only its
# own rows of the output buffer. Indices in the inner loops are unsigned
# (``_windows.U``): with signed ones Numba adds a wraparound select to every access and
# the loops stay scalar.


@jit
def _zero(dst, d0, count):
    d = U(d0)
    for i in range(U(count)):
        dst[d + i] = 0


@jit
def _axpy(coef, src, s0, dst, d0, count):
    """dst[d0 + i] += coef * src[s0 + i] for i < count."""
    s, d = U(s0), U(d0)
    for i in range(U(count)):
        dst[d + i] += coef * src[s + i]


@jit
def _transpose(src, s0, s_pitch, dst, d0, d_pitch, rows, cols):
    """dst[d0 + j*d_pitch + p] = src[s0 + p*s_pitch + j] for p < rows, j < cols.

    In 16 x 16 blocks, writing along p: stores at a stride of kilobytes cost far more
    here than strided loads (an 8 MB transpose took 9.5 ms with contiguous reads and
    strided writes, 2.4 ms the other way round; NumPy's own transposed copy 20 ms)."""
    for p0 in range(0, rows, 16):
        p1 = min(rows, p0 + 16)
        for j0 in range(0, cols, 16):
            for j in range(j0, min(cols, j0 + 16)):
                d = U(d0 + j * d_pitch)
                s = U(s0 + j)
                for p in range(U(p0), U(p1)):
                    dst[d + p] = src[s + p * U(s_pitch)]


@jit
def _tile_columns(coef, rows, out, k, ti, th, tw, m, width):
    """The along-the-row half of a tile transform, for row k of tile row ti:
    out[k*a + l, ti, tj] = sum_s coef[l, s] rows[tj*m + s] for every l < a and tile column
    tj, each entry ``width`` values (all N*C or N*F of them) long."""
    a = coef.shape[0]
    for l in range(a):
        for tj in range(tw):
            dst = (((k * a + l) * th + ti) * tw + tj) * width
            _zero(out, dst, width)
            for s in range(coef.shape[1]):
                c = coef[l, s]
                if c != 0:
                    _axpy(c, rows, (tj * m + s) * width, out, dst, width)


@dual
def _pad_to_rows(x, xp, nc, h, w, pt, pl, hp, wp):
    """X[rho, u, p] = x[p, rho - pt, u - pl] (zero outside the image)."""
    for rho in prange(hp):
        base = rho * wp * nc
        _zero(xp, base, wp * nc)
        i = rho - pt
        if i < 0 or i >= h:
            continue
        # x's row i of every plane is a (N*C x W) block at a row pitch of H*W; X's row rho
        # is its (W x N*C) transpose.
        j0, j1 = max(0, -pl), min(w, wp - pl)
        _transpose(x, i * w + j0, h * w, xp, base + (j0 + pl) * nc, nc, nc, j1 - j0)


@dual
def _input_transform(xp, bt, v, scratch, th, tw, m, nc):
    """V[k*a + l, ti, tj] = sum_{r,s} B^T[k, r] B^T[l, s] X[ti*m + r, tj*m + s] (all N*C at once)."""
    a = bt.shape[0]
    wp = tw * m + 2
    row = wp * nc
    for it in prange(th * a):
        ti = it // a
        k = it - ti * a
        tmp = scratch[it]                            # row k of B^T applied down the columns
        _zero(tmp, 0, row)
        for r in range(a):
            coef = bt[k, r]
            if coef != 0:
                _axpy(coef, xp, (ti * m + r) * row, tmp, 0, row)
        _tile_columns(bt, tmp, v, k, ti, th, tw, m, nc)


@dual
def _output_transform(mm, at, b, y, z, cols, rows, tag, alpha, n, f, oh, ow, th, tw, has_bias, keep_z):
    """y[img, ff, ti*m + r, j] = act(sum_{k,l} A^T[r, k] A^T[s, l] M[k*a + l, ti, tj] + b[ff]),
    j = tj*m + s (z: before the activation), one tile row per iteration.

    A^T along the tile columns goes to ``cols[ti]`` (a x TW*m x N*F: about 1.5 MB, in L2
    while the row pass reads it back), A^T down the rows to ``rows[ti]``, which is then
    written out transposed to NCHW with the bias and activation. (As two passes over the
    whole batch, through a full-size intermediate, this took 2.5 + 3.8 ms on the 64x32x14x14
    benchmark convolution instead of about 3 ms together.)"""
    m, a = at.shape
    wq = tw * m
    nf = n * f
    for ti in prange(th):
        buf = cols[ti]
        for k in range(a):
            for tj in range(tw):
                for s in range(m):
                    dst = (k * wq + tj * m + s) * nf
                    _zero(buf, dst, nf)
                    for l in range(a):
                        coef = at[s, l]
                        if coef != 0:
                            _axpy(coef, mm, (((k * a + l) * th + ti) * tw + tj) * nf, buf, dst, nf)
        row = rows[ti]
        for r in range(min(m, oh - ti * m)):
            i = ti * m + r
            _zero(row, 0, ow * nf)
            for k in range(a):
                coef = at[r, k]
                if coef != 0:
                    _axpy(coef, buf, k * wq * nf, row, 0, ow * nf)
            for p in range(nf):
                bias = b[p % f] if has_bias else b[0] * 0
                dst = U(p * oh * ow + i * ow)
                for j in range(U(ow)):
                    val = row[j * U(nf) + U(p)] + bias
                    if keep_z:
                        z[dst + j] = val
                    y[dst + j] = act_fwd(tag, val, alpha)


@dual
def _grad_transform(gy, zz, y, at, a_cols, dm, partial, plane_rows, grid, tag, alpha, n, f, oh, ow, th, tw, need_gb):
    """dM[k*a + l, ti, tj] = sum_{r,s} A^T[r, k] A^T[s, l] dZ[ti*m + r, tj*m + s] for
    dZ = act'(z) * gy (zero beyond OH x OW), one tile row per iteration; partial[i, ff]
    holds the sum of dZ over row i of plane ff (the bias gradient, float64).

    The m rows of dZ are first computed in NCHW order (contiguous, vectorised) into
    ``plane_rows[ti]``, then transposed to (TW*m, N*F) rows in ``grid[ti]`` for the two
    transform passes; a_cols is A^T transposed (a x m), the row half's coefficients."""
    m, a = at.shape
    wq = tw * m
    nf = n * f
    row = wq * nf
    for ti in prange(th):
        g = grid[ti]
        _zero(g, 0, m * row)
        nchw = plane_rows[ti]
        for r in range(min(m, oh - ti * m)):
            i = ti * m + r
            for p in range(nf):
                s = grad_run(gy, zz, y, p * oh * ow + i * ow, nchw, p * ow, ow, tag, alpha)
                if need_gb:
                    partial[i, p % f] += s
            _transpose(nchw, 0, ow, g, r * row, nf, nf, ow)
        tmp = g[m * row:]
        for k in range(a):
            _zero(tmp, 0, row)
            for r in range(m):
                coef = at[r, k]
                if coef != 0:
                    _axpy(coef, g, r * row, tmp, 0, row)
            _tile_columns(a_cols, tmp, dm, k, ti, th, tw, m, nf)


@dual
def _input_adjoint_columns(dv, bt, hb, th, tw, m, nc):
    """H[k, ti, u] = sum over (l, tj, s) with tj*m + s = u of B^T[l, s] dV[k*a + l, ti, tj]."""
    a = bt.shape[0]
    wp = tw * m + 2
    for it in prange(th * a):
        ti = it // a
        k = it - ti * a
        base = (k * th + ti) * wp * nc
        _zero(hb, base, wp * nc)
        for l in range(a):
            for tj in range(tw):
                src = (((k * a + l) * th + ti) * tw + tj) * nc
                for s in range(a):
                    coef = bt[l, s]
                    if coef != 0:
                        _axpy(coef, dv, src, hb, base + (tj * m + s) * nc, nc)


@dual
def _input_adjoint_rows(hb, bt, gx, scratch, nc, h, w, pt, pl, th, tw, m):
    """gx[p, i, j] = sum over tile rows ti covering padded row i + pt, r = i + pt - ti*m, of
    sum_k B^T[k, r] H[k, ti, j + pl]: a gather, so each image row is written once."""
    a = bt.shape[0]
    wp = tw * m + 2
    for i in prange(h):
        rho = i + pt
        row = scratch[i]
        _zero(row, 0, w * nc)
        for ti in range(max(0, (rho - a + m) // m), min(th - 1, rho // m) + 1):
            r = rho - ti * m
            for k in range(a):
                coef = bt[k, r]
                if coef != 0:
                    _axpy(coef, hb, ((k * th + ti) * wp + pl) * nc, row, 0, w * nc)
        for p in range(nc):
            dst = U(p * h * w + i * w)
            for j in range(U(w)):
                gx[dst + j] = row[j * U(nc) + U(p)]


# ----------------------------------------------------------------------------- filter transforms


_COEFFICIENTS = {}


def _filter_coefficients(m, dtype):
    """K (a*a, 9): K[k*a + l, p*3 + q] = G[k, p] G[l, q], so that U = K @ w as (a*a) x (F*C)."""
    key = (m, np.dtype(dtype).str)
    if key not in _COEFFICIENTS:
        g = MATRICES[m][1]
        _COEFFICIENTS[key] = np.einsum("kp,lq->klpq", g, g).reshape(g.shape[0] ** 2, 9).astype(dtype)
    return _COEFFICIENTS[key]


def filter_transform(w, m):
    """U (a*a, F, C) = G g G^T for every (filter, channel) pair of w (F, C, 3, 3).

    One small GEMM, K (a*a x 9) @ w^T (9 x F*C): NumPy's tensordot + transposed copy
    took 1.1 ms on 64x64 filters (a twentieth of that convolution's whole Winograd
    forward pass), a Numba loop 0.5 ms (its 36 output streams store a plane apart)."""
    f, c = w.shape[:2]
    u = _filter_coefficients(m, w.dtype) @ w.reshape(f * c, 9).T
    return u.reshape(-1, f, c)


def filter_transform_adjoint(du, m):
    """gw (F, C, 3, 3) = G^T dU G for dU (a*a, C, F): the adjoint of :func:`filter_transform`."""
    c, f = du.shape[1:]
    gw = _filter_coefficients(m, du.dtype).T @ du.reshape(-1, c * f)      # (9, C*F)
    return np.ascontiguousarray(gw.reshape(3, 3, c, f).transpose(3, 2, 0, 1))


# ----------------------------------------------------------------------------- the passes


class Saved:
    """What the forward pass keeps for the backward one: the tile size, the transformed
    input V (a*a, T', C) and the transformed filters U (a*a, F, C)."""

    __slots__ = ("m", "v", "u")

    def __init__(self, m, v, u):
        self.m, self.v, self.u = m, v, u


def forward(x, w, b, pad, tag, alpha, keep_z, m, workspace, recycled):
    """(y, z, Saved) of a stride-1 3x3 convolution with the fused bias and activation."""
    n, c, h, wd = x.shape
    f = w.shape[0]
    pt, pb, pl, pr = pad
    oh, ow = h + pt + pb - 2, wd + pl + pr - 2
    th, tw = tiles(oh, ow, m)
    a, rows = m + 2, th * tw * n
    hp, wp = th * m + 2, tw * m + 2
    bt, _, at = (mat.astype(x.dtype) for mat in MATRICES[m])
    xp = workspace("winograd_x", (hp, wp, n * c), x.dtype)
    _pad_to_rows(xp.size, x.reshape(-1), xp.reshape(-1), n * c, h, wd, pt, pl, hp, wp)
    v = recycled((a * a, rows, c), x.dtype)              # kept for the filter gradient
    tmp = workspace("winograd_rows", (th * a, wp * n * c), x.dtype)
    _input_transform(v.size, xp.reshape(-1), bt, v.reshape(-1), tmp, th, tw, m, n * c)
    u = filter_transform(w, m)
    mm = workspace("winograd_m", (a * a, rows, f), x.dtype)
    np.matmul(v, u.transpose(0, 2, 1), out=mm)           # a*a BLAS GEMMs (T' x C) @ (C x F)
    y = recycled((n, f, oh, ow), x.dtype)
    z = recycled((n, f, oh, ow), x.dtype) if keep_z else y
    bias = b if b is not None else np.zeros(1, dtype=x.dtype)
    cols = workspace("winograd_out_cols", (th, a * tw * m * n * f), x.dtype)
    out_rows = workspace("winograd_out_rows", (th, ow * n * f), x.dtype)
    _output_transform(y.size, mm.reshape(-1), at, bias, y.reshape(-1), z.reshape(-1), cols, out_rows, tag, alpha,
                      n, f, oh, ow, th, tw, b is not None, keep_z)
    return y, (z if keep_z else None), Saved(m, v, u)


def backward(x_shape, saved, z, y, gy, pad, tag, alpha, need_gx, need_gw, need_gb, workspace, recycled):
    """(gx, gw, gb): the adjoints of :func:`forward` (the module docstring's formulas)."""
    n, c, h, wd = x_shape
    f, oh, ow = gy.shape[1:]
    m, v, u = saved.m, saved.v, saved.u
    th, tw = tiles(oh, ow, m)
    a, rows = m + 2, th * tw * n
    bt, _, at = (mat.astype(gy.dtype) for mat in MATRICES[m])
    partial = np.zeros((th * m, f), dtype=np.float64)
    zz = y if z is None else z
    plane_rows = workspace("winograd_grad_rows", (th, ow * n * f), gy.dtype)
    grid = workspace("winograd_grad_grid", (th, (m + 1) * tw * m * n * f), gy.dtype)
    dm = workspace("winograd_dm", (a * a, rows, f), gy.dtype)
    _grad_transform(dm.size, gy.reshape(-1), zz.reshape(-1), y.reshape(-1), at, np.ascontiguousarray(at.T),
                    dm.reshape(-1), partial, plane_rows, grid, tag, alpha, n, f, oh, ow, th, tw, need_gb)
    gb = partial.sum(axis=0).astype(gy.dtype) if need_gb else None
    gw = gx = None
    if need_gw:
        du = np.matmul(v.transpose(0, 2, 1), dm)         # (a*a, C, F): BLAS reads V transposed
        gw = filter_transform_adjoint(du, m)
    if need_gx:
        dv = workspace("winograd_dv", (a * a, rows, c), gy.dtype)
        np.matmul(dm, u, out=dv)                         # (T' x F) @ (F x C)
        hb = workspace("winograd_h", (a, th, tw * m + 2, n * c), gy.dtype)
        _input_adjoint_columns(hb.size, dv.reshape(-1), bt, hb.reshape(-1), th, tw, m, n * c)
        gx = recycled(x_shape, gy.dtype)
        in_rows = workspace("winograd_in_rows", (h, wd * n * c), gy.dtype)
        _input_adjoint_rows(gx.size, hb.reshape(-1), bt, gx.reshape(-1), in_rows, n * c, h, wd, pad[0], pad[2], th, tw, m)
    return gx, gw, gb
