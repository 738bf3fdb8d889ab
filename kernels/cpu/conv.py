"""Convolution kernels (Numba cpu backend): im2col + BLAS GEMM here, Winograd in
winograd.py, a direct kernel in conv_direct.py, and the rule that picks one per shape
(:func:`choose_algorithm`; ``FASTNN_CONV_ALGORITHM`` forces one).

Same semantics as ``kernels/reference/conv.py``, bias and activation fused:
z = conv(x, w) + b, y = act(z) in the pass that writes y; dz = act'(z) * gy in the
first backward pass, which also sums the bias gradient. tanh and softplus run as
their own (NumPy SIMD) kernels after and before the fused identity instead. For x: (N, C, H, W), w: (F, C, kh, kw),
stride (sh, sw), pad (pt, pb, pl, pr), K = C*kh*kw, P = OH*OW:
    OH = (H + pt + pb - kh) // sh + 1,   OW = (W + pl + pr - kw) // sw + 1
    cols[n, (c, p, q), (i, j)] = xpad[n, c, i*sh + p, j*sw + q]
    y[n] = W2 @ cols[n] + b,   W2 = w.reshape(F, K)
Backward:
    gW2 = sum_n gy[n] @ cols[n]^T,   gb[f] = sum_{n,i,j} gy[n, f, i, j]
    gcols[n] = W2^T @ gy[n],   gx = col2im(gcols)  (sum of every column entry back
                                                     onto the input cell it came from)

Two memory layouts of the same cols values, chosen per shape by ``_im2col_fwd``
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
a C-contiguous (N, K, P) cols from ``im2col`` or the reference backend (as ``saved``).

Every Numba kernel is parallel over (image, channel) planes or over rows that no other
iteration writes: col2im accumulates each input plane serially inside its own
iteration (no scatter races). GEMMs run in the Python wrapper through NumPy's BLAS,
never inside a parallel region (the two thread pools must not nest).
"""

import os

import numpy as np

from ..contract import GRAD_FROM_OUTPUT
from . import _workspace, conv_direct, winograd
from . import activations as _act
from ._jit import dual, jit, prange
from ._windows import U, geometry, span
from .activations import TAG, act_bwd_one, epilogue_run, grad_run


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
        store = _workspace.recycled((k, n, p), x.dtype)
        sn, sr = p, n * p
    else:
        store = _workspace.recycled((n, k, p), x.dtype)
        sn, sr = k * p, p
    _im2col(store.size, x.reshape(-1), store.reshape(-1), n, c, h, w, sn, sr, kh, kw, sh, sw, pt, pl, oh, ow)
    return store


def _col2im_flat(cols_flat, sn, sr, x_shape, kernel, stride, pad, dtype):
    n, c, h, w, kh, kw, sh, sw, pt, pl, oh, ow = geometry(x_shape, kernel, stride, pad)
    gx = _workspace.recycled((n, c, h, w), dtype)
    _col2im(cols_flat.size, cols_flat, gx.reshape(-1), n, c, h, w, sn, sr, kh, kw, sh, sw, pt, pl, oh, ow)
    return gx


def im2col(x, kernel, stride, pad):
    return _fill_cols(x, kernel, stride, pad, wide=False)


def col2im(cols, x_shape, kernel, stride, pad):
    n, k, p = cols.shape
    return _col2im_flat(cols.reshape(-1), k * p, p, x_shape, kernel, stride, pad, cols.dtype)


# ----------------------------------------------------------------------------- epilogues / transpose passes


@dual
def _bias_act(y, z, b, tag, alpha, rows, f, p, keep_z):
    # y (N*F, P) in place: z = y + b[f], y = act(z) (the one pass the batched layout adds).
    # b always has F entries (zeros without a bias): a second flag tested per row kept
    # LLVM from vectorising the run (0.62 against 0.19 ms on 64x32x28x28).
    for r in prange(rows):
        epilogue_run(y, r * p, b[r % f], y, z, r * p, p, tag, alpha, keep_z)


@dual
def _unwide_bias_act(yw, b, y, z, tag, alpha, n, f, p, keep_z):
    # y[n, f, :] = act(yw[f, n, :] + b[f]): the NCHW transpose of the wide GEMM output,
    # with the bias and activation on the way (no separate pass, no extra temporary).
    # b has F entries, zeros without a bias (see _bias_act).
    for r in prange(n * f):
        i = r // f
        ff = r - i * f
        epilogue_run(yw, (ff * n + i) * p, b[ff], y, z, r * p, p, tag, alpha, keep_z)


@dual
def _wide_gy_t(gy, zz, y, gyt, partial, tag, alpha, n, f, p, need_gb):
    # gyt[i*P + k, f] = act'(z) gy[i, f, k]: the gradient at the pre-activation with the
    # batch and positions as rows, the layout in which the weight gradient cols @ gyt is
    # one well-shaped GEMM (K x NP times NP x F: measured 1.9 ms against 2.8 ms for
    # gyw @ cols^T with NP as the inner dimension, on the CNN's second convolution).
    # Parallel over images; each image's bias-gradient sums go to its own row of
    # ``partial`` (float64), added up by the caller.
    for i in prange(n):
        for ff in range(f):
            src = U((i * f + ff) * p)
            s = 0.0
            for k in range(U(p)):
                v = act_bwd_one(tag, zz[src + k], y[src + k], gy[src + k], alpha)
                gyt[(U(i * p) + k) * U(f) + U(ff)] = v
                s += v
            if need_gb:
                partial[i, ff] = s


@dual
def _grad_planes(gy, zz, y, gz, partial, tag, alpha, n, f, p):
    # gz = act'(z) gy and partial[n, f] = the plane's sum (the batched layout's first pass).
    for r in prange(n * f):
        i = r // f
        partial[i, r - i * f] = grad_run(gy, zz, y, r * p, gz, r * p, p, tag, alpha)


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


# ----------------------------------------------------------------------------- im2col + GEMM


def _use_wide(n, f, k, p, identity):
    """Whether one wide GEMM beats a batched GEMM per image for this shape.

    Measured on 2 cores (bench/choose_cpu_conv.py conv, float32, forward + backward,
    ms per step, median of interleaved rounds, GOMP_SPINCOUNT=10000):
        64x32x14x14 -> 64 (P=196):   wide 19.5, batched 20.2  (reference 26.4)
        64x1x28x28  -> 32 (P=784):   wide 7.8,  batched 4.1   (reference 5.5)
        32x64x32x32 -> 64 (P=1024):  wide 77.7, batched 90.2 (min 73.4 vs 72.5: a tie)
        32x256x28x28, 1x1 (P=784):   wide 38.3, batched 28.6  (batched skips the copy)
    and with the fused ReLU (bench/RESULTS.md, 2026-12-03, "The algorithm rule"): the
    first layers 1->32 3x3 and 5x5 on 28x28 and 3->32 3x3 on 32x32 (K = 9, 25, 27) run
    10-50% faster batched, 3->32 5x5 on 32x32 (K = 75, P = 1024) 30% faster wide.
    Per-image GEMMs lose when an image has few output positions (small matrices, a
    fixed cost per BLAS call) or when K is long enough for the wide GEMM to pay for its
    transposes; otherwise the batched layout saves the transpose passes.
    """
    return n > 1 and not identity and (p < _WIDE_MAX_P or k >= _WIDE_MIN_K)


#: Output positions per image below which the wide layout is used (see _use_wide).
_WIDE_MAX_P = 512
#: Window length K = C*kh*kw from which the wide layout is used at any P.
_WIDE_MIN_K = 64


def _im2col_fwd(x, w, b, stride, pad, tag, alpha, keep_z):
    n = x.shape[0]
    f, c, kh, kw = w.shape
    _, _, _, _, _, _, _, _, _, _, oh, ow = geometry(x.shape, (kh, kw), stride, pad)
    k, p = c * kh * kw, oh * ow
    w2 = w.reshape(f, k)
    bias = np.zeros(f, dtype=x.dtype) if b is None else b
    identity = (kh, kw) == (1, 1) and tuple(stride) == (1, 1) and not any(pad)
    if _use_wide(n, f, k, p, identity):
        store = _fill_cols(x, (kh, kw), stride, pad, wide=True)  # (K, N, P)
        yw = np.matmul(w2, store.reshape(k, n * p), out=_workspace.scratch("conv_yw", (f, n * p), x.dtype))
        y = _workspace.recycled((n, f, oh, ow), x.dtype)  # yw: (F, N*P), one GEMM for the batch
        z = _workspace.recycled(y.shape, x.dtype) if keep_z else y
        _unwide_bias_act(y.size, yw.reshape(-1), bias, y.reshape(-1), z.reshape(-1), tag, alpha, n, f, p,
                         keep_z)
        return y, (z if keep_z else None), store.transpose(1, 0, 2)
    if identity:
        cols = x.reshape(n, c, p)  # a 1x1 convolution's cols are the input itself: no copy
    else:
        cols = _fill_cols(x, (kh, kw), stride, pad, wide=False)
    y = np.matmul(w2, cols, out=_workspace.recycled((n, f, p), x.dtype))  # one BLAS GEMM per image
    z = _workspace.recycled(y.shape, x.dtype) if keep_z else y
    if b is not None or tag != ():
        _bias_act(y.size, y.reshape(-1), z.reshape(-1), bias, tag, alpha, n * f, f, p, keep_z)
    return y.reshape(n, f, oh, ow), (z.reshape(n, f, oh, ow) if keep_z else None), cols


def _im2col_bwd(x_shape, w, cols, z, y, gy, stride, pad, tag, alpha, need_gx, need_gw, need_gb):
    n, f, oh, ow = gy.shape
    k, p = cols.shape[1], cols.shape[2]
    w2 = w.reshape(f, k)
    kernel = w.shape[2:]
    gx = gw = gb = None
    zz, yy = (y if z is None else z), y
    store = cols.transpose(1, 0, 2)
    if n > 1 and store.flags.c_contiguous and not cols.flags.c_contiguous:  # wide layout (K, N, P)
        if need_gw or need_gx or tag != ():
            gyt = _workspace.scratch("conv_gyt", (n * p, f), gy.dtype)
            partial = np.zeros((n, f) if need_gb else (1, 1), dtype=np.float64)
            _wide_gy_t(gy.size, gy.reshape(-1), zz.reshape(-1), yy.reshape(-1), gyt.reshape(-1), partial, tag, alpha,
                       n, f, p, need_gb)
            if need_gb:
                gb = partial.sum(axis=0).astype(gy.dtype)
            if need_gw:
                gw = np.ascontiguousarray((store.reshape(k, n * p) @ gyt).T).reshape(w.shape)
            if need_gx:
                # (K, N*P), C-contiguous: BLAS reads gyt transposed
                gcols = np.matmul(w2.T, gyt.T, out=_workspace.scratch("conv_gcols", (k, n * p), gy.dtype))
                gx = _col2im_flat(gcols.reshape(-1), p, n * p, x_shape, kernel, stride, pad, gy.dtype)
        elif need_gb:
            gb = np.empty(f, dtype=gy.dtype)
            _sum_bias_grad(gy.size, gy.reshape(-1), gb, n, f, p)
        return gx, gw, gb
    if tag != ():
        gz = _workspace.scratch("conv_gz", gy.shape, gy.dtype)
        partial = np.zeros((n, f), dtype=np.float64)
        _grad_planes(gy.size, gy.reshape(-1), zz.reshape(-1), yy.reshape(-1), gz.reshape(-1), partial, tag, alpha,
                     n, f, p)
        if need_gb:
            gb = partial.sum(axis=0).astype(gy.dtype)
    else:
        gz = gy
        if need_gb:
            gb = np.empty(f, dtype=gy.dtype)
            _sum_bias_grad(gy.size, gy.reshape(-1), gb, n, f, p)
    gy3 = gz.reshape(n, f, p)
    if need_gw:
        # sum_n gy[n] @ cols[n]^T: one batched BLAS call (N products of F x K, small: this
        # layout runs for K < 64, or 1x1), then the sum over n. A loop of per-image calls
        # accumulating into gw took 0.73 against 0.60 ms (64 images, 32 filters of 1x3x3,
        # 28x28), 1.88 against 1.62 ms (3x3x3 on 32x32).
        gw = np.matmul(gy3, cols.transpose(0, 2, 1)).sum(axis=0).reshape(w.shape)
    if need_gx:
        gcols = np.matmul(w2.T, gy3, out=_workspace.scratch("conv_gcols", (n, k, p), gy.dtype))
        gx = _col2im_flat(gcols.reshape(-1), k * p, p, x_shape, kernel, stride, pad, gy.dtype)
    return gx, gw, gb


# ----------------------------------------------------------------------------- the algorithm


ALGORITHMS = ("im2col", "winograd2", "winograd4", "direct")

def _forced_from_environment():
    value = os.environ.get("FASTNN_CONV_ALGORITHM", "auto").strip().lower()
    if value in ("", "auto"):
        return None
    if value not in ALGORITHMS:
        raise ValueError(f"FASTNN_CONV_ALGORITHM must be 'auto' or one of {', '.join(ALGORITHMS)}, got {value!r}")
    return value


#: An algorithm forced for debugging (``FASTNN_CONV_ALGORITHM``, or set this attribute);
#: None or "auto": the rule of :func:`choose_algorithm`. A forced algorithm applies where
#: it can run (Winograd: 3x3 kernels at stride 1); elsewhere the rule decides.
FORCED = _forced_from_environment()


def winograd_applies(w_shape, stride):
    return tuple(w_shape[2:]) == (3, 3) and tuple(stride) == (1, 1)


def choose_algorithm(x_shape, w_shape, stride, pad):
    """The algorithm for one convolution shape: the one place this is decided.

    The rule picks what trains fastest, forward + backward (bench/choose_cpu_conv.py conv,
    float32, ReLU fused, ms per step, median of interleaved rounds; AMD EPYC (Zen 4), 2
    cores, AVX-512, OpenBLAS 0.3.31, 2026-12-05, with the register-blocked Winograd
    transforms of winograd.py; the full table is in bench/RESULTS.md):

        shape (N x C x H x W -> F, 3x3)   im2col  winograd4  winograd2  direct
        32x64x32x32 -> 64                  72.0     29.5       49.0     87.0
        32x32x32x32 -> 32                  24.5     12.1       18.2     23.5
        16x128x16x16 -> 128                30.5     14.0       18.7     60.4
        32x64x16x16 -> 64                  16.0     7.16       11.4     31.8
        32x64x8x8 -> 64                    4.41     2.52       2.55     16.4
        32x128x8x8 -> 128                  17.7     11.5       10.6     69.9
        16x16x32x32 -> 16                  8.37     3.83       6.13     4.36
        64x32x14x14 -> 64 (OH 14)          12.9     9.68       13.8     32.7
        128x32x13x13 -> 64 valid (OH 11)   14.8     11.3       19.2     44.6
        32x8x16x16 -> 16                   1.71     0.936      1.43     2.00
        16x16x8x8 -> 32                    0.754    0.314      0.450    1.78
        64x1x28x28 -> 32 (first layer)     1.82     9.48       14.5     1.39
        64x3x32x32 -> 32 5x5 (first)       10.6     -          -        7.20

    * F(4x4, 3x3) wins every 3x3 stride-1 shape with 8 or more channels measured, the
      14x14 output in 16x16 tiles (77 % of the tiled area real) and 11x11 in 12x12
      (84 %) included; before the transforms were register-blocked (Intel Xeon,
      2026-12-03) it lost those two and C = 8 to im2col, so the thresholds below moved.
    * F(2x2, 3x3) ties F(4x4, 3x3) only on 8x8 maps with many channels; it stays for
      debugging.
    * The direct kernel (kernels/cpu/conv_direct.py) wins first layers at stride 1:
      C_in 1 or 3 (also measured 2026-12-04 on Intel: 1->32 3x3 28x28 b64 2.48 vs 1.48
      against im2col; 3->32 5x5 9.87 vs 5.78).
    """
    forced = FORCED
    if forced is not None and (forced not in ("winograd2", "winograd4") or winograd_applies(w_shape, stride)):
        return forced
    n, c, h, w = x_shape
    if c <= DIRECT_MAX_CHANNELS and tuple(stride) == (1, 1):
        return "direct"
    if winograd_applies(w_shape, stride) and c >= WINOGRAD_MIN_CHANNELS and n * c >= WINOGRAD_MIN_BATCH_CHANNELS:
        oh, ow = h + pad[0] + pad[1] - 2, w + pad[2] + pad[3] - 2
        th, tw = winograd.tiles(oh, ow, 4)
        if oh * ow >= WINOGRAD4_MIN_TILE_USE * (16 * th * tw):
            return "winograd4"
    return "im2col"


#: Input channels up to which the direct kernel runs stride-1 convolutions (first layers;
#: measured for C_in 1 and 3, see choose_algorithm).
DIRECT_MAX_CHANNELS = 3
#: Input channels from which Winograd's transforms pay (see choose_algorithm; C = 8
#: measured 45 % faster than im2col, fewer channels are not measured).
WINOGRAD_MIN_CHANNELS = 8
#: N * C below which Winograd's channel-innermost transforms are too short to pay.
WINOGRAD_MIN_BATCH_CHANNELS = 64
#: Share of the 4x4-tiled output area that must be real output for F(4x4, 3x3): measured
#: winning at 0.77 (14x14), 0.84 (11x11) and 1.0 (see choose_algorithm); below 0.75 (a
#: 6x6 output in 8x8, 0.56) the tiles would waste more than they save, not measured.
WINOGRAD4_MIN_TILE_USE = 0.75


# ----------------------------------------------------------------------------- the kernels

# tanh and softplus run as their own kernels (NumPy's SIMD ufuncs, see activations.py and
# linear.py) after an identity epilogue; every other activation is fused into the
# epilogue and into the first pass of the backward one. (Fusing tanh's gradient measured
# 1.79 against 2.53 ms on the 1->32 3x3 first layer, im2col, but 24.1 against 22.7 ms on
# the 64->64 32x32 Winograd convolution: left separate.)
_SEPARATE = {"tanh": (_act.tanh_fwd, _act.tanh_bwd), "softplus": (_act.softplus_fwd, _act.softplus_bwd)}


class _Saved:
    """conv2d_fwd's record for conv2d_bwd: the algorithm and what it kept."""

    __slots__ = ("algorithm", "data")

    def __init__(self, algorithm, data):
        self.algorithm, self.data = algorithm, data


def conv2d_fwd(x, w, b, stride, pad, activation, alpha):
    algorithm = choose_algorithm(x.shape, w.shape, stride, pad)
    separate = _SEPARATE.get(activation)
    fused = None if separate else activation
    tag, alpha = TAG[fused], float(alpha)
    keep_z = fused is not None and fused not in GRAD_FROM_OUTPUT
    if algorithm == "direct":
        y, z, data = conv_direct.forward(x, w, b, stride, pad, tag, alpha, keep_z)
    elif algorithm == "im2col":
        y, z, data = _im2col_fwd(x, w, b, stride, pad, tag, alpha, keep_z)
    else:
        y, z, data = winograd.forward(x, w, b, pad, tag, alpha, keep_z, int(algorithm[-1]), _workspace.scratch,
                                         _workspace.recycled)
    if separate:
        y = separate[0](y, alpha)
    return y, z, _Saved(algorithm, data)


def conv2d_bwd(x_shape, w, saved, z, y, gy, stride, pad, activation, alpha, need_gx, need_gw, need_gb):
    if not (need_gx or need_gw or need_gb):
        return None, None, None
    separate = _SEPARATE.get(activation)
    if separate:
        gy = separate[1](None, y, gy, alpha)
        activation, y = None, None
    tag, alpha = TAG[activation], float(alpha)
    if y is None:
        y = gy                               # no activation: the kernels never read y
    if not isinstance(saved, _Saved):       # cols from im2col or another backend's reference run
        saved = _Saved("im2col", saved)
    algorithm, data = saved.algorithm, saved.data
    if algorithm == "direct":
        return conv_direct.backward(x_shape, w, data, z, y, gy, stride, pad, tag, alpha, need_gx, need_gw, need_gb,
                                    _workspace.scratch)
    if algorithm == "im2col":
        return _im2col_bwd(x_shape, w, data, z, y, gy, stride, pad, tag, alpha, need_gx, need_gw, need_gb)
    return winograd.backward(x_shape, data, z, y, gy, pad, tag, alpha, need_gx, need_gw, need_gb, _workspace.scratch,
                             _workspace.recycled)
