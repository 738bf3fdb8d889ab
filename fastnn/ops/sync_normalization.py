"""Synchronised batch normalisation: the batch statistics of the GLOBAL batch, whose rows
are spread over the ranks of a world of processes (``fastnn.distributed``), in training.

Rank r holds x_r, its n_r samples of the global batch of N = sum_r n_r samples; per
channel c (axis 1 of (N, C) or (N, C, H, W)) it holds m_r = n_r H W values, M = sum_r m_r.

Forward (two allreduces of a few numbers a channel):

    [S, M, N]  = allreduce([sum x_r, m_r, n_r])        per-channel sums and the counts, one buffer
    mu         = S / M
    V          = allreduce(sum (x_r - mu)^2)           sum of squared deviations from the global mean
    var        = V / M  (biased),   invstd = 1 / sqrt(var + eps)
    xhat       = (x_r - mu) invstd,  y_r = gamma xhat + beta
    running_mean <- (1 - momentum) running_mean + momentum mu
    running_var  <- (1 - momentum) running_var  + momentum var M / (M - 1)

which are exactly one process's batch statistics over the whole batch (``BatchNorm`` in
``normalization.py``; M / (M - 1) with the global M). The second pass over x (deviations
from the global mean rather than sum x^2 - M mu^2) keeps the variance free of the
cancellation that the one-pass form suffers when |mu| is large against the spread.

Backward: which upstream gradient a rank holds. Data-parallel training (``fastnn/replicas.py``)
computes on rank r the loss L_r = (1/n_r) sum_{i in r} l_i, the mean over its own samples,
and combines the ranks' weight gradients as g = sum_r w_r g_r with w_r = n_r / N, so that
g is the gradient of one process's loss L = (1/N) sum_i l_i = sum_r w_r L_r. A rank's
upstream gradient is therefore

    dy_r = dL_r/dy_r = (1 / w_r) dL/dy_r.

With sync batch norm every output depends on every rank's input (through mu and var), so
dL/dx_r needs sums of dL/dy over the whole batch. In terms of the single-process gradient
dL/dy, the batch-norm backward (the reference's batchnorm_bwd_train) reads

    dL/dx_i = gamma invstd / M (M dL/dy_i - sum_j dL/dy_j - xhat_i sum_j dL/dy_j xhat_j),

the sums over all M values of the channel, on every rank. Each rank turns its own dy_r
back into dL/dy_r = w_r dy_r before the sums are added (one allreduce of both, packed):

    A = allreduce(w_r sum dy_r),   B = allreduce(w_r sum dy_r xhat)      (= the sums above)

The gradient it hands upstream must again be the gradient of ITS loss L_r, because the
layers below compute their weight gradients from it and the trainer weighs those by w_r:

    dx_r = (1 / w_r) dL/dx_r = gamma invstd (dy_r - (A + xhat B) / (M w_r)),

where M w_r = M n_r / N is m_r when every rank's images have the same H and W.
gamma and beta are weights like any other: the trainer forms sum_r w_r dgamma_r, which
must be dL/dgamma = sum_j dL/dy_j xhat_j = sum_r w_r sum_{i in r} dy_i xhat_i, so

    dgamma_r = sum_{i in r} dy_i xhat_i,   dbeta_r = sum_{i in r} dy_i      (rank-local sums)

and after the trainer's weighted reduction gx, dgamma and dbeta are one process's. With
equal shares w_r = 1 / R (R ranks) and A, B are the plain sums of the dy_r over the ranks
divided by R: this is PyTorch's SyncBatchNorm under DistributedDataParallel's gradient mean.

In a world of one process w_r = 1 and every formula above is BatchNorm's; the layer
(``SyncBatchNormalization``) then calls ``batch_norm`` itself, so that it is BatchNorm bit
for bit. Inference uses the running statistics and needs no collective: the layer calls
``batch_norm`` for it too. This op is the training computation only.

Collectives: every rank must make the same calls in the same order, two allreduces in
forward and one in backward (the backward's allreduce runs even where x needs no gradient,
so that no rank waits for another that skipped it). A rank whose share is empty (n_r = 0)
takes part with zeros. The collectives take host arrays: the per-channel vectors travel
through the host (a device backend copies C to 2C + 2 numbers each way) and are summed
in float64, which also keeps the counts exact.
"""

from __future__ import annotations

import numpy as np

from .. import arguments
from ..function import Function
from .checks import require_float, require_ndim

OP = "sync_batch_norm"


def _chan(v):
    return v.reshape(1, -1, 1)


class SyncBatchNorm(Function):
    grads_are_fresh = True  # gx, ggamma and gbeta are allocated here

    def forward(self, x, gamma, beta, running_mean, running_var, momentum, eps, world):
        require_float(OP, x=x, gamma=gamma, beta=beta, running_mean=running_mean, running_var=running_var)
        require_ndim(OP, "x", x, (2, 4))
        channels = x.shape[1]
        for name, v in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean), ("running_var", running_var)):
            if v is not None and tuple(v.shape) != (channels,):
                raise ValueError(f"{OP}: {name} must have shape ({channels},) for x of shape "
                                 f"{tuple(x.shape)}, got {tuple(v.shape)}")
        xp, dtype = self.xp, x.dtype
        gamma = gamma if gamma is not None else xp.ones(channels, dtype=dtype)
        beta = beta if beta is not None else xp.zeros(channels, dtype=dtype)
        x3 = x.reshape(x.shape[0], channels, int(np.prod(x.shape[2:])))   # not -1: a share may be empty
        samples, values = x3.shape[0], x3.shape[0] * x3.shape[2]

        totals = world.allreduce(np.concatenate([self._host64(x3.sum(axis=(0, 2))), [values, samples]]))
        count, global_samples = float(totals[channels]), float(totals[channels + 1])
        if count < 2:   # every rank sees the same totals, so every rank raises: no rank is left waiting
            raise ValueError(f"{OP}: training needs more than one value per channel in the global batch, the "
                             f"{world.size} ranks hold {int(count)} (this rank: x of shape {tuple(x.shape)})")
        mean64 = totals[:channels] / count
        mean = self._device(mean64, dtype)
        centered = x3 - _chan(mean)
        var64 = world.allreduce(self._host64((centered * centered).sum(axis=(0, 2)))) / count
        invstd = self._device(1.0 / np.sqrt(var64 + eps), dtype)
        y = centered * _chan(invstd * gamma) + _chan(beta)

        if running_mean is not None:    # in place, as batchnorm_fwd_train updates them
            running_mean *= 1 - momentum
            running_mean += momentum * mean
            running_var *= 1 - momentum
            running_var += momentum * self._device(var64 * (count / (count - 1)), dtype)

        self.x3, self.gamma, self.mean, self.invstd, self.world = x3, gamma, mean, invstd, world
        self.count, self.samples, self.global_samples = count, samples, global_samples
        return y.reshape(x.shape)

    def backward(self, g):
        x3, world, channels = self.x3, self.world, self.x3.shape[1]
        g3 = g.reshape(x3.shape)
        xhat = (x3 - _chan(self.mean)) * _chan(self.invstd)
        gbeta = g3.sum(axis=(0, 2))             # rank-local: the trainer weighs them by w_r (module docstring)
        ggamma = (g3 * xhat).sum(axis=(0, 2))
        weight = self.samples / self.global_samples     # w_r = n_r / N
        sums = world.allreduce(np.concatenate([self._host64(gbeta), self._host64(ggamma)]) * weight)
        if self.samples:
            local = self.count * weight                  # M w_r: m_r when the ranks' H, W agree
            sum_dy = self._device(sums[:channels] / local, g.dtype)
            sum_dy_xhat = self._device(sums[channels:] / local, g.dtype)
            gx = _chan(self.gamma * self.invstd) * (g3 - _chan(sum_dy) - xhat * _chan(sum_dy_xhat))
        else:                                            # an empty share: nothing to differentiate
            gx = self.xp.zeros_like(g3)
        needs = self.needs_input_grad
        return (gx.reshape(g.shape) if needs[0] else None, ggamma if needs[1] else None,
                gbeta if needs[2] else None)

    def _host64(self, array):
        """A float64 host copy of a per-channel vector, for the collectives."""
        return np.asarray(self.backend.to_numpy(array), dtype=np.float64)

    def _device(self, array64, dtype):
        """A host float64 vector as an array of this backend in ``dtype``."""
        return self.backend.asarray(array64.astype(dtype))


def sync_batch_norm(x, gamma, beta, running_mean, running_var, world, momentum=0.1, eps=1e-5):
    """Batch normalisation in training with the statistics of the global batch spread over
    ``world``'s ranks (a ``fastnn.distributed`` world); see the module docstring for the
    formulas and for the gradient each rank must hand in (that of the mean loss over its
    own samples, as data-parallel ``fit`` computes it).

    ``momentum`` is PyTorch's (the weight of the new batch), as in ``batch_norm``.
    running_mean / running_var are tensors updated in place (or both None). gamma / beta
    may be None (no affine transform). Every rank must call it, in the same order.
    """
    momentum = arguments.real(momentum, OP, "momentum", low=0.0, high=1.0)
    eps = arguments.positive(eps, OP, "eps")
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{OP}: give both running_mean and running_var, or neither")
    if not (isinstance(getattr(world, "size", None), int) and callable(getattr(world, "allreduce", None))):
        raise TypeError(f"{OP}: world must be a fastnn.distributed world (fastnn.distributed.world()), "
                        f"got {type(world).__name__}")
    stats = [None if s is None else s.data for s in (running_mean, running_var)]
    for s in (running_mean, running_var):
        if s is not None and s._backend is not x._backend:
            raise ValueError(f"{OP}: running statistics live on {s.backend!r} but x on {x.backend!r}")
    return SyncBatchNorm.apply(x, gamma, beta, running_mean=stats[0], running_var=stats[1], momentum=float(momentum),
                               eps=float(eps), world=world)
