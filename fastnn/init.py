"""Weight initializers. Each draws from fastnn's seeded Philox stream and returns a
Tensor (no gradient) on the chosen backend; layers call them through :func:`get`.

Fans, for the two weight layouts fastnn uses:
  Dense   weight (in, out):             fan_in = in,             fan_out = out
  Conv2D  weight (out, in, kh, kw):     fan_in = in * kh * kw,   fan_out = out * kh * kw
  other 1-D shapes: fan_in = fan_out = n.

zeros / ones:       constant 0 / 1
normal:             N(mean, std^2),  std = 0.05 by default (Keras' RandomNormal)
uniform:            U(low, high),    (-0.05, 0.05) by default (Keras' RandomUniform)
glorot_normal:      N(0, 2 / (fan_in + fan_out))   (Xavier; truncation is not applied)
glorot_uniform:     U(-a, a), a = sqrt(6 / (fan_in + fan_out))
he_normal:          N(0, 2 / fan_in)               (Kaiming, for ReLU)
he_uniform:         U(-a, a), a = sqrt(6 / fan_in)
orthogonal:         Q of the QR decomposition of a normal matrix (recurrent kernels)
xavier_* and kaiming_* are aliases of glorot_* and he_*.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from . import arguments
from . import backend as backends
from .random import default_generator
from .tensor import Tensor, _check_dtype


def compute_fans(shape) -> tuple[int, int]:
    shape = tuple(int(s) for s in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _tensor(values, dtype, backend) -> Tensor:
    b = backends.resolve(backend)
    # C order: parameters are updated in place through flat views (orthogonal's q.T is F-ordered)
    return Tensor._make(b.xp.asarray(np.ascontiguousarray(values.astype(_check_dtype(dtype), copy=False))), b)


def _shape(shape, where="initializer"):
    """A shape as a tuple of ints >= 0: an int or a sequence of ints (2.5 is not a size)."""
    entries = (shape,) if arguments.is_int(shape) else shape
    if not isinstance(entries, (tuple, list)) or not all(arguments.is_int(s) for s in entries):
        raise TypeError(f"{where}: shape must be an int or a tuple of ints, got {shape!r}")
    if any(s < 0 for s in entries):
        raise ValueError(f"{where}: shape must hold non-negative ints, got {shape!r}")
    return tuple(int(s) for s in entries)


def _fans(shape, where, fan_in_only=False):
    """compute_fans of ``shape``, refusing a zero divisor of the glorot (fan_in + fan_out) or
    he (fan_in) scale, which would give NaN or a ZeroDivisionError."""
    fan_in, fan_out = compute_fans(_shape(shape, where))
    if (fan_in if fan_in_only else fan_in + fan_out) == 0:
        raise ValueError(f"{where}: shape must have a non-zero {'fan_in' if fan_in_only else 'fan_in + fan_out'}, "
                         f"got {shape!r}")
    return fan_in, fan_out


def zeros(shape, dtype="float32", backend=None) -> Tensor:
    return _tensor(np.zeros(_shape(shape, "zeros")), dtype, backend)


def ones(shape, dtype="float32", backend=None) -> Tensor:
    return _tensor(np.ones(_shape(shape, "ones")), dtype, backend)


def normal(shape, mean=0.0, std=0.05, dtype="float32", backend=None) -> Tensor:
    shape = _shape(shape, "normal")
    mean = arguments.real(mean, "normal", "mean")
    std = arguments.non_negative(std, "normal", "std")
    return _tensor(default_generator.normal(shape, mean, std, dtype="float64"), dtype, backend)


def uniform(shape, low=-0.05, high=0.05, dtype="float32", backend=None) -> Tensor:
    shape = _shape(shape, "uniform")
    low = arguments.real(low, "uniform", "low")
    high = arguments.real(high, "uniform", "high", low=low)
    return _tensor(default_generator.uniform(shape, low, high, dtype="float64"), dtype, backend)


def glorot_normal(shape, dtype="float32", backend=None) -> Tensor:
    fan_in, fan_out = _fans(shape, "glorot_normal")
    return normal(shape, 0.0, math.sqrt(2.0 / (fan_in + fan_out)), dtype, backend)


def glorot_uniform(shape, dtype="float32", backend=None) -> Tensor:
    fan_in, fan_out = _fans(shape, "glorot_uniform")
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return uniform(shape, -limit, limit, dtype, backend)


def he_normal(shape, dtype="float32", backend=None) -> Tensor:
    fan_in, _ = _fans(shape, "he_normal", fan_in_only=True)
    return normal(shape, 0.0, math.sqrt(2.0 / fan_in), dtype, backend)


def he_uniform(shape, dtype="float32", backend=None) -> Tensor:
    fan_in, _ = _fans(shape, "he_uniform", fan_in_only=True)
    limit = math.sqrt(6.0 / fan_in)
    return uniform(shape, -limit, limit, dtype, backend)


def orthogonal(shape, gain=1.0, dtype="float32", backend=None) -> Tensor:
    shape = _shape(shape, "orthogonal")
    gain = arguments.real(gain, "orthogonal", "gain")
    if len(shape) < 2:
        raise ValueError(f"orthogonal: needs at least 2 dimensions, got shape {shape}")
    rows, cols = shape[0], math.prod(shape[1:])
    flat = default_generator.normal((max(rows, cols), min(rows, cols)), dtype="float64")
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))  # make the decomposition unique, hence the draw uniform
    q = q if rows >= cols else q.T
    return _tensor(gain * q.reshape(shape), dtype, backend)


xavier_normal = glorot_normal
xavier_uniform = glorot_uniform
kaiming_normal = he_normal
kaiming_uniform = he_uniform
random_normal, random_uniform = normal, uniform      # Keras' names

_BY_NAME = {
    "zeros": zeros, "ones": ones, "normal": normal, "uniform": uniform, "random_normal": normal,
    "random_uniform": uniform, "glorot_normal": glorot_normal, "glorot_uniform": glorot_uniform,
    "xavier_normal": glorot_normal, "xavier_uniform": glorot_uniform, "he_normal": he_normal,
    "he_uniform": he_uniform, "kaiming_normal": he_normal, "kaiming_uniform": he_uniform,
    "orthogonal": orthogonal,
}
NAMES = tuple(sorted(_BY_NAME))


def get(initializer, where="init.get", name="initializer"):
    """An initializer ``fn(shape, dtype, backend) -> Tensor`` from a name or a callable.

    A callable may also take just ``(shape, dtype)`` and return an array or Tensor;
    ``functools.partial(fnn.init.normal, std=1.0)`` is the way to set parameters.
    ``where`` and ``name`` say whose argument it is in an error ("Dense", "kernel_initializer").
    """
    if callable(initializer):
        return initializer
    if not isinstance(initializer, str):
        raise TypeError(f"{where}: {name} must be an initializer name or a callable, got "
                        f"{arguments._show(initializer)}")
    if initializer not in _BY_NAME:
        raise ValueError(f"{where}: {name} must be an initializer name or a callable, got unknown initializer "
                         f"{initializer!r}; valid names are {', '.join(NAMES)}")
    return _BY_NAME[initializer]


def initialize(initializer, shape, dtype, backend) -> Tensor:
    """Run any initializer and return a Tensor of ``shape`` on ``backend``."""
    fn = get(initializer)
    try:
        takes_backend = "backend" in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        takes_backend = False
    value = fn(shape, dtype=dtype, backend=backend) if takes_backend else fn(shape, dtype)
    if not isinstance(value, Tensor):
        value = _tensor(np.asarray(value), dtype, backend)
    if value.shape != tuple(shape):
        raise ValueError(f"initializer {initializer!r} returned shape {value.shape}, expected {tuple(shape)}")
    return value


__all__ = ["compute_fans", "get", "initialize", *NAMES]
