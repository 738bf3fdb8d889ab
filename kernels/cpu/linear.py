"""Dense layer kernels (Numba): y = act(x @ W + b).

Forward:  z = x W (BLAS GEMM),  then  z += b,  y = act(z)      in one pass over the GEMM output
Backward: dz = act'(z or y) * dy  and  db = sum_n dz            in one pass
          dx = dz W^T,  dW = x^T dz                              (BLAS GEMM, no transposed copies)

x: (N, in), W: (in, out), b: (out,) or None. As in the reference, ``z`` is returned
only for activations whose derivative needs the pre-activation (not in
``contract.GRAD_FROM_OUTPUT``); for the others the epilogue runs in place on the GEMM
output, which becomes y, and nothing else is allocated.

The epilogue and the backward pass are one kernel each for every activation: the
activation is a tag (see activations.py), so each gets its own vectorised
specialisation.
"""

import numpy as np
import numba

from ..contract import GRAD_FROM_OUTPUT
from ..reference import linear as _reference
from . import _jit
from . import activations as _act
from ._jit import dual, jit, prange
from .activations import TAG, act_bwd_one, act_fwd


@dual
def _epilogue_inplace(tag, z, b, alpha):
    """z = act(z + b) in place (b of length 0: no bias)."""
    n, m = z.shape
    for i in prange(n):
        if b.shape[0]:
            for j in range(m):
                z[i, j] = act_fwd(tag, z[i, j] + b[j], alpha)
        else:
            for j in range(m):
                z[i, j] = act_fwd(tag, z[i, j], alpha)


@dual
def _epilogue_split(tag, z, y, b, alpha):
    """z += b in place and y = act(z): for activations whose gradient needs z."""
    n, m = z.shape
    for i in prange(n):
        if b.shape[0]:
            for j in range(m):
                v = z[i, j] + b[j]
                z[i, j] = v
                y[i, j] = act_fwd(tag, v, alpha)
        else:
            for j in range(m):
                y[i, j] = act_fwd(tag, z[i, j], alpha)


@dual
def _grad_and_bias(tag, z, y, gy, dz, partial, alpha, need_gb):
    """dz = gy * act'(z, y); partial[c] = column sums of dz over the c-th block of rows.

    Each block of rows belongs to one thread and sums into its own row of ``partial``
    (float64), so there is no race and no second pass over dz; the caller adds the few
    partial rows.
    """
    n, m = gy.shape
    blocks = partial.shape[0]
    for c in prange(blocks):
        lo = c * n // blocks
        hi = (c + 1) * n // blocks
        acc = partial[c]
        for i in range(lo, hi):
            if need_gb:
                for j in range(m):
                    d = act_bwd_one(tag, z[i, j], y[i, j], gy[i, j], alpha)
                    dz[i, j] = d
                    acc[j] += d
            else:
                for j in range(m):
                    dz[i, j] = act_bwd_one(tag, z[i, j], y[i, j], gy[i, j], alpha)


@jit
def _column_sums(a, out):
    # Rows are summed into a float64 accumulator row (contiguous, vectorised).
    n, m = a.shape
    for i in range(n):
        for j in range(m):
            out[j] += a[i, j]


def _blocks(work):
    # One block of rows per thread when the parallel kernel will run.
    return numba.get_num_threads() if work >= _jit.PARALLEL_MIN else 1


def _tanh_in_place(z):
    return np.tanh(z, out=z)


def _softplus(z):
    return _act.softplus_fwd(z, 0.0)


_UFUNC_FORWARD = {"tanh": _tanh_in_place, "softplus": _softplus}


def linear_fwd(x, w, b, activation, alpha):
    if activation in _UFUNC_FORWARD and x.shape[0] * w.shape[1] < _act.NUMPY_BELOW:
        return _reference.linear_fwd(x, w, b, activation, alpha)   # as linear_bwd (below)
    z = x @ w                                   # BLAS; the only allocation when z is not kept
    bias = b if b is not None else np.empty(0, dtype=z.dtype)
    tag = TAG[activation]
    if activation in _UFUNC_FORWARD:
        # NumPy's SIMD tanh / exp / log1p beat the Numba loop for these (see
        # activations.tanh_fwd and softplus_fwd; linear_softplus ran 0.63x the reference
        # with the fused loop): the bias pass, then the activation's own kernel.
        if b is not None:
            z += b
        return _UFUNC_FORWARD[activation](z), None
    if activation is None or activation in GRAD_FROM_OUTPUT:
        if activation is not None or b is not None:
            _epilogue_inplace(z.size, tag, z, bias, float(alpha))
        return z, None
    y = np.empty_like(z)
    _epilogue_split(z.size, tag, z, y, bias, float(alpha))
    return y, z


def linear_bwd(x, w, z, y, gy, activation, alpha, need_gx, need_gw, need_gb):
    if activation in _UFUNC_FORWARD and gy.size < _act.NUMPY_BELOW:
        # Their forward is NumPy's already; for a few hundred values the reference's
        # backward (NumPy's expression and sum) beats a compiled pass's call overhead:
        # (5, 7) @ (7, 3) tanh forward+backward 6.9 against 7.6 us, at 8x16x16 7.3 against
        # 7.9 (AMD EPYC, 2026-12-05); from about 640 values on they are level.
        return _reference.linear_bwd(x, w, z, y, gy, activation, alpha, need_gx, need_gw, need_gb)
    gb = None
    if activation is None:
        dz = gy                                  # read only: gy belongs to the caller
        if need_gb:
            acc = np.zeros(gy.shape[1], dtype=np.float64)
            _column_sums(gy, acc)
            gb = acc.astype(gy.dtype)
    elif activation == "softplus":
        dz = _act.softplus_bwd(None, y, gy, alpha)   # NumPy's SIMD expm1 (see above)
        if need_gb:
            acc = np.zeros(gy.shape[1], dtype=np.float64)
            _column_sums(dz, acc)
            gb = acc.astype(gy.dtype)
    elif need_gx or need_gw or need_gb:
        # dz is a fresh array: gy and y belong to the caller (y is the op's output tensor).
        dz = np.empty_like(gy)
        partial = np.zeros((_blocks(gy.size) if need_gb else 1, gy.shape[1]), dtype=np.float64)
        zz = y if z is None else z              # GRAD_FROM_OUTPUT: the kernel reads y only
        _grad_and_bias(gy.size, TAG[activation], zz, y, gy, dz, partial, float(alpha), bool(need_gb))
        if need_gb:
            gb = partial.sum(axis=0).astype(gy.dtype)
    else:
        return None, None, None
    gx = dz @ w.T if need_gx else None           # BLAS reads w transposed: no copy
    gw = x.T @ dz if need_gw else None
    return gx, gw, gb
