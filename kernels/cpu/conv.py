"""Convolution kernels via im2col + BLAS GEMM (Numba cpu backend).

Same semantics as ``kernels/reference/conv.py``. For x: (N, C, H, W), w: (F, C, kh, kw),
stride (sh, sw), pad (pt, pb, pl, pr), K = C*kh*kw, P = OH*OW:
    OH = (H + pt + pb - kh) // sh + 1,   OW = (W + pl + pr - kw) // sw + 1
    cols[n, (c, p, q), (i, j)] = xpad[n, c, i*sh + p, j*sw + q]
    y[n] = W2 @ cols[n] + b,   W2 = w.reshape(F, K)
Backward:
    gW2 = sum_n gy[n] @ cols[n]^T,   gb[f] = sum_{n,i,j} gy[n, f, i, j]
    gcols[n] = W2^T @ gy[n],   gx = col2im(gcols)  (sum of every column entry back
                                                     onto the input cell it came from)

Two memory layouts of the same cols values, chosen per shape by ``conv2d_fwd``
(measured in bench/choose_cpu_conv.py; figures in the comments of ``_use_wide``):

* "batched": cols is C-contiguous (N, K, P), and the GEMMs are one BLAS call per image
  (``np.matmul`` on the stacked arrays). y comes out in NCHW directly; the bias is
  added in place by one pass.
* "wide": cols is stored C-contiguous as (K, N, P) and returned as its (N, K, P)
  transposed view (same values and shape as the reference, other strides). Then the
  whole batch is one GEMM: Y = W2 @ cols(K, N*P) -> (F, N, P), and one pass writes
  y[n, f] = Y[f, n] + b[f] (the transpose to NCHW fused with the bias). Backward: one
  pass writes gyt (N*P, F) from gy and sums gb on the way; gW2^T = cols(K, N*P) @ gyt
  and gcols = W2^T @ gyt^T are single GEMMs with the whole batch in their long dimension.
  Small images (few output positions per image) give per-image GEMMs that are too
  small for BLAS to run well; one big GEMM does not have that problem.

``conv2d_bwd`` recognises the layout from the strides of ``cols``, so it also accepts
a C-contiguous (N, K, P) cols from ``im2col`` or another backend.

Every Numba kernel is parallel over (image, channel) planes or over rows that no other
iteration writes: col2im accumulates each input plane serially inside its own
iteration (no scatter races). GEMMs run in the Python wrapper through NumPy's BLAS,
never inside a parallel region (the two thread pools must not nest).
"""

import numpy as np

from ._jit import dual, jit, prange
from ._windows import U, geometry, span


# ----------------------------------------------------------------------------- im2col / col2im
#
# Both kernels address cols through a flat array and two strides, so one compiled
# kernel serves both layouts:  cols_flat[n*sn + row*sr + i*OW + j],  row = (c*kh + p)*kw + q.
# batched (N, K, P): sn = K*P, sr = P;   wide (K, N, P): sn = P, sr = N*P.
# Inner-loop indices are unsigned (``_windows.U``).


@jit
def _plane(it, n, c, cmajor):
    """(image, channel) of parallel iteration ``it``. For the wide layout (K, N, P) the
    iterations run channel-major, so that consecutive iterations (images) read or write
    consecutive P-blocks of the same kh*kw rows of cols (sequential streams) instead of
    jumping between rows N*P apart."""
    if cmajor:
        ch = it // n
        return it - ch * n, ch
    b = it // c
    return b, it - b * c


@dual
def _im2col(x, cols, n, c, h, w, sn, sr, kh, kw, sh, sw, pt, pl, oh, ow):
    for nc in prange(n * c):
        b, ch = _plane(nc, n, c, sn < sr)
        xbase = (b * c + ch) * h * w
        for p in range(kh):
            i0, i1 = span(p - pt, sh, h, oh)
            for q in range(kw):
                j0, j1 = span(q - pl, sw, w, ow)
                row = (ch * kh + p) * kw + q
                base = b * sn + row * sr
                # Rows of padding, then per row: zeros left, a copy, zeros right (no
                # per-element bounds test).
                for k in range(U(base), U(base + i0 * ow)):
                    cols[k] = 0
                for i in range(i0, i1):
                    o = base + i * ow
                    for k in range(U(o), U(o + j0)):
                        cols[k] = 0
                    src = U(xbase + (i * sh + p - pt) * w + j0 * sw + q - pl)
                    dst = U(o + j0)
                    if sw == 1:
                        for t in range(U(j1 - j0)):
                            cols[dst + t] = x[src + t]
                    else:
                        usw = U(sw)
                        for t in range(U(j1 - j0)):
                            cols[dst + t] = x[src + t * usw]
                    for k in range(U(o + j1), U(o + ow)):
                        cols[k] = 0
                for k in range(U(base + i1 * ow), U(base + oh * ow)):
                    cols[k] = 0


@dual
def _col2im(cols, gx, n, c, h, w, sn, sr, kh, kw, sh, sw, pt, pl, oh, ow):
    # One iteration owns one (n, c) input plane: it zeroes it and adds every column
    # entry that came from it, serially, so no two iterations touch the same cell.
    for nc in prange(n * c):
        b, ch = _plane(nc, n, c, sn < sr)
        xbase = (b * c + ch) * h * w
        for k in range(U(xbase), U(xbase + h * w)):
            gx[k] = 0
        for p in range(kh):
            i0, i1 = span(p - pt, sh, h, oh)
            for q in range(kw):
                j0, j1 = span(q - pl, sw, w, ow)
                row = (ch * kh + p) * kw + q
                base = b * sn + row * sr
                for i in range(i0, i1):
                    src = U(base + i * ow + j0)
                    dst = U(xbase + (i * sh + p - pt) * w + j0 * sw + q - pl)
                    if sw == 1:
                        for t in range(U(j1 - j0)):
                            gx[dst + t] += cols[src + t]
                    else:
                        usw = U(sw)
                        for t in range(U(j1 - j0)):
                            gx[dst + t * usw] += cols[src + t]


def _fill_cols(x, kernel, stride, pad, wide):
    n, c, h, w, kh, kw, sh, sw, pt, pl, oh, ow = geometry(x.shape, kernel, stride, pad)
    k, p = c * kh * kw, oh * ow
    if wide:
        store = np.empty((k, n, p), dtype=x.dtype)
        sn, sr = p, n * p
    else:
        store = np.empty((n, k, p), dtype=x.dtype)
        sn, sr = k * p, p
    _im2col(store.size, x.reshape(-1), store.reshape(-1), n, c, h, w, sn, sr, kh, kw, sh, sw, pt, pl, oh, ow)
    return store


def _col2im_flat(cols_flat, sn, sr, x_shape, kernel, stride, pad, dtype):
    n, c, h, w, kh, kw, sh, sw, pt, pl, oh, ow = geometry(x_shape, kernel, stride, pad)
    gx = np.empty((n, c, h, w), dtype=dtype)
    _col2im(cols_flat.size, cols_flat, gx.reshape(-1), n, c, h, w, sn, sr, kh, kw, sh, sw, pt, pl, oh, ow)
    return gx


def im2col(x, kernel, stride, pad):
    return _fill_cols(x, kernel, stride, pad, wide=False)


def col2im(cols, x_shape, kernel, stride, pad):
    n, k, p = cols.shape
    return _col2im_flat(cols.reshape(-1), k * p, p, x_shape, kernel, stride, pad, cols.dtype)


# ----------------------------------------------------------------------------- bias / transpose passes


@dual
def _add_bias(y, b, rows, f, p):
    # y (N*F, P) in place: y[n, f, :] += b[f]  (the one pass the batched layout adds).
    for r in prange(rows):
        bf = b[r % f]
        base = r * p
        for k in range(p):
            y[base + k] += bf


@dual
def _unwide_bias(yw, b, y, n, f, p, has_bias):
    # y[n, f, :] = yw[f, n, :] + b[f]: the NCHW transpose of the wide GEMM output,
    # with the bias added on the way (no separate bias pass, no extra temporary).
    for r in prange(n * f):
        i = r // f
        ff = r - i * f
        bf = b[ff] if has_bias else 0
        src = (ff * n + i) * p
        dst = r * p
        for k in range(p):
            y[dst + k] = yw[src + k] + bf


@dual
def _wide_gy_t(gy, gyt, partial, n, f, p, need_gb):
    # gyt[i*P + k, f] = gy[i, f, k]: gy with the batch and positions as rows, the layout
    # in which the weight gradient cols @ gyt is one well-shaped GEMM (K x NP times NP x F:
    # measured 1.9 ms against 2.8 ms for gyw @ cols^T with NP as the inner dimension, on
    # the CNN's second convolution). Parallel over images; each image's bias-gradient
    # sums go to its own row of ``partial`` (float64), added up by the caller.
    for i in prange(n):
        for ff in range(f):
            src = (i * f + ff) * p
            s = 0.0
            for k in range(p):
                v = gy[src + k]
                gyt[(i * p + k) * f + ff] = v
                s += v
            if need_gb:
                partial[i, ff] = s


@dual
def _sum_bias_grad(gy, gb, n, f, p):
    # gb[f] = sum_{n, positions} gy[n, f], float64 accumulation, parallel over f.
    for ff in prange(f):
        acc = 0.0
        for i in range(n):
            src = (i * f + ff) * p
            s = 0.0
            for k in range(p):
                s += gy[src + k]
            acc += s
        gb[ff] = acc


# ----------------------------------------------------------------------------- layout choice


def _use_wide(n, f, k, p, identity):
    """Whether one wide GEMM beats a batched GEMM per image for this shape.

    Measured on 2 cores (bench/choose_cpu_conv.py conv, float32, forward + backward,
    ms per step, median of interleaved rounds, GOMP_SPINCOUNT=10000):
        64x32x14x14 -> 64 (P=196):   wide 19.5, batched 20.2  (reference 26.4)
        64x1x28x28  -> 32 (P=784):   wide 7.8,  batched 4.1   (reference 5.5)
        32x64x32x32 -> 64 (P=1024):  wide 77.7, batched 90.2 (min 73.4 vs 72.5: a tie)
        32x256x28x28, 1x1 (P=784):   wide 38.3, batched 28.6  (batched skips the copy)
    Per-image GEMMs lose when an image has few output positions (small matrices, a
    fixed cost per BLAS call); otherwise the batched layout saves the transpose passes.
    """
    return n > 1 and p < _WIDE_MAX_P and not identity


#: Output positions per image below which the wide layout is used (see _use_wide).
_WIDE_MAX_P = 512


def conv2d_fwd(x, w, b, stride, pad):
    n = x.shape[0]
    f, c, kh, kw = w.shape
    _, _, _, _, _, _, _, _, _, _, oh, ow = geometry(x.shape, (kh, kw), stride, pad)
    k, p = c * kh * kw, oh * ow
    w2 = w.reshape(f, k)
    identity = (kh, kw) == (1, 1) and tuple(stride) == (1, 1) and not any(pad)
    if _use_wide(n, f, k, p, identity):
        store = _fill_cols(x, (kh, kw), stride, pad, wide=True)  # (K, N, P)
        yw = w2 @ store.reshape(k, n * p)  # (F, N*P), one GEMM for the batch
        y = np.empty((n, f, oh, ow), dtype=x.dtype)
        _unwide_bias(y.size, yw.reshape(-1), np.empty(1, dtype=x.dtype) if b is None else b, y.reshape(-1), n, f, p, b is not None)
        return y, store.transpose(1, 0, 2)
    if identity:
        cols = x.reshape(n, c, p)  # a 1x1 convolution's cols are the input itself: no copy
    else:
        cols = _fill_cols(x, (kh, kw), stride, pad, wide=False)
    y = np.matmul(w2, cols)  # (N, F, P), one BLAS GEMM per image
    if b is not None:
        _add_bias(y.size, y.reshape(-1), b, n * f, f, p)
    return y.reshape(n, f, oh, ow), cols


def conv2d_bwd(x_shape, w, cols, gy, stride, pad, need_gx, need_gw, need_gb):
    n, f, oh, ow = gy.shape
    k, p = cols.shape[1], cols.shape[2]
    w2 = w.reshape(f, k)
    kernel = w.shape[2:]
    gx = gw = gb = None
    store = cols.transpose(1, 0, 2)
    if n > 1 and store.flags.c_contiguous and not cols.flags.c_contiguous:  # wide layout (K, N, P)
        if need_gw or need_gx:
            gyt = np.empty((n * p, f), dtype=gy.dtype)
            partial = np.zeros((n, f) if need_gb else (1, 1), dtype=np.float64)
            _wide_gy_t(gy.size, gy.reshape(-1), gyt.reshape(-1), partial, n, f, p, need_gb)
            if need_gb:
                gb = partial.sum(axis=0).astype(gy.dtype)
            if need_gw:
                gw = np.ascontiguousarray((store.reshape(k, n * p) @ gyt).T).reshape(w.shape)
            if need_gx:
                gcols = w2.T @ gyt.T  # (K, N*P), C-contiguous: BLAS reads gyt transposed
                gx = _col2im_flat(gcols.reshape(-1), p, n * p, x_shape, kernel, stride, pad, gy.dtype)
        elif need_gb:
            gb = np.empty(f, dtype=gy.dtype)
            _sum_bias_grad(gy.size, gy.reshape(-1), gb, n, f, p)
        return gx, gw, gb
    gy3 = gy.reshape(n, f, p)
    if need_gb:
        gb = np.empty(f, dtype=gy.dtype)
        _sum_bias_grad(gy.size, gy.reshape(-1), gb, n, f, p)
    if need_gw:
        # sum_n gy[n] @ cols[n]^T: one BLAS call per image accumulating into gw.
        acc = np.empty((f, k), dtype=gy.dtype)
        tmp = np.empty((f, k), dtype=gy.dtype)
        np.matmul(gy3[0], cols[0].T, out=acc)
        for i in range(1, n):
            np.matmul(gy3[i], cols[i].T, out=tmp)
            acc += tmp
        gw = acc.reshape(w.shape)
    if need_gx:
        gcols = np.matmul(w2.T, gy3)  # (N, K, P)
        gx = _col2im_flat(gcols.reshape(-1), k * p, p, x_shape, kernel, stride, pad, gy.dtype)
    return gx, gw, gb
