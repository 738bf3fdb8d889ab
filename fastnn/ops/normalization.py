"""Batch normalisation over axis 1 of (N, C) or (N, C, H, W).

Training: y = gamma (x - mu_B) / sqrt(var_B + eps) + beta with the batch mean and
(biased) variance per channel; running statistics move toward the batch ones,
    running_mean <- (1 - momentum) running_mean + momentum mu_B
    running_var  <- (1 - momentum) running_var  + momentum var_B m / (m - 1)
(PyTorch's convention: ``momentum`` weighs the new batch; the variance kept is unbiased).
Inference: the running statistics replace the batch ones.
"""

from __future__ import annotations

import math

from .. import arguments, function
from ..function import Function
from .checks import require_float, require_ndim, require_tensor

_INF = math.inf


class BatchNorm(Function):
    grads_are_fresh = True  # the kernels allocate gx, ggamma and gbeta

    def forward(self, x, gamma, beta, running_mean, running_var, training, momentum, eps):
        require_float("batch_norm", x=x, gamma=gamma, beta=beta, running_mean=running_mean, running_var=running_var)
        require_ndim("batch_norm", "x", x, (2, 4))
        channels = x.shape[1]
        for name, v in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean), ("running_var", running_var)):
            if v is not None and tuple(v.shape) != (channels,):
                raise ValueError(f"batch_norm: {name} must have shape ({channels},) for x of shape "
                                 f"{tuple(x.shape)}, got {tuple(v.shape)}")
        xp = self.xp
        self.has_gamma = gamma is not None
        gamma = gamma if gamma is not None else xp.ones(channels, dtype=x.dtype)
        beta = beta if beta is not None else xp.zeros(channels, dtype=x.dtype)
        self.x, self.gamma = x, gamma
        self.training = training or running_mean is None
        if self.training:
            count = x.size // channels if channels else 0   # no channel: no statistics either
            if count < 2:
                raise ValueError(f"batch_norm: training needs more than one value per channel, x has shape "
                                 f"{tuple(x.shape)}")
            if running_mean is None:  # batch statistics only: update throw-away buffers
                running_mean, running_var = xp.zeros(channels, dtype=x.dtype), xp.ones(channels, dtype=x.dtype)
            y, self.mean, self.invstd = self.k.batchnorm_fwd_train(x, gamma, beta, running_mean, running_var,
                                                                   momentum, eps)
            return y
        self.running = (running_mean.copy(), running_var.copy(), eps)
        return self.k.batchnorm_fwd_eval(x, gamma, beta, running_mean, running_var, eps)

    def backward(self, g):
        if self.training:
            gx, ggamma, gbeta = self.k.batchnorm_bwd_train(self.x, self.gamma, self.mean, self.invstd, g)
        else:
            mean, var, eps = self.running
            gx, ggamma, gbeta = self.k.batchnorm_bwd_eval(self.x, self.gamma, mean, var, eps, g)
        needs = self.needs_input_grad
        return (gx if needs[0] else None, ggamma if needs[1] else None, gbeta if needs[2] else None)


def batch_norm(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """Normalise x per channel (axis 1); see the module docstring for the formulas.

    running_mean / running_var are tensors updated in place while training (or None
    to always use batch statistics). gamma / beta may be None (no affine transform).
    x and the running statistics must be tensors; ``training`` is True or False,
    ``momentum`` a finite number in [0, 1], ``eps`` a finite number > 0.
    """
    # Fast paths first (this runs for every batch-norm call): the exact types, in range.
    Tensor = function._Tensor
    if type(x) is not Tensor:
        require_tensor("batch_norm", "x", x)
    if training is not True and training is not False:
        training = arguments.boolean(training, "batch_norm", "training")
    if type(momentum) is not float or not 0.0 <= momentum <= 1.0:   # nan fails the range test
        momentum = arguments.real(momentum, "batch_norm", "momentum", low=0.0, high=1.0)
    if type(eps) is not float or not 0.0 < eps < _INF:
        eps = arguments.positive(eps, "batch_norm", "eps")
    if running_mean is None or running_var is None:
        if running_mean is not running_var:
            raise ValueError("batch_norm: give both running_mean and running_var, or neither")
        return BatchNorm.apply(x, gamma, beta, running_mean=None, running_var=None, training=training,
                               momentum=momentum, eps=eps)
    if type(running_mean) is not Tensor:
        require_tensor("batch_norm", "running_mean", running_mean)
    if type(running_var) is not Tensor:
        require_tensor("batch_norm", "running_var", running_var)
    backend = x._backend
    if running_mean._backend is not backend or running_var._backend is not backend:
        other = running_mean if running_mean._backend is not backend else running_var
        raise ValueError(f"batch_norm: running statistics live on {other.backend!r} but x on {x.backend!r}")
    return BatchNorm.apply(x, gamma, beta, running_mean=running_mean.data, running_var=running_var.data,
                           training=training, momentum=momentum, eps=eps)
