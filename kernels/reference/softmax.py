"""Softmax family over the last axis of a 2-D array (rows, classes), max-subtracted.

softmax:      y = exp(x - max) / sum exp(x - max)          dx = y (dy - sum(dy y))
log_softmax:  y = x - lse(x), lse(x) = max + log sum exp(x - max)
              dx = dy - exp(y) sum(dy)
sparse CE:    loss_i = lse(z_i) - z_i[label_i]             dz_i = softmax(z_i) - onehot(label_i)
soft CE:      loss_i = -sum_k t_ik log_softmax(z_i)_k      dz_i = softmax(z_i) sum_k t_ik - t_i
The CE kernels return per-row losses and the unscaled gradient of their sum;
the caller scales by the upstream gradient and 1/N. No probability is clipped.
"""

import numpy as np


def _shifted_exp(x):
    shifted = x - x.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return shifted, e, e.sum(axis=1, keepdims=True)


def softmax_fwd(x):
    _, e, s = _shifted_exp(x)
    return e / s


def softmax_bwd(y, gy):
    return y * (gy - (gy * y).sum(axis=1, keepdims=True))


def log_softmax_fwd(x):
    shifted, _, s = _shifted_exp(x)
    return shifted - np.log(s)


def log_softmax_bwd(y, gy):
    return gy - np.exp(y) * gy.sum(axis=1, keepdims=True)


def softmax_ce_fwd_bwd(logits, labels, want_grad):
    shifted, e, s = _shifted_exp(logits)
    rows = np.arange(logits.shape[0])
    loss = np.log(s[:, 0]) - shifted[rows, labels]
    grad = None
    if want_grad:
        grad = e / s
        grad[rows, labels] -= 1
    return loss, grad


def softmax_ce_soft_fwd_bwd(logits, targets, want_grad):
    shifted, e, s = _shifted_exp(logits)
    log_p = shifted - np.log(s)
    loss = -(targets * log_p).sum(axis=1)
    grad = (e / s) * targets.sum(axis=1, keepdims=True) - targets if want_grad else None
    return loss, grad


def mean_rows(loss):
    """mean_i loss_i as a 0-d array of loss's dtype."""
    return np.asarray(loss.mean(), dtype=loss.dtype)


def scale_by_mean_grad(dlogits, g, n):
    """dlogits * (g / n): the gradient of a mean over n rows reaching dlogits, for the
    gradient g (one element) of that mean. dlogits is handed over: the result may be
    dlogits itself, scaled in place (as here)."""
    return np.multiply(dlogits, g / n, out=dlogits)
