"""Elementwise losses and the L2 penalty.

binary CE from logits (stable for any z):
    loss = max(z, 0) - z t + log(1 + exp(-|z|))      dz = sigmoid(z) - t,   dt = -z
mean squared error over all n elements:
    loss = sum (p - t)^2 / n                          dp = 2 (p - t) / n
L2 penalty:
    s = sum w^2                                       dw = 2 w
"""

import numpy as np

from .activations import sigmoid_fwd


def bce_logits_fwd(z, t):
    return np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))


def bce_logits_bwd(z, t, g):
    return (sigmoid_fwd(z, 0.0) - t) * g, -z * g


def mse_fwd(p, t):
    d = p - t
    return np.asarray((d * d).sum() / d.size, dtype=p.dtype)


def mse_bwd(p, t, g):
    return (p - t) * (2 * g / p.size)


def l2_fwd(w):
    return np.asarray((w * w).sum(), dtype=w.dtype)


def l2_bwd(w, g):
    return w * (2 * g)
