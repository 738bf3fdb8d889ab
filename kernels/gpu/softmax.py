"""Softmax family over the rows of a 2-D array (formulas: kernels/reference/softmax.py;
CUDA: softmax.cu). One launch each: a warp per row (eight rows to a block), or a
whole block per row when rows are long; the row maximum is subtracted before any
exponent. The cross-entropy kernels give the per-row loss and the gradient together."""

from ._lazy import cupy
import numpy as np

from ._rt import cu, sm_count

_THREADS = 256


def _launch(kernel, shape, dtype, args):
    rows, cols = shape
    if rows == 0:
        return
    if cols > 1024:  # a block per row
        tpr, threads = _THREADS, _THREADS
    else:  # a warp per row; fewer rows a block when that keeps every multiprocessor busy
        tpr, rpb = 32, 8
        while rpb > 1 and rows < 2 * sm_count() * rpb:
            rpb //= 2
        threads = 32 * rpb
    blocks = -(-rows // (threads // tpr))
    cu("softmax.cu", kernel, dtype)((blocks,), (threads,), args[0] + [np.int64(rows), np.int32(cols),
                                                                       np.int32(tpr)] + args[1])


def softmax_fwd(x):
    y = cupy.empty_like(x)
    _launch("fastnn_softmax_rows", x.shape, x.dtype, ([x, y], [np.int32(0)]))
    return y


def log_softmax_fwd(x):
    y = cupy.empty_like(x)
    _launch("fastnn_softmax_rows", x.shape, x.dtype, ([x, y], [np.int32(1)]))
    return y


def softmax_bwd(y, gy):
    gx = cupy.empty_like(gy)
    _launch("fastnn_softmax_rows_bwd", gy.shape, gy.dtype, ([y, gy, gx], [np.int32(0)]))
    return gx


def log_softmax_bwd(y, gy):
    gx = cupy.empty_like(gy)
    _launch("fastnn_softmax_rows_bwd", gy.shape, gy.dtype, ([y, gy, gx], [np.int32(1)]))
    return gx


def softmax_ce_fwd_bwd(logits, labels, want_grad):
    loss = cupy.empty(logits.shape[0], dtype=logits.dtype)
    grad = cupy.empty_like(logits) if want_grad else None
    null = np.uintp(0)
    _launch("fastnn_softmax_ce", logits.shape, logits.dtype,
            ([logits, labels, loss, grad if want_grad else null], [np.int32(bool(want_grad))]))
    return loss, grad


def softmax_ce_soft_fwd_bwd(logits, targets, want_grad):
    loss = cupy.empty(logits.shape[0], dtype=logits.dtype)
    grad = cupy.empty_like(logits) if want_grad else None
    null = np.uintp(0)
    _launch("fastnn_softmax_ce_soft", logits.shape, logits.dtype,
            ([logits, targets, loss, grad if want_grad else null], [np.int32(bool(want_grad))]))
    return loss, grad
