"""Batch normalisation over axis 1 of (N, C) or (N, C, H, W); statistics per channel c
over the m = N*H*W values of that channel.

Train forward:  mu = mean(x),  var = mean((x - mu)^2)  (biased),  invstd = 1 / sqrt(var + eps)
                xhat = (x - mu) invstd,  y = gamma xhat + beta
                running_mean <- (1 - momentum) running_mean + momentum mu
                running_var  <- (1 - momentum) running_var  + momentum var * m / (m - 1)  (unbiased)
Eval forward:   y = gamma (x - running_mean) / sqrt(running_var + eps) + beta
Train backward: dbeta = sum dy,  dgamma = sum dy xhat,
                dx = gamma invstd / m * (m dy - dbeta - xhat dgamma)
Eval backward:  dx = gamma dy / sqrt(running_var + eps), dgamma = sum dy xhat_running, dbeta = sum dy
"""

import math

import numpy as np


def _as3d(x):
    # (N, C, L); L spelled out: an empty x has no -1 to infer (N or C may be 0)
    return x.reshape(x.shape[0], x.shape[1], math.prod(x.shape[2:]))


def _chan(v):
    return v.reshape(1, -1, 1)


def batchnorm_fwd_train(x, gamma, beta, running_mean, running_var, momentum, eps):
    x3 = _as3d(x)
    m = x3.shape[0] * x3.shape[2]
    mean = x3.mean(axis=(0, 2))
    centered = x3 - _chan(mean)
    var = (centered * centered).mean(axis=(0, 2))
    invstd = 1 / np.sqrt(var + eps)
    y = centered * _chan(invstd * gamma) + _chan(beta)
    running_mean *= 1 - momentum
    running_mean += momentum * mean
    running_var *= 1 - momentum
    running_var += momentum * var * (m / (m - 1))
    return y.reshape(x.shape), mean, invstd


def batchnorm_fwd_eval(x, gamma, beta, running_mean, running_var, eps):
    scale = gamma / np.sqrt(running_var + eps)
    y = (_as3d(x) - _chan(running_mean)) * _chan(scale) + _chan(beta)
    return y.reshape(x.shape)


def batchnorm_bwd_train(x, gamma, mean, invstd, gy):
    x3, g3 = _as3d(x), _as3d(gy)
    m = x3.shape[0] * x3.shape[2]
    xhat = (x3 - _chan(mean)) * _chan(invstd)
    gbeta = g3.sum(axis=(0, 2))
    ggamma = (g3 * xhat).sum(axis=(0, 2))
    gx = _chan(gamma * invstd / m) * (m * g3 - _chan(gbeta) - xhat * _chan(ggamma))
    return gx.reshape(x.shape), ggamma, gbeta


def batchnorm_bwd_eval(x, gamma, running_mean, running_var, eps, gy):
    x3, g3 = _as3d(x), _as3d(gy)
    invstd = 1 / np.sqrt(running_var + eps)
    xhat = (x3 - _chan(running_mean)) * _chan(invstd)
    gx = g3 * _chan(gamma * invstd)
    return gx.reshape(x.shape), (g3 * xhat).sum(axis=(0, 2)), g3.sum(axis=(0, 2))
