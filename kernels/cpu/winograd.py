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

Every tile transform is straight-line code, the F(m, 3) formulas written out and applied
down a tile's columns and then along its rows in registers, run for LANES (image,
channel) pairs at once so that it vectorises. The kernels are parallel over (tile row,
CHUNK consecutive (image, channel) or (image, filter) pairs): each iteration writes
only its own cells of V, y or dM. Tile rows overlap in gx, so the data gradient runs as
two calls, the even tile rows (which share no row) setting gx and the odd ones adding.
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
# The products want every (image, channel) pair innermost, NCHW has them outermost:
#
#   V  (a*a, TH, TW, N, C)  = per point xi a (T' x C) matrix, T' = TH*TW*N
#   M  (a*a, TH, TW, N, F)  = V[xi] @ U[xi]^T, one BLAS GEMM per point
#
# so each transform is also a transpose. The kernels work on "lanes", consecutive
# (image, channel) or (image, filter) pairs, a tile row times CHUNK lanes per parallel
# iteration and LANES lanes at a time within it:
#
# * on the NCHW side, the a (or m) image rows of LANES planes are copied, transposed
#   and zero-padded, into a small window (Wp x a x LANES, in L1), reading each row whole
#   and contiguously; the version before this one read its transposed rows one value a
#   plane (8 KB) apart, a TLB miss each;
# * each tile is transformed in one pass over its LANES lanes, straight-line code per
#   lane (a 6x6 tile is 36 loads and 36 stores), so LLVM vectorises the lane loop and
#   the tile stays in registers. That version applied B^T and A^T as separate row and
#   column passes of axpys over N*C values, each multiply-add a load, a load and a store:
#   on the 64->64 32x32 batch-32 convolution its transforms took 8.3 ms of the 12.9 ms
#   forward pass, these about 5 ms of 9.6;
# * a tile's a*a points go through a stage (one per tile of the row, a*a x CHUNK each)
#   and are moved to or from V and M as runs of CHUNK contiguous values (see the passes).
#
# Indices in the inner loops are unsigned (``_windows.U``): with signed ones Numba adds
# a wraparound select to every access and the loops stay scalar. Constants reach the
# formulas as values of the array's dtype (``_constants``): a Python int times a float32
# is a float64 in Numba, which would halve the vector width and add conversions.

#: (image, channel) pairs per block: a 64-byte line of float32 per transform point.
LANES = 16


def _constants(dtype):
    """(2, 4, 5, 8) in ``dtype``: the transforms' coefficients."""
    return np.array([2, 4, 5, 8], dtype=dtype)


@jit
def _zero(dst, d0, count):
    d = U(d0)
    for i in range(U(count)):
        dst[d + i] = 0


@jit
def _column4(src, s, pitch):
    """(src[s + r*pitch] for r < 4)."""
    return src[s], src[s + pitch], src[s + U(2) * pitch], src[s + U(3) * pitch]


@jit
def _column6(src, s, pitch):
    """(src[s + r*pitch] for r < 6)."""
    return (src[s], src[s + pitch], src[s + U(2) * pitch], src[s + U(3) * pitch],
            src[s + U(4) * pitch], src[s + U(5) * pitch])


# -- the 1-D transforms of F(4, 3) and F(2, 3), MATRICES' rows written out -------------
# (two, four, five, eight: the constants in the data's dtype.)


@jit
def _bt4(two, four, five, d0, d1, d2, d3, d4, d5):
    """B^T d (6 -> 6) for F(4, 3)."""
    t0, t1 = d4 - four * d2, d3 - four * d1
    t2, t3 = d4 - d2, two * (d3 - d1)
    return four * d0 - five * d2 + d4, t0 + t1, t0 - t1, t2 + t3, t2 - t3, four * d1 - five * d3 + d5


@jit
def _b4(two, four, five, v0, v1, v2, v3, v4, v5):
    """B v (6 -> 6) for F(4, 3): the adjoint of :func:`_bt4`."""
    s12, d12, s34, d34 = v1 + v2, v1 - v2, v3 + v4, v3 - v4
    return (four * v0, four * v5 - two * (d34 + two * d12), -five * v0 - four * s12 - s34,
            d12 + two * d34 - five * v5, v0 + s12 + s34, v5)


@jit
def _at4(two, four, eight, m0, m1, m2, m3, m4, m5):
    """A^T m (6 -> 4) for F(4, 3)."""
    s12, d12, s34, d34 = m1 + m2, m1 - m2, m3 + m4, m3 - m4
    return m0 + s12 + s34, d12 + two * d34, s12 + four * s34, d12 + eight * d34 + m5


@jit
def _a4(two, four, eight, g0, g1, g2, g3):
    """A g (4 -> 6) for F(4, 3): the adjoint of :func:`_at4`."""
    even, odd = g0 + g2, g1 + g3
    even4, odd2 = g0 + four * g2, two * g1 + eight * g3
    return g0, even + odd, even - odd, even4 + odd2, even4 - odd2, g3


@jit
def _bt2(d0, d1, d2, d3):
    """B^T d (4 -> 4) for F(2, 3)."""
    return d0 - d2, d1 + d2, d2 - d1, d1 - d3


@jit
def _b2(v0, v1, v2, v3):
    """B v (4 -> 4) for F(2, 3): the adjoint of :func:`_bt2`."""
    return v0, v1 - v2 + v3, v1 + v2 - v0, -v3


@jit
def _at2(m0, m1, m2, m3):
    """A^T m (4 -> 2) for F(2, 3)."""
    return m0 + m1 + m2, m1 - m2 - m3


@jit
def _a2(g0, g1):
    """A g (2 -> 4) for F(2, 3): the adjoint of :func:`_at2`."""
    return g0, g0 + g1, g0 - g1, -g1


# -- one tile, LANES lanes ---------------------------------------------------------------
# A tile's values sit at fixed offsets from its first one (multiples of LANES or CHUNK,
# compile-time constants): LLVM then sees each side of the lane loop as one pointer group
# and vectorises it. With offsets a runtime pitch apart (a*a stores a plane of V apart)
# every store is its own group, the runtime alias checks exceed LLVM's limit (8) and
# the loop stays scalar. So the tile functions read and write only iteration-local
# buffers, and :func:`_copy_lanes` moves the a*a points between those and V, M or
# their gradients:
#
#   window  [u][r][LANES]        u < Wp, r < a: a tile row of the padded input, or of gx
#   block   [j][r][LANES]        j < TW*m, r < m: a tile row of y or of dZ
#   stage   [tj][xi][CHUNK]      xi < a*a: the tile row's transform points
#
# A tile function computes all LANES lanes even where fewer are left: the lanes beyond
# them hold leftovers (or, in a fresh stage, garbage) and are never copied out.


@jit
def _store6(dst, d, pitch, t):
    dst[d] = t[0]
    dst[d + pitch] = t[1]
    dst[d + U(2) * pitch] = t[2]
    dst[d + U(3) * pitch] = t[3]
    dst[d + U(4) * pitch] = t[4]
    dst[d + U(5) * pitch] = t[5]


@jit
def _store4(dst, d, pitch, t):
    dst[d] = t[0]
    dst[d + pitch] = t[1]
    dst[d + U(2) * pitch] = t[2]
    dst[d + U(3) * pitch] = t[3]


@jit
def _input_tile4(win, w0, stage, s0, two, four, five):
    """stage[s0 + xi*CHUNK + q] = V[xi = k*6 + l] = sum_{r,s} B^T[k, r] B^T[l, s] d[r, s] for
    every lane q < LANES, d[r, s] = win[w0 + (s*6 + r)*LANES + q] (a window tile)."""
    lane, col, pitch, row = U(LANES), U(6 * LANES), U(CHUNK), U(6 * CHUNK)
    for q in range(lane):
        s, d = U(w0) + q, U(s0) + q
        c0 = _bt4(two, four, five, *_column6(win, s, lane))                  # B^T d[:, 0]
        c1 = _bt4(two, four, five, *_column6(win, s + col, lane))
        c2 = _bt4(two, four, five, *_column6(win, s + U(2) * col, lane))
        c3 = _bt4(two, four, five, *_column6(win, s + U(3) * col, lane))
        c4 = _bt4(two, four, five, *_column6(win, s + U(4) * col, lane))
        c5 = _bt4(two, four, five, *_column6(win, s + U(5) * col, lane))
        _store6(stage, d, pitch, _bt4(two, four, five, c0[0], c1[0], c2[0], c3[0], c4[0], c5[0]))
        _store6(stage, d + row, pitch, _bt4(two, four, five, c0[1], c1[1], c2[1], c3[1], c4[1], c5[1]))
        _store6(stage, d + U(2) * row, pitch, _bt4(two, four, five, c0[2], c1[2], c2[2], c3[2], c4[2], c5[2]))
        _store6(stage, d + U(3) * row, pitch, _bt4(two, four, five, c0[3], c1[3], c2[3], c3[3], c4[3], c5[3]))
        _store6(stage, d + U(4) * row, pitch, _bt4(two, four, five, c0[4], c1[4], c2[4], c3[4], c4[4], c5[4]))
        _store6(stage, d + U(5) * row, pitch, _bt4(two, four, five, c0[5], c1[5], c2[5], c3[5], c4[5], c5[5]))


@jit
def _input_tile2(win, w0, stage, s0):
    """:func:`_input_tile4` for F(2, 3): 4x4 tiles (d[r, s] at w0 + (s*4 + r)*LANES + q)."""
    lane, col, pitch, row = U(LANES), U(4 * LANES), U(CHUNK), U(4 * CHUNK)
    for q in range(lane):
        s, d = U(w0) + q, U(s0) + q
        c0 = _bt2(*_column4(win, s, lane))
        c1 = _bt2(*_column4(win, s + col, lane))
        c2 = _bt2(*_column4(win, s + U(2) * col, lane))
        c3 = _bt2(*_column4(win, s + U(3) * col, lane))
        _store4(stage, d, pitch, _bt2(c0[0], c1[0], c2[0], c3[0]))
        _store4(stage, d + row, pitch, _bt2(c0[1], c1[1], c2[1], c3[1]))
        _store4(stage, d + U(2) * row, pitch, _bt2(c0[2], c1[2], c2[2], c3[2]))
        _store4(stage, d + U(3) * row, pitch, _bt2(c0[3], c1[3], c2[3], c3[3]))


@jit
def _output_tile4(stage, s0, out, o0, two, four, eight):
    """out[o0 + (s*4 + r)*LANES + q] = sum_{k,l} A^T[r, k] A^T[s, l] M[k*6 + l] for every lane
    q < LANES, r, s < 4, M[xi] = stage[s0 + xi*CHUNK + q]."""
    lane, col, pitch, row = U(LANES), U(4 * LANES), U(CHUNK), U(6 * CHUNK)
    for q in range(lane):
        s, d = U(s0) + q, U(o0) + q
        c0 = _at4(two, four, eight, *_column6(stage, s, row))                # A^T M[:, 0]
        c1 = _at4(two, four, eight, *_column6(stage, s + pitch, row))
        c2 = _at4(two, four, eight, *_column6(stage, s + U(2) * pitch, row))
        c3 = _at4(two, four, eight, *_column6(stage, s + U(3) * pitch, row))
        c4 = _at4(two, four, eight, *_column6(stage, s + U(4) * pitch, row))
        c5 = _at4(two, four, eight, *_column6(stage, s + U(5) * pitch, row))
        _store4(out, d, col, _at4(two, four, eight, c0[0], c1[0], c2[0], c3[0], c4[0], c5[0]))
        _store4(out, d + lane, col, _at4(two, four, eight, c0[1], c1[1], c2[1], c3[1], c4[1], c5[1]))
        _store4(out, d + U(2) * lane, col, _at4(two, four, eight, c0[2], c1[2], c2[2], c3[2], c4[2], c5[2]))
        _store4(out, d + U(3) * lane, col, _at4(two, four, eight, c0[3], c1[3], c2[3], c3[3], c4[3], c5[3]))


@jit
def _output_tile2(stage, s0, out, o0):
    """:func:`_output_tile4` for F(2, 3): 2x2 outputs (at o0 + (s*2 + r)*LANES + q) of 4x4 points."""
    lane, pitch, row = U(LANES), U(CHUNK), U(4 * CHUNK)
    for q in range(lane):
        s, d = U(s0) + q, U(o0) + q
        c0 = _at2(*_column4(stage, s, row))
        c1 = _at2(*_column4(stage, s + pitch, row))
        c2 = _at2(*_column4(stage, s + U(2) * pitch, row))
        c3 = _at2(*_column4(stage, s + U(3) * pitch, row))
        out[d], out[d + U(2) * lane] = _at2(c0[0], c1[0], c2[0], c3[0])
        out[d + lane], out[d + U(3) * lane] = _at2(c0[1], c1[1], c2[1], c3[1])


@jit
def _grad_tile4(g, g0, stage, s0, two, four, eight):
    """stage[s0 + xi*CHUNK + q] = dM[xi = k*6 + l] = sum_{r,s} A^T[r, k] A^T[s, l] dZ[r, s] for
    every lane q < LANES, r, s < 4, dZ[r, s] = g[g0 + (s*4 + r)*LANES + q] (a block tile)."""
    lane, col, pitch, row = U(LANES), U(4 * LANES), U(CHUNK), U(6 * CHUNK)
    for q in range(lane):
        s, d = U(g0) + q, U(s0) + q
        c0 = _a4(two, four, eight, *_column4(g, s, lane))                    # A dZ[:, 0]
        c1 = _a4(two, four, eight, *_column4(g, s + col, lane))
        c2 = _a4(two, four, eight, *_column4(g, s + U(2) * col, lane))
        c3 = _a4(two, four, eight, *_column4(g, s + U(3) * col, lane))
        _store6(stage, d, pitch, _a4(two, four, eight, c0[0], c1[0], c2[0], c3[0]))
        _store6(stage, d + row, pitch, _a4(two, four, eight, c0[1], c1[1], c2[1], c3[1]))
        _store6(stage, d + U(2) * row, pitch, _a4(two, four, eight, c0[2], c1[2], c2[2], c3[2]))
        _store6(stage, d + U(3) * row, pitch, _a4(two, four, eight, c0[3], c1[3], c2[3], c3[3]))
        _store6(stage, d + U(4) * row, pitch, _a4(two, four, eight, c0[4], c1[4], c2[4], c3[4]))
        _store6(stage, d + U(5) * row, pitch, _a4(two, four, eight, c0[5], c1[5], c2[5], c3[5]))


@jit
def _grad_tile2(g, g0, stage, s0):
    """:func:`_grad_tile4` for F(2, 3): 2x2 of dZ (at g0 + (s*2 + r)*LANES + q) to 4x4 points."""
    lane, pitch, row = U(LANES), U(CHUNK), U(4 * CHUNK)
    for q in range(lane):
        s, d = U(g0) + q, U(s0) + q
        c0 = _a2(g[s], g[s + lane])
        c1 = _a2(g[s + U(2) * lane], g[s + U(3) * lane])
        _store4(stage, d, pitch, _a2(c0[0], c1[0]))
        _store4(stage, d + row, pitch, _a2(c0[1], c1[1]))
        _store4(stage, d + U(2) * row, pitch, _a2(c0[2], c1[2]))
        _store4(stage, d + U(3) * row, pitch, _a2(c0[3], c1[3]))


@jit
def _adjoint_tile4(stage, s0, acc, a0, two, four, five):
    """acc[a0 + (s*6 + r)*LANES + q] += sum_{k,l} B^T[k, r] B^T[l, s] dV[k*6 + l] for every
    lane q < LANES, dV[xi] = stage[s0 + xi*CHUNK + q]."""
    lane, col, pitch, row = U(LANES), U(6 * LANES), U(CHUNK), U(6 * CHUNK)
    for q in range(lane):
        s = U(s0) + q
        c0 = _b4(two, four, five, *_column6(stage, s, row))                  # B dV[:, 0]
        c1 = _b4(two, four, five, *_column6(stage, s + pitch, row))
        c2 = _b4(two, four, five, *_column6(stage, s + U(2) * pitch, row))
        c3 = _b4(two, four, five, *_column6(stage, s + U(3) * pitch, row))
        c4 = _b4(two, four, five, *_column6(stage, s + U(4) * pitch, row))
        c5 = _b4(two, four, five, *_column6(stage, s + U(5) * pitch, row))
        for r in range(6):
            t = _b4(two, four, five, c0[r], c1[r], c2[r], c3[r], c4[r], c5[r])
            d = U(a0) + q + U(r) * lane
            acc[d] += t[0]
            acc[d + col] += t[1]
            acc[d + U(2) * col] += t[2]
            acc[d + U(3) * col] += t[3]
            acc[d + U(4) * col] += t[4]
            acc[d + U(5) * col] += t[5]


@jit
def _adjoint_tile2(stage, s0, acc, a0):
    """:func:`_adjoint_tile4` for F(2, 3): 4x4 tiles (acc at a0 + (s*4 + r)*LANES + q)."""
    lane, col, pitch, row = U(LANES), U(4 * LANES), U(CHUNK), U(4 * CHUNK)
    for q in range(lane):
        s = U(s0) + q
        c0 = _b2(*_column4(stage, s, row))
        c1 = _b2(*_column4(stage, s + pitch, row))
        c2 = _b2(*_column4(stage, s + U(2) * pitch, row))
        c3 = _b2(*_column4(stage, s + U(3) * pitch, row))
        for r in range(4):
            t = _b2(c0[r], c1[r], c2[r], c3[r])
            d = U(a0) + q + U(r) * lane
            acc[d] += t[0]
            acc[d + col] += t[1]
            acc[d + U(2) * col] += t[2]
            acc[d + U(3) * col] += t[3]


# -- the passes ----------------------------------------------------------------------------
#
# Each iteration stages its tile row's points for all its CHUNK lanes (TW x a*a x CHUNK,
# 295 KB in float32 on a 32-wide image, in L2) and moves them to or from V and M as
# TW*a*a runs of CHUNK contiguous values, which the hardware prefetches. Moving them
# LANES values (one line) at a time, to a*a*TW lines in as many pages per tile row,
# took 2.5 ms of a 3.4 ms input transform on the benchmark convolution: the copies
# stalled on memory, not on arithmetic.

#: Lanes staged per parallel iteration (a multiple of LANES): 128 and 512 measured no faster.
CHUNK = 256


@jit
def _copy_lanes(src, s0, s_pitch, dst, d0, d_pitch, count, lanes):
    """dst[d0 + k*d_pitch + q] = src[s0 + k*s_pitch + q] for k < count, q < lanes."""
    for k in range(count):
        s, d = U(s0 + k * s_pitch), U(d0 + k * d_pitch)
        for q in range(U(lanes)):
            dst[d + q] = src[s + q]


@jit
def _copy_to_stage(src, s0, s_pitch, stage, d0, count, lanes):
    """:func:`_copy_lanes` into a stage (rows of CHUNK), and zeros in each row's lanes from
    ``lanes`` up to the next multiple of LANES: the tile functions read whole blocks of
    LANES, and uninitialised memory there could hold NaN or inf bit patterns, whose
    arithmetic raises the floating-point invalid flag that NumPy then reports as a
    RuntimeWarning from an unrelated call (seen from the next np.matmul)."""
    _copy_lanes(src, s0, s_pitch, stage, d0, CHUNK, count, lanes)
    tail = (LANES - lanes % LANES) % LANES
    if tail:
        for k in range(count):
            _zero(stage, d0 + k * CHUNK + lanes, tail)


@jit
def _gather_row(x, x0, plane, cols, win, w0, pitch, lanes):
    """win[w0 + j*pitch + q] = x[x0 + q*plane + j] for j < cols, q < lanes: one image row
    of each lane, transposed (contiguous reads; the stores stay within L1)."""
    for q in range(U(lanes)):
        s = U(x0) + q * U(plane)
        d = U(w0) + q
        for j in range(U(cols)):
            win[d + j * U(pitch)] = x[s + j]


@dual
def _input_transform(x, v, consts, nc, h, w, pt, pl, th, tw, m):
    """V[k*a + l, ti, tj, p] = sum_{r,s} B^T[k, r] B^T[l, s] X[p, ti*m + r, tj*m + s], X: the
    zero-padded input (x shifted by (pt, pl)), p = (image, channel); a tile row of CHUNK
    lanes p per iteration, LANES at a time: their a padded rows are copied into a
    window (Wp x a x LANES, in L1) and transformed tile by tile into the stage."""
    a = m + 2
    wp = tw * m + 2
    point = th * tw * nc
    two, four, five = consts[0], consts[1], consts[2]
    j0, j1 = pl, min(wp, pl + w)                  # window columns inside the image
    chunks = (nc + CHUNK - 1) // CHUNK
    for it in prange(th * chunks):
        ti = it // chunks
        c0 = (it - ti * chunks) * CHUNK
        width = min(CHUNK, nc - c0)
        win = np.zeros(wp * a * LANES, dtype=x.dtype)
        stage = np.empty(tw * a * a * CHUNK, dtype=x.dtype)
        for q0 in range(0, width, LANES):
            p0 = c0 + q0
            for r in range(a):
                i = ti * m + r - pt
                if i < 0 or i >= h:
                    for u in range(wp):
                        _zero(win, (u * a + r) * LANES, LANES)
                else:                             # columns outside the image stay zero
                    _gather_row(x, p0 * h * w + i * w, h * w, j1 - j0, win, (j0 * a + r) * LANES, a * LANES,
                                min(LANES, width - q0))
            for tj in range(tw):
                if m == 4:
                    _input_tile4(win, tj * m * a * LANES, stage, tj * a * a * CHUNK + q0, two, four, five)
                else:
                    _input_tile2(win, tj * m * a * LANES, stage, tj * a * a * CHUNK + q0)
        for tj in range(tw):
            _copy_lanes(stage, tj * a * a * CHUNK, CHUNK, v, (ti * tw + tj) * nc + c0, point, a * a, width)


@dual
def _output_transform(mm, b, y, z, consts, tag, alpha, n, f, oh, ow, th, tw, m, has_bias, keep_z):
    """y[img, ff, ti*m + r, tj*m + s] = act(sum_{k,l} A^T[r, k] A^T[s, l] M[k*a + l, ti, tj, p]
    + b[ff]), p = img*F + ff (z: before the activation); a tile row of CHUNK lanes p per
    iteration, staged whole, then LANES at a time: their m output rows are gathered in a
    block (TW*m x m x LANES, in L1) and written out a plane row at a time."""
    a = m + 2
    nf = n * f
    point = th * tw * nf
    two, four, eight = consts[0], consts[1], consts[3]
    chunks = (nf + CHUNK - 1) // CHUNK
    for it in prange(th * chunks):
        ti = it // chunks
        c0 = (it - ti * chunks) * CHUNK
        width = min(CHUNK, nf - c0)
        stage = np.empty(tw * a * a * CHUNK, dtype=y.dtype)
        out = np.zeros(tw * m * m * LANES, dtype=y.dtype)
        for tj in range(tw):
            _copy_to_stage(mm, (ti * tw + tj) * nf + c0, point, stage, tj * a * a * CHUNK, a * a, width)
        for q0 in range(0, width, LANES):
            for tj in range(tw):
                if m == 4:
                    _output_tile4(stage, tj * a * a * CHUNK + q0, out, tj * m * m * LANES, two, four, eight)
                else:
                    _output_tile2(stage, tj * a * a * CHUNK + q0, out, tj * m * m * LANES)
            for q in range(min(LANES, width - q0)):
                p = c0 + q0 + q
                bias = b[p % f] if has_bias else b[0] * 0
                for r in range(min(m, oh - ti * m)):
                    dst = U(p * oh * ow + (ti * m + r) * ow)
                    src = U(r * LANES + q)
                    for j in range(U(ow)):
                        val = out[src + j * U(m * LANES)] + bias
                        if keep_z:
                            z[dst + j] = val
                        y[dst + j] = act_fwd(tag, val, alpha)


@dual
def _grad_transform(gy, zz, y, dm, partial, consts, tag, alpha, n, f, oh, ow, th, tw, m):
    """dM[k*a + l, ti, tj, p] = sum_{r,s} A^T[r, k] A^T[s, l] dZ[p, ti*m + r, tj*m + s] for
    dZ = act'(z) * gy (zero beyond OH x OW), p = (image, filter); partial[ti, p] = the
    sum of dZ over tile row ti of plane p (for the bias gradient, float64). A tile row of
    CHUNK lanes p per iteration, LANES at a time: their m rows of dZ are computed along
    the NCHW rows (contiguous, vectorised), transposed into a block (TW*m x m x LANES)
    and transformed tile by tile into the stage."""
    a = m + 2
    nf = n * f
    point = th * tw * nf
    two, four, eight = consts[0], consts[1], consts[3]
    chunks = (nf + CHUNK - 1) // CHUNK
    for it in prange(th * chunks):
        ti = it // chunks
        c0 = (it - ti * chunks) * CHUNK
        width = min(CHUNK, nf - c0)
        rows = min(m, oh - ti * m)
        g = np.zeros(tw * m * m * LANES, dtype=dm.dtype)   # rows beyond OH, columns beyond OW stay zero
        stage = np.empty(tw * a * a * CHUNK, dtype=dm.dtype)
        run = np.empty(ow, dtype=dm.dtype)
        for q0 in range(0, width, LANES):
            for q in range(min(LANES, width - q0)):
                p = c0 + q0 + q
                for r in range(rows):
                    partial[ti, p] += grad_run(gy, zz, y, p * oh * ow + (ti * m + r) * ow, run, 0, ow, tag, alpha)
                    d = U(r * LANES + q)
                    for j in range(U(ow)):
                        g[d + j * U(m * LANES)] = run[j]
            for tj in range(tw):
                if m == 4:
                    _grad_tile4(g, tj * m * m * LANES, stage, tj * a * a * CHUNK + q0, two, four, eight)
                else:
                    _grad_tile2(g, tj * m * m * LANES, stage, tj * a * a * CHUNK + q0)
        for tj in range(tw):
            _copy_lanes(stage, tj * a * a * CHUNK, CHUNK, dm, (ti * tw + tj) * nf + c0, point, a * a, width)


@dual
def _input_adjoint(dv, gx, consts, parity, nc, h, w, pt, pl, th, tw, m):
    """For the tile rows ti of the given parity: adds to gx[p, i, j] the tile row's part of

        sum over the tiles (ti, tj) covering padded cell (i + pt, j + pl), at r = i + pt - ti*m,
        s = j + pl - tj*m, of sum_{k,l} B^T[k, r] B^T[l, s] dV[k*a + l, ti, tj, p]

    (with parity 0 it sets those rows instead). Tile rows overlap by a - m = 2 rows, two
    apart they do not: the even ones (the first call) write disjoint rows, the odd ones
    (the second) add to the rows they share with a neighbour. A tile row of CHUNK lanes
    p per iteration, staged whole, then LANES at a time: its tiles, which also overlap
    along the row, accumulate in a window (Wp x a x LANES, in L1) that is then written
    out a plane row at a time."""
    a = m + 2
    wp = tw * m + 2
    point = th * tw * nc
    two, four, five = consts[0], consts[1], consts[2]
    j0, j1 = pl, min(wp, pl + w)                  # window columns inside the image
    chunks = (nc + CHUNK - 1) // CHUNK
    for it in prange(((th - parity + 1) // 2) * chunks):
        ti = 2 * (it // chunks) + parity
        c0 = (it - (it // chunks) * chunks) * CHUNK
        width = min(CHUNK, nc - c0)
        stage = np.empty(tw * a * a * CHUNK, dtype=gx.dtype)
        acc = np.zeros(wp * a * LANES, dtype=gx.dtype)
        for tj in range(tw):
            _copy_to_stage(dv, (ti * tw + tj) * nc + c0, point, stage, tj * a * a * CHUNK, a * a, width)
        for q0 in range(0, width, LANES):
            _zero(acc, 0, wp * a * LANES)
            for tj in range(tw):
                if m == 4:
                    _adjoint_tile4(stage, tj * a * a * CHUNK + q0, acc, tj * m * a * LANES, two, four, five)
                else:
                    _adjoint_tile2(stage, tj * a * a * CHUNK + q0, acc, tj * m * a * LANES)
            for r in range(a):
                i = ti * m + r - pt
                if i < 0 or i >= h:
                    continue
                shared = (r < a - m and ti > 0) or (r >= m and ti < th - 1)
                for q in range(min(LANES, width - q0)):
                    d = U((c0 + q0 + q) * h * w + i * w)
                    s = U((j0 * a + r) * LANES + q)
                    if parity == 1 and shared:
                        for j in range(U(j1 - j0)):
                            gx[d + j] += acc[s + j * U(a * LANES)]
                    else:
                        for j in range(U(j1 - j0)):
                            gx[d + j] = acc[s + j * U(a * LANES)]


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
    consts = _constants(x.dtype)
    v = recycled((a * a, rows, c), x.dtype)              # kept for the filter gradient
    _input_transform(v.size, x.reshape(-1), v.reshape(-1), consts, n * c, h, wd, pt, pl, th, tw, m)
    u = filter_transform(w, m)
    mm = workspace("winograd_m", (a * a, rows, f), x.dtype)
    np.matmul(v, u.transpose(0, 2, 1), out=mm)           # a*a BLAS GEMMs (T' x C) @ (C x F)
    y = recycled((n, f, oh, ow), x.dtype)
    z = recycled((n, f, oh, ow), x.dtype) if keep_z else y
    bias = b if b is not None else np.zeros(1, dtype=x.dtype)
    _output_transform(mm.size, mm.reshape(-1), bias, y.reshape(-1), z.reshape(-1), consts, tag, alpha,
                      n, f, oh, ow, th, tw, m, b is not None, keep_z)
    return y, (z if keep_z else None), Saved(m, v, u)


def backward(x_shape, saved, z, y, gy, pad, tag, alpha, need_gx, need_gw, need_gb, workspace, recycled):
    """(gx, gw, gb): the adjoints of :func:`forward` (the module docstring's formulas)."""
    n, c, h, wd = x_shape
    f, oh, ow = gy.shape[1:]
    m, v, u = saved.m, saved.v, saved.u
    th, tw = tiles(oh, ow, m)
    a, rows = m + 2, th * tw * n
    consts = _constants(gy.dtype)
    partial = np.zeros((th, n * f), dtype=np.float64)     # per tile row and (image, filter) plane
    zz = y if z is None else z
    dm = workspace("winograd_dm", (a * a, rows, f), gy.dtype)
    _grad_transform(dm.size, gy.reshape(-1), zz.reshape(-1), y.reshape(-1), dm.reshape(-1), partial, consts,
                    tag, alpha, n, f, oh, ow, th, tw, m)
    gb = partial.reshape(th * n, f).sum(axis=0).astype(gy.dtype) if need_gb else None
    gw = gx = None
    if need_gw:
        du = np.matmul(v.transpose(0, 2, 1), dm)         # (a*a, C, F): BLAS reads V transposed
        gw = filter_transform_adjoint(du, m)
    if need_gx:
        dv = workspace("winograd_dv", (a * a, rows, c), gy.dtype)
        np.matmul(dm, u, out=dv)                         # (T' x F) @ (F x C)
        gx = recycled(x_shape, gy.dtype)
        for parity in (0, 1):                            # even tile rows set, odd ones add
            _input_adjoint(gx.size, dv.reshape(-1), gx.reshape(-1), consts, parity, n * c, h, wd, pad[0], pad[2],
                           th, tw, m)
    return gx, gw, gb
