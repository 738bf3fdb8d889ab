"""Softmax family and softmax cross-entropy (Numba), rows of a 2-D array, max-subtracted.

softmax:      y = exp(x - max) / sum exp(x - max)          dx = y (dy - sum(dy y))
log_softmax:  y = x - lse(x), lse(x) = max + log sum exp(x - max)
              dx = dy - exp(y) sum(dy)
sparse CE:    loss_i = log s_i - (z_i[label_i] - max_i), s_i = sum_k exp(z_ik - max_i)
              dz_i = exp(z_i - max_i) / s_i - onehot(label_i)
soft CE:      loss_i = -sum_k t_ik (z_ik - max_i - log s_i)
              dz_i = exp(z_i - max_i) / s_i * sum_k t_ik - t_i
The CE kernels return per-row losses and the unscaled gradient of their sum.

One pass over the logits per row: the max, then exp(z - max) written straight into the
gradient row while its sum accumulates (in float64), then the row is scaled in place
while it is still in L1; the logits are read from memory once and the gradient written
once. Rows run in parallel above PARALLEL_MIN elements. exp is activations.vexp, a
vectorised exp (float32 evaluated in float32: these kernels are float32 hot paths);
NumPy's SIMD np.exp on a separate pass measured slower (bench/choose_cpu_math.py).
Row sums accumulate in the input's dtype: with reassociation they vectorise into
16 float32 partial sums (a float64 accumulator halved the speed), and a row of 10^3
terms in 16 lanes loses less than the reference's pairwise float32 sum allows.
NaN/inf: the max ignores a NaN, but a NaN logit still makes its row's sum, loss and
gradient NaN, and a +inf logit gives inf - inf = NaN, as in the reference.
"""

import math

import numpy as np

from ._jit import dual, jit, prange
from ._workspace import recycled
from .activations import as_type_of, vexp


@jit(inline=True)
def _row_max(x, i):
    """max of row i of x (a NaN after the first element is skipped: the row's sum turns
    NaN anyway). Sixteen running maxima in sixteen local variables: one compare-select
    chain is latency bound (4 cycles an element), and sixteen kept in a scratch array
    stayed in memory (LLVM cannot tell the scratch from x): 0.30 ms for 1024 rows of
    1000, against 0.16 ms in registers (serial). The row is indexed, not sliced: a slice
    is a new array whose reference count every row raised and lowered (atomically, on a
    count both threads share: the threaded kernel ran 16 % slower)."""
    m = x.shape[1]
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = x[i, 0]
    b0 = b1 = b2 = b3 = b4 = b5 = b6 = b7 = x[i, 0]
    full = m - m % 16
    for j in range(0, full, 16):
        v = x[i, j]
        a0 = v if v > a0 else a0
        v = x[i, j + 1]
        a1 = v if v > a1 else a1
        v = x[i, j + 2]
        a2 = v if v > a2 else a2
        v = x[i, j + 3]
        a3 = v if v > a3 else a3
        v = x[i, j + 4]
        a4 = v if v > a4 else a4
        v = x[i, j + 5]
        a5 = v if v > a5 else a5
        v = x[i, j + 6]
        a6 = v if v > a6 else a6
        v = x[i, j + 7]
        a7 = v if v > a7 else a7
        v = x[i, j + 8]
        b0 = v if v > b0 else b0
        v = x[i, j + 9]
        b1 = v if v > b1 else b1
        v = x[i, j + 10]
        b2 = v if v > b2 else b2
        v = x[i, j + 11]
        b3 = v if v > b3 else b3
        v = x[i, j + 12]
        b4 = v if v > b4 else b4
        v = x[i, j + 13]
        b5 = v if v > b5 else b5
        v = x[i, j + 14]
        b6 = v if v > b6 else b6
        v = x[i, j + 15]
        b7 = v if v > b7 else b7
    mx = a0
    for v in (a1, a2, a3, a4, a5, a6, a7, b0, b1, b2, b3, b4, b5, b6, b7):
        mx = v if v > mx else mx
    for j in range(full, m):
        v = x[i, j]
        mx = v if v > mx else mx
    return mx


@dual
def _ce_sparse(x, labels, loss, grad, want_grad):
    n, m = x.shape
    for i in prange(n):
        mx = _row_max(x, i)
        s = as_type_of(0.0, mx)  # accumulate in the input dtype (see the module docstring)
        if want_grad:
            for j in range(m):
                e = vexp(x[i, j] - mx)
                grad[i, j] = e
                s += e
            inv = as_type_of(1.0 / s, mx)
            for j in range(m):
                grad[i, j] *= inv
            grad[i, labels[i]] -= 1
        else:
            for j in range(m):
                s += vexp(x[i, j] - mx)
        loss[i] = math.log(s) - (x[i, labels[i]] - mx)


@dual
def _ce_soft(x, t, loss, grad, want_grad):
    n, m = x.shape
    for i in prange(n):
        mx = _row_max(x, i)
        s = 0.0
        tsum = 0.0
        if want_grad:
            for j in range(m):
                e = vexp(x[i, j] - mx)
                grad[i, j] = e
                s += e
                tsum += t[i, j]
        else:
            for j in range(m):
                s += vexp(x[i, j] - mx)
        lse = as_type_of(math.log(s), mx)
        acc = 0.0
        for j in range(m):
            acc += t[i, j] * ((x[i, j] - mx) - lse)
        loss[i] = -acc
        if want_grad:
            c = as_type_of(tsum / s, mx)
            for j in range(m):
                grad[i, j] = grad[i, j] * c - t[i, j]


@dual
def _softmax(x, y, log):
    n, m = x.shape
    for i in prange(n):
        mx = _row_max(x, i)
        s = 0.0
        if log:
            for j in range(m):
                s += vexp(x[i, j] - mx)
            lse = as_type_of(math.log(s), mx)
            for j in range(m):
                y[i, j] = (x[i, j] - mx) - lse
        else:
            for j in range(m):
                e = vexp(x[i, j] - mx)
                y[i, j] = e
                s += e
            inv = as_type_of(1.0 / s, mx)
            for j in range(m):
                y[i, j] *= inv


@dual
def _softmax_bwd(y, gy, gx):
    n, m = y.shape
    for i in prange(n):
        dot = 0.0
        for j in range(m):
            dot += gy[i, j] * y[i, j]
        d = as_type_of(dot, y[i, 0])
        for j in range(m):
            gx[i, j] = y[i, j] * (gy[i, j] - d)


@dual
def _log_softmax_bwd(y, gy, gx):
    n, m = y.shape
    for i in prange(n):
        tot = 0.0
        for j in range(m):
            tot += gy[i, j]
        d = as_type_of(tot, y[i, 0])
        for j in range(m):
            gx[i, j] = gy[i, j] - vexp(y[i, j]) * d


def softmax_fwd(x):
    y = np.empty_like(x)
    _softmax(x.size, x, y, False)
    return y


def softmax_bwd(y, gy):
    gx = np.empty_like(gy)
    _softmax_bwd(gy.size, y, gy, gx)
    return gx


def log_softmax_fwd(x):
    y = np.empty_like(x)
    _softmax(x.size, x, y, True)
    return y


def log_softmax_bwd(y, gy):
    gx = np.empty_like(gy)
    _log_softmax_bwd(gy.size, y, gy, gx)
    return gx


def softmax_ce_fwd_bwd(logits, labels, want_grad):
    loss = np.empty(logits.shape[0], dtype=logits.dtype)
    grad = recycled(logits.shape, logits.dtype) if want_grad else logits[:0]
    _ce_sparse(logits.size, logits, labels, loss, grad, bool(want_grad))
    return loss, (grad if want_grad else None)


def softmax_ce_soft_fwd_bwd(logits, targets, want_grad):
    loss = np.empty(logits.shape[0], dtype=logits.dtype)
    grad = np.empty_like(logits) if want_grad else logits[:0]
    _ce_soft(logits.size, logits, targets, loss, grad, bool(want_grad))
    return loss, (grad if want_grad else None)


def mean_rows(loss):
    # NumPy's own mean goes through Python (numpy/_core/_methods.py): several microseconds
    # per step of a small model. The same pairwise sum and division, without it.
    return np.asarray(np.add.reduce(loss) / loss.size, dtype=loss.dtype)


def scale_by_mean_grad(dlogits, g, n):
    # In place, as the contract allows (the caller hands dlogits over): a new array would
    # cost a page fault per 4 KB for large logits, or, recycled, a second stream of
    # writes (softmax_ce fwd+bwd at 1024x1000: 0.48 against 0.435 ms in place).
    return np.multiply(dlogits, g / n, out=dlogits)
