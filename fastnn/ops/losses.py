"""Losses, all means over the batch, all computed from logits (never from clipped
probabilities):

sparse_categorical_crossentropy(z, y) = mean_i [ logsumexp(z_i) - z_i[y_i] ]
categorical_crossentropy(z, t)        = mean_i [ -sum_k t_ik log_softmax(z_i)_k ]
binary_crossentropy(z, t)             = mean [ max(z, 0) - z t + log(1 + exp(-|z|)) ]
mse(p, t)                             = mean (p - t)^2
mae(p, t)                             = mean |p - t|
l2(w, lam)                            = lam sum w^2   (the weight-decay penalty)
Softmax cross-entropy computes loss and gradient in one pass over the logits.
"""

from __future__ import annotations

import math

import numpy as np

from .. import arguments, function
from ..function import Function
from ..grad_mode import is_grad_enabled
from .checks import (defer_range_check, require_float, require_in_range, require_integer, require_tensor,
                     run_deferred_checks)

_INF = math.inf


def _rows(x):
    return x.reshape(-1, x.shape[-1])


class SparseSoftmaxCE(Function):
    grads_are_fresh = True  # the kernel's gradient array, scaled (labels get no gradient)

    def forward(self, logits, labels, deferred_check=None):
        z, labels = _rows(logits), labels.reshape(-1)
        loss, self.dlogits = self.k.softmax_ce_fwd_bwd(z, labels, self.needs_input_grad[0])
        if deferred_check is not None:  # the kernel recorded bad labels; settle before results are read
            defer_range_check(*deferred_check)
            if not (is_grad_enabled() and self.needs_input_grad[0]):  # no backward follows: now
                run_deferred_checks()
        self.z, self.labels = z, labels   # for a second backward (see below)
        self.shape, self.n = logits.shape, z.shape[0]
        return self.k.mean_rows(loss)

    def backward(self, g):
        # The kernel's gradient array is handed over: scale_by_mean_grad may scale it in place
        # (no 4 MB allocation a step for 1024x1000 logits). A second backward through a
        # retained graph recomputes it from the logits and labels kept above.
        d, self.dlogits = self.dlogits, None
        if d is None:
            _, d = self.k.softmax_ce_fwd_bwd(self.z, self.labels, True)
        return (self.k.scale_by_mean_grad(d, g, self.n).reshape(self.shape), None)


class SoftSoftmaxCE(Function):
    def forward(self, logits, targets):
        z = _rows(logits)
        loss, self.dlogits = self.k.softmax_ce_soft_fwd_bwd(z, _rows(targets), self.needs_input_grad[0])
        self.z, self.shape, self.n = z, logits.shape, z.shape[0]
        return self.xp.asarray(loss.sum() / self.n, dtype=logits.dtype)

    def backward(self, g):
        scale = g / self.n
        gz = self.dlogits.reshape(self.shape) * scale if self.needs_input_grad[0] else None
        gt = -self.k.log_softmax_fwd(self.z).reshape(self.shape) * scale if self.needs_input_grad[1] else None
        return gz, gt


class BinaryCE(Function):
    def forward(self, logits, targets):
        self.z, self.t = logits, targets
        return self.xp.asarray(self.k.bce_logits_fwd(logits, targets).sum() / logits.size, dtype=logits.dtype)

    def backward(self, g):
        gz, gt = self.k.bce_logits_bwd(self.z, self.t, g / self.z.size)
        return (gz if self.needs_input_grad[0] else None, gt if self.needs_input_grad[1] else None)


class MSE(Function):
    def forward(self, pred, target):
        self.p, self.t = pred, target
        return self.k.mse_fwd(pred, target)

    def backward(self, g):
        gp = self.k.mse_bwd(self.p, self.t, g)
        return (gp if self.needs_input_grad[0] else None, -gp if self.needs_input_grad[1] else None)


class L2(Function):
    def forward(self, w, lam):
        self.w, self.lam = w, lam
        return self.xp.asarray(self.k.l2_fwd(w) * lam, dtype=w.dtype)

    def backward(self, g):
        return (self.k.l2_bwd(self.w, g * self.lam), None)


def _as_tensor_like(value, like, name, op):
    """Targets given as data (arrays, lists) take the predictions' dtype and backend: 0/1
    integer or boolean labels are exact in any float. A Tensor must already match."""
    from ..tensor import Tensor, tensor

    if isinstance(value, Tensor):
        if value._backend is not like._backend:
            raise ValueError(f"{op}: {name} lives on {value.backend!r} but the predictions on {like.backend!r}")
        return value
    kind = getattr(getattr(value, "dtype", None), "kind", "f")
    if kind not in "fiub":
        raise TypeError(f"{op}: {name} must be numeric, got dtype {value.dtype}")
    return tensor(value, backend=like.backend, dtype=like.dtype)


def _nonempty(op, pred):
    if pred.size == 0:
        raise ValueError(f"{op}: the batch is empty (shape {pred.shape}); a mean over no samples is undefined")


def _same_shape(op, pred, target, pred_name="logits", target_name="targets"):
    _nonempty(op, pred)
    if pred.shape != target.shape:
        raise ValueError(f"{op}: {pred_name} has shape {pred.shape} but {target_name} has shape {target.shape}; "
                         f"they must match (no silent broadcasting)")


def sparse_categorical_crossentropy(logits, labels):
    """Mean cross-entropy of integer class labels (N,) against logits (N, C)."""
    Tensor = function._Tensor
    op = "sparse_categorical_crossentropy"
    if type(logits) is not Tensor:
        require_tensor(op, "logits", logits)
    require_float(op, logits=logits.data)
    if logits.ndim < 2:
        raise ValueError(f"{op}: logits must be (N, C), got shape {logits.shape}")
    _nonempty(op, logits)
    if isinstance(labels, Tensor):
        array = labels.data
    elif isinstance(labels, (np.ndarray, list, tuple)):
        array = np.asarray(labels)  # checked here on the host, then moved
    else:
        array = logits._backend.asarray(labels)
    if isinstance(labels, Tensor) and labels._backend is not logits._backend:
        raise ValueError(f"{op}: labels live on {labels.backend!r} but logits on {logits.backend!r}")
    require_integer(op, "labels", array)
    if tuple(array.shape) != logits.shape[:-1]:
        raise ValueError(f"{op}: labels must have shape {logits.shape[:-1]} for logits of shape {logits.shape}, "
                         f"got {tuple(array.shape)}")
    # A backend with deferred checks (gpu: its kernel records bad labels on the device)
    # lets the check wait for the next point that synchronises anyway; host labels are
    # checked before they move.
    backend = logits._backend
    deferred = None
    if not backend.deferred_checks or isinstance(array, np.ndarray):
        require_in_range(op, "labels", array, logits.shape[-1], np if isinstance(array, np.ndarray) else backend.xp)
        array = backend.asarray(array)
    else:
        deferred = (op, "labels", array, logits.shape[-1], backend.xp, backend.label_recorder())
    return SparseSoftmaxCE.apply(logits, logits._backend.contiguous(array.astype("int64", copy=False)),
                                 deferred_check=deferred)


def categorical_crossentropy(logits, targets):
    """Mean cross-entropy of one-hot or soft target distributions against logits (N, C)."""
    op = "categorical_crossentropy"
    if type(logits) is not function._Tensor:
        require_tensor(op, "logits", logits)
    targets = _as_tensor_like(targets, logits, "targets", op)
    require_float(op, logits=logits.data, targets=targets.data)
    if logits.ndim < 2:
        raise ValueError(f"{op}: logits must be (N, C), got shape {logits.shape}")
    _same_shape(op, logits, targets)
    return SoftSoftmaxCE.apply(logits, targets)


def binary_crossentropy(logits, targets):
    """Mean binary cross-entropy of targets in [0, 1] against logits (stable for any logit)."""
    op = "binary_crossentropy"
    if type(logits) is not function._Tensor:
        require_tensor(op, "logits", logits)
    targets = _as_tensor_like(targets, logits, "targets", op)
    require_float(op, logits=logits.data, targets=targets.data)
    _same_shape(op, logits, targets)
    return BinaryCE.apply(logits, targets)


def mse(pred, target):
    """Mean squared error over all elements; shapes must match exactly."""
    if type(pred) is not function._Tensor:
        require_tensor("mse", "pred", pred)
    target = _as_tensor_like(target, pred, "target", "mse")
    require_float("mse", pred=pred.data, target=target.data)
    _same_shape("mse", pred, target, "pred", "target")
    return MSE.apply(pred, target)


def mae(pred, target):
    """Mean absolute error over all elements; shapes must match exactly."""
    if type(pred) is not function._Tensor:
        require_tensor("mae", "pred", pred)
    target = _as_tensor_like(target, pred, "target", "mae")
    require_float("mae", pred=pred.data, target=target.data)
    _same_shape("mae", pred, target, "pred", "target")
    return (pred - target).abs().mean()


def l2(weight, lam=0.01):
    """The L2 penalty lam * sum(weight^2) (Keras' l2 regularizer); lam a finite number >= 0."""
    if type(lam) is not float or not 0.0 <= lam < _INF:   # nan fails the range test
        lam = arguments.non_negative(lam, "l2", "lam")
    if type(weight) is not function._Tensor:
        require_tensor("l2", "weight", weight)
    require_float("l2", weight=weight.data)
    return L2.apply(weight, lam=lam)
