"""Activation kernels: ``<name>_fwd(x, alpha) -> y`` and ``<name>_bwd(x, y, gy, alpha) -> gx``.

Formulas (``alpha`` is used by leaky_relu and elu only):

* relu:        y = max(x, 0)                        dy/dx = [y > 0]
* sigmoid:     y = 1 / (1 + exp(-x))                dy/dx = y (1 - y)
* tanh:        y = tanh(x)                          dy/dx = 1 - y^2
* leaky_relu:  y = x if x > 0 else alpha x          dy/dx = 1 if x > 0 else alpha
* elu:         y = x if x > 0 else alpha (e^x - 1)  dy/dx = 1 if x > 0 else alpha e^x
* gelu:        y = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2   (exact form)
               dy/dx = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
* softplus:    y = log(1 + e^x) = max(x, 0) + log1p(e^-|x|)       dy/dx = sigmoid(x) = -expm1(-y)
* step:        y = [x > 0] (Heaviside, the perceptron's activation)  dy/dx = 0 (not differentiable)
"""

import numpy as np

from .special import erf

_SQRT_HALF = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327


def relu_fwd(x, alpha):
    return np.maximum(x, 0)


def relu_bwd(x, y, gy, alpha):
    return gy * (y > 0)


def sigmoid_fwd(x, alpha):
    # Split by sign so exp never overflows: for x < 0 use e^x / (1 + e^x).
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_bwd(x, y, gy, alpha):
    return gy * y * (1 - y)


def tanh_fwd(x, alpha):
    return np.tanh(x)


def tanh_bwd(x, y, gy, alpha):
    return gy * (1 - y * y)


def leaky_relu_fwd(x, alpha):
    return np.where(x > 0, x, x * alpha)


def leaky_relu_bwd(x, y, gy, alpha):
    return np.where(x > 0, gy, gy * alpha)


def elu_fwd(x, alpha):
    # expm1 on min(x, 0) keeps the unused branch from overflowing.
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def elu_bwd(x, y, gy, alpha):
    return np.where(x > 0, gy, gy * alpha * np.exp(np.minimum(x, 0)))


def gelu_fwd(x, alpha):
    return x * (0.5 * (1 + erf(x * _SQRT_HALF)))


def gelu_bwd(x, y, gy, alpha):
    cdf = 0.5 * (1 + erf(x * _SQRT_HALF))
    pdf = _INV_SQRT_2PI * np.exp(-0.5 * x * x)
    return gy * (cdf + x * pdf)


def softplus_fwd(x, alpha):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def softplus_bwd(x, y, gy, alpha):
    # sigmoid(x) = 1 - exp(-y); expm1 keeps it exact where y is tiny.
    return gy * -np.expm1(-y)


def step_fwd(x, alpha):
    return (x > 0).astype(x.dtype)


def step_bwd(x, y, gy, alpha):
    return np.zeros_like(gy)


FORWARD = {name[:-4]: fn for name, fn in dict(globals()).items() if name.endswith("_fwd")}
BACKWARD = {name[:-4]: fn for name, fn in dict(globals()).items() if name.endswith("_bwd")}
