"""Softmax family over the rows of a 2-D array (formulas: kernels/reference/softmax.py;
CUDA: softmax.cu). One launch each: a warp per row (eight rows to a block), or a
whole block per row when rows are long; the row maximum is subtracted before any
exponent. The cross-entropy kernels give the per-row loss and the gradient together."""

from ._lazy import cupy
import numpy as np

from ._rt import cu, grid, sm_count

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


class BadLabelRows:
    """The device word where ``fastnn_softmax_ce`` records the smallest row whose label
    lies outside [0, cols) (-1: none since the last read); one per device. Writing it
    costs nothing on the host; reading it (``take``) synchronises, so the ops read it
    only at a check point (fastnn/ops/checks.py: run_deferred_checks)."""

    def __init__(self):
        self.word = cupy.full(1, -1, dtype=cupy.int64)

    def take(self) -> int:
        """The recorded row (or -1), and the word reset to -1."""
        row = int(self.word.get()[0])
        if row >= 0:
            self.word.fill(-1)
        return row


_bad_rows: dict = {}


def bad_label_rows() -> BadLabelRows:
    """The recorder of the current device (``GpuBackend.label_recorder``, to which the
    sparse cross-entropy op defers its label range check)."""
    dev = cupy.cuda.runtime.getDevice()
    rec = _bad_rows.get(dev)
    if rec is None:
        rec = _bad_rows[dev] = BadLabelRows()
    return rec


def softmax_ce_fwd_bwd(logits, labels, want_grad):
    """Rows with an out-of-range label get a NaN loss and gradient and are recorded in
    ``bad_label_rows()`` instead of being checked here (a check would synchronise)."""
    loss = cupy.empty(logits.shape[0], dtype=logits.dtype)
    grad = cupy.empty_like(logits) if want_grad else None
    null = np.uintp(0)
    _launch("fastnn_softmax_ce", logits.shape, logits.dtype,
            ([logits, labels, loss, grad if want_grad else null, bad_label_rows().word],
             [np.int32(bool(want_grad))]))
    return loss, grad


def mean_rows(loss):
    """The mean of the per-row losses as a 0-d array: one launch (a CuPy reduction costs
    about ten times its host time)."""
    out = cupy.empty((), dtype=loss.dtype)
    cu("softmax.cu", "fastnn_mean_rows", loss.dtype)((1,), (_THREADS,), [loss, out, np.int64(loss.size)])
    return out


def scale_by_mean_grad(dlogits, g, n):
    """dlogits * (g / n) for the gradient g of the mean (a one-element array): one launch
    instead of two CuPy operations."""
    if g.size != 1 or g.dtype != dlogits.dtype or not isinstance(g, cupy.ndarray):
        return dlogits * (g / n)
    out = cupy.empty_like(dlogits)
    size = dlogits.size
    if size:
        cu("softmax.cu", "fastnn_scale_by_mean_grad", dlogits.dtype)(
            (grid(size),), (_THREADS,), [dlogits, cupy.ascontiguousarray(g), out, np.int64(size), np.int64(n)])
    return out


def softmax_ce_soft_fwd_bwd(logits, targets, want_grad):
    loss = cupy.empty(logits.shape[0], dtype=logits.dtype)
    grad = cupy.empty_like(logits) if want_grad else None
    null = np.uintp(0)
    _launch("fastnn_softmax_ce_soft", logits.shape, logits.dtype,
            ([logits, targets, loss, grad if want_grad else null], [np.int32(bool(want_grad))]))
    return loss, grad
