"""Pooling kernels over NCHW windows (Numba cpu backend); semantics of
``kernels/reference/pooling.py``. Window geometry as in conv.py:
    OH = (H + pt + pb - kh) // sh + 1,   window (i, j) covers xpad[i*sh + p, j*sw + q]

max:  y[n,c,i,j] = max_{p,q} xpad[n,c,i*sh+p,j*sw+q]   (padding is -inf)
      argmax[n,c,i,j] = p*kw + q of the first maximum in (p, q) row-major order,
      as numpy.argmax: the first NaN wins if the window holds one (y is then NaN);
      a window whose real cells are all -inf (or that lies in the padding) keeps 0.
      dx[h, w] = sum of dy over the windows whose argmax is (h, w); an argmax in the
      padding sends its gradient nowhere.
avg:  y[n,c,i,j] = sum_{p,q} xpad[...] / d,  d = kh*kw (count_include_pad) or the
      number of window cells inside the unpadded input;  dx = sum over windows of dy / d.

Every kernel is parallel over the N*C planes; each iteration reads and writes only its
own plane, so the backward kernels accumulate serially within a plane (no races).
Window bounds are clipped once per output row/column instead of testing every cell.
"""

import numpy as np

from ._jit import dual, jit, prange
from ._windows import U, geometry, span


# avg: for each output row i and each window offset (p, q), one inner loop over the
# output columns j that (p, q) can reach (the span is clipped once, so the inner loop
# has no bounds test); the output row is the accumulator (measured 1.6-1.8x faster
# than a loop per output cell for 2x2 windows). Inner-loop indices are unsigned
# (``_windows.U``).


@jit
def _clip(start, k, size):
    """Offsets [lo, hi) of a window starting at input index ``start`` that lie in [0, size)."""
    return max(0, -start), max(max(0, -start), min(k, size - start))


@dual
def _max_fwd(x, y, am, planes, h, w, kh, kw, sh, sw, pt, pl, oh, ow):
    # Per output cell, the running maximum stays in registers (measured 1.7x faster
    # than the row-vectorised loop order used for avg, which must go through memory
    # because y, am and x may alias as far as the compiler knows).
    for nc in prange(planes):
        xb = nc * h * w
        yb = nc * oh * ow
        for i in range(oh):
            r0 = i * sh - pt
            p0, p1 = _clip(r0, kh, h)
            for j in range(ow):
                c0 = j * sw - pl
                q0, q1 = _clip(c0, kw, w)
                best = -np.inf
                arg = 0
                for p in range(p0, p1):
                    rb = U(xb + (r0 + p) * w + c0)
                    for q in range(q0, q1):
                        v = x[rb + U(q)]
                        # Strictly greater keeps the first maximum; a NaN wins once
                        # (numpy.argmax semantics) and then nothing replaces it.
                        # Selects, not branches: on real data the outcome is random
                        # and mispredicted branches cost 2x (measured).
                        take = (v > best) | ((v != v) & (best == best))
                        best = v if take else best
                        arg = p * kw + q if take else arg
                y[U(yb + i * ow + j)] = best
                am[U(yb + i * ow + j)] = arg


@jit
def _later_wins(v, a, vi, ai):
    """Whether candidate (value v, window offset vi) replaces (a, ai) as the window's first
    maximum in row-major order: it is larger, or NaN where a is not, or it ties (equal, or
    both NaN) with a smaller offset."""
    tie = (v == a) | ((v != v) & (a != a))
    return (v > a) | ((v != v) & (a == a)) | (tie & (vi < ai))


@dual
def _max_fwd_2x2(x, y, am, planes, h, w, oh, ow):
    # The common 2x2 window with stride 2 and no padding: every window lies inside the
    # plane. Two passes per output row: down the two input rows (contiguous, one compare
    # per column, the winner and its row kept in a row of L1 scratch), then across the
    # column pairs. Half the work of the four-way select per window, and the first pass
    # vectorises without strided loads: 0.78 -> 0.41 ms on 64x32x28x28 (bench/RESULTS.md).
    # Same first-maximum and NaN rules as _max_fwd (_later_wins): a later cell wins only
    # when larger, or NaN over a number, or tied with a smaller offset (the row pass's
    # winner in the left column can have offset 2, the right column's 1).
    for nc in prange(planes):
        xb = nc * h * w
        yb = nc * oh * ow
        best = np.empty(w, dtype=x.dtype)
        arg = np.empty(w, dtype=np.int64)
        for i in range(oh):
            r0 = U(xb + 2 * i * w)
            r1 = r0 + U(w)
            for k in range(U(w)):
                top, bottom = x[r0 + k], x[r1 + k]
                take = _later_wins(bottom, top, 2, 0)
                best[k] = bottom if take else top
                arg[k] = 2 if take else 0
            yr = U(yb + i * ow)
            for j in range(U(ow)):
                left, right = best[2 * j], best[2 * j + 1]
                left_arg, right_arg = arg[2 * j], arg[2 * j + 1] + 1
                take = _later_wins(right, left, right_arg, left_arg)
                y[yr + j] = right if take else left
                am[yr + j] = right_arg if take else left_arg


@dual
def _max_bwd(gy, am, gx, planes, h, w, kh, kw, sh, sw, pt, pl, oh, ow):
    # Each plane is zeroed and then receives gy of each of its windows at the window's
    # argmax, serially within the plane. An argmax in the padding sends nothing.
    dr = np.empty(kh * kw, dtype=np.int64)  # offset -> (row, column): a table, no division
    dc = np.empty(kh * kw, dtype=np.int64)
    for p in range(kh):
        for q in range(kw):
            dr[p * kw + q] = p
            dc[p * kw + q] = q
    for nc in prange(planes):
        xb = nc * h * w
        yb = nc * oh * ow
        for k in range(U(xb), U(xb + h * w)):
            gx[k] = 0
        for i in range(oh):
            for j in range(ow):
                o = U(yb + i * ow + j)
                a = am[o]
                r = i * sh - pt + dr[a]
                c = j * sw - pl + dc[a]
                if r >= 0 and r < h and c >= 0 and c < w:
                    gx[U(xb + r * w + c)] += gy[o]


@jit
def _divisor(j, kh, kw, sw, pl, w, rows, include_pad):
    if include_pad:
        return kh * kw
    q0, q1 = span(j * sw - pl, 1, w, kw)
    return rows * (q1 - q0)


@dual
def _avg_fwd(x, y, planes, h, w, kh, kw, sh, sw, pt, pl, oh, ow, include_pad):
    usw = U(sw)
    for nc in prange(planes):
        xb = nc * h * w
        for i in range(oh):
            yr = U((nc * oh + i) * ow)
            for j in range(U(ow)):
                y[yr + j] = 0
            p0, p1 = span(i * sh - pt, 1, h, kh)
            for p in range(p0, p1):
                rb = xb + (i * sh - pt + p) * w
                for q in range(kw):
                    j0, j1 = span(q - pl, sw, w, ow)
                    src = U(rb + j0 * sw + q - pl)
                    dst = yr + U(j0)
                    for t in range(U(j1 - j0)):
                        y[dst + t] += x[src + t * usw]
            for j in range(ow):
                d = _divisor(j, kh, kw, sw, pl, w, p1 - p0, include_pad)
                # d == 0 only for a window entirely in the padding: NaN, as the
                # reference's 0/0.
                y[yr + U(j)] = y[yr + U(j)] / d if d > 0 else np.nan


@dual
def _avg_bwd(gy, gx, planes, h, w, kh, kw, sh, sw, pt, pl, oh, ow, include_pad):
    usw = U(sw)
    for nc in prange(planes):
        xb = nc * h * w
        for k in range(U(xb), U(xb + h * w)):
            gx[k] = 0
        for i in range(oh):
            yr = U((nc * oh + i) * ow)
            p0, p1 = span(i * sh - pt, 1, h, kh)
            for p in range(p0, p1):
                rb = xb + (i * sh - pt + p) * w
                for q in range(kw):
                    j0, j1 = span(q - pl, sw, w, ow)
                    dst = U(rb + j0 * sw + q - pl)
                    src = yr + U(j0)
                    for t in range(U(j1 - j0)):
                        # t in the span has at least this cell, so d > 0 here
                        d = _divisor(j0 + t, kh, kw, sw, pl, w, p1 - p0, include_pad)
                        gx[dst + t * usw] += gy[src + t] / d


def _geometry(x_shape, kernel, stride, pad):
    """(n, c, oh, ow, the geometry arguments of the pooling kernels)."""
    n, c, h, w, kh, kw, sh, sw, pt, pl, oh, ow = geometry(x_shape, kernel, stride, pad)
    return n, c, oh, ow, (n * c, h, w, kh, kw, sh, sw, pt, pl, oh, ow)


def max_pool2d_fwd(x, kernel, stride, pad):
    n, c, oh, ow, geo = _geometry(x.shape, kernel, stride, pad)
    y = np.empty((n, c, oh, ow), dtype=x.dtype)
    argmax = np.empty((n, c, oh, ow), dtype=np.int64)
    if tuple(kernel) == (2, 2) and tuple(stride) == (2, 2) and not any(pad):
        _max_fwd_2x2(x.size, x.reshape(-1), y.reshape(-1), argmax.reshape(-1), n * c, x.shape[2], x.shape[3], oh, ow)
    else:
        _max_fwd(x.size, x.reshape(-1), y.reshape(-1), argmax.reshape(-1), *geo)
    return y, argmax


def max_pool2d_bwd(gy, argmax, x_shape, kernel, stride, pad):
    _, _, _, _, geo = _geometry(x_shape, kernel, stride, pad)
    gx = np.empty(tuple(x_shape), dtype=gy.dtype)
    _max_bwd(gx.size, gy.reshape(-1), argmax.reshape(-1), gx.reshape(-1), *geo)
    return gx


def avg_pool2d_fwd(x, kernel, stride, pad, count_include_pad):
    n, c, oh, ow, geo = _geometry(x.shape, kernel, stride, pad)
    y = np.empty((n, c, oh, ow), dtype=x.dtype)
    _avg_fwd(x.size, x.reshape(-1), y.reshape(-1), *geo, bool(count_include_pad))
    return y


def avg_pool2d_bwd(gy, x_shape, kernel, stride, pad, count_include_pad):
    _, _, _, _, geo = _geometry(x_shape, kernel, stride, pad)
    gx = np.empty(tuple(x_shape), dtype=gy.dtype)
    _avg_bwd(gx.size, gy.reshape(-1), gx.reshape(-1), *geo, bool(count_include_pad))
    return gx
