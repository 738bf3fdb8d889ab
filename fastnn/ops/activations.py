"""Activation functions (formulas in kernels/reference/activations.py and softmax.py).

relu, sigmoid, tanh, leaky_relu(alpha=0.01), elu(alpha=1.0), gelu (exact erf form),
softplus, step (Heaviside, zero gradient) run through the ``<name>_fwd/_bwd`` kernels;
softmax and log_softmax subtract the row maximum before exponentiating.

Outputs of ``sigmoid`` and of ``softmax`` along the last axis remember their input: the
tensor carries ``_pre_activation = (kind, logits)`` (kind "sigmoid" or "softmax"; logits a
tensor, or a zero-argument callable that recomputes it, for the sigmoid fused into
``linear``). ``pre_activation(output, kind)`` reads it back. The losses of
``fastnn.losses`` use it: a model ending in softmax (or sigmoid) gets its cross-entropy
computed from the logits before it, stably, as if it ended in a plain Dense layer. Setting
one attribute costs nothing measurable; under ``no_grad`` it keeps the input alive as long
as the output lives (with a graph the node keeps it alive anyway).
"""

from __future__ import annotations

import math

from .. import arguments
from ..function import Function
from ..kernels.contract import ACTIVATIONS
from .checks import require_float

DEFAULT_ALPHA = {"leaky_relu": 0.01, "elu": 1.0}
_INF = math.inf


class Activation(Function):
    def forward(self, x, name, alpha):
        require_float(name, x=x)
        self.name, self.alpha, self.x = name, alpha, x
        self.y = getattr(self.k, f"{name}_fwd")(x, alpha)
        return self.y

    def backward(self, g):
        return (getattr(self.k, f"{self.name}_bwd")(self.x, self.y, g, self.alpha),)


def remember_pre_activation(output, kind, logits):
    """Record on ``output`` that it is ``kind``("sigmoid" | "softmax") of ``logits`` (a
    tensor, or a zero-argument callable returning it); returns ``output``."""
    output._pre_activation = (kind, logits)
    return output


def pre_activation(output, kind):
    """The logits ``output`` was computed from by a final ``kind`` activation, else None.

    Only the tensor an activation returned carries the record: any op applied after it
    (even a reshape) gives a tensor without one, whose values are then taken as they are.
    """
    record = getattr(output, "_pre_activation", None)
    if record is None or record[0] != kind:
        return None
    logits = record[1]
    return logits() if callable(logits) else logits


def relu(x):
    """y = max(x, 0)."""
    return Activation.apply(x, name="relu", alpha=0.0)


def sigmoid(x):
    """y = 1 / (1 + exp(-x)); the output remembers x (see ``pre_activation``)."""
    y = Activation.apply(x, name="sigmoid", alpha=0.0)
    return remember_pre_activation(y, "sigmoid", x) if type(x) is type(y) else y


def tanh(x):
    """y = tanh(x)."""
    return Activation.apply(x, name="tanh", alpha=0.0)


def leaky_relu(x, alpha=0.01):
    """y = x if x > 0 else alpha x; alpha a finite number."""
    if type(alpha) is not float or not -_INF < alpha < _INF:   # nan fails the range test
        alpha = arguments.real(alpha, "leaky_relu", "alpha")
    return Activation.apply(x, name="leaky_relu", alpha=alpha)


def elu(x, alpha=1.0):
    """y = x if x > 0 else alpha (exp(x) - 1); alpha a finite number."""
    if type(alpha) is not float or not -_INF < alpha < _INF:
        alpha = arguments.real(alpha, "elu", "alpha")
    return Activation.apply(x, name="elu", alpha=alpha)


def gelu(x):
    """y = x Phi(x) with Phi the standard normal CDF (exact erf form)."""
    return Activation.apply(x, name="gelu", alpha=0.0)


def softplus(x):
    """y = log(1 + exp(x)), computed stably."""
    return Activation.apply(x, name="softplus", alpha=0.0)


def step(x):
    """Heaviside step y = [x > 0]; its gradient is zero everywhere (the perceptron's activation)."""
    return Activation.apply(x, name="step", alpha=0.0)


def _last_axis_2d(xp, x, axis):
    """Move ``axis`` last and flatten the rest: the softmax kernels work on rows."""
    moved = xp.moveaxis(x, axis, -1)
    return xp.ascontiguousarray(moved).reshape(-1, x.shape[axis]), moved.shape


def _check_axis(op, x, axis):
    """``axis`` as an int axis of x (NumPy integers taken), else the error naming it."""
    if not arguments.is_int(axis):
        arguments._fail(TypeError, op, "axis", "an int", axis)
    axis, n = int(axis), x.ndim
    if n == 0:
        raise ValueError(f"{op}: x must have at least one axis, got shape ()")
    if not -n <= axis < n:
        raise ValueError(f"{op}: axis must be in [{-n}, {n - 1}] for x of shape {tuple(x.shape)}, got {axis} "
                         f"(x has no axis {axis})")
    return axis


class _RowWise(Function):
    kernel = ""

    def forward(self, x, axis):
        require_float(self.kernel, x=x)
        ndim = x.ndim
        if type(axis) is not int or not -ndim <= axis < ndim:
            axis = _check_axis(self.kernel, x, axis)
        self.axis = axis
        if x.size == 0:   # no row, or rows of no element (an empty axis): nothing to compute
            self.y = None
            return self.xp.empty_like(x)
        if axis == -1 or axis == ndim - 1:   # the rows are x's own: no transpose (np.moveaxis costs microseconds)
            self.moved_shape = None
            rows = self.xp.ascontiguousarray(x).reshape(-1, x.shape[-1])
        else:
            rows, self.moved_shape = _last_axis_2d(self.xp, x, axis)
        self.y = getattr(self.k, f"{self.kernel}_fwd")(rows)
        return self._restore(self.y, x.shape)

    def _restore(self, rows, shape):
        if self.moved_shape is None:
            return rows.reshape(shape)
        return self.xp.ascontiguousarray(self.xp.moveaxis(rows.reshape(self.moved_shape), -1, self.axis))

    def backward(self, g):
        if self.y is None:   # an empty x
            return (self.xp.empty_like(g),)
        if self.moved_shape is None:
            rows = self.xp.ascontiguousarray(g).reshape(self.y.shape)
        else:
            rows, _ = _last_axis_2d(self.xp, g, self.axis)
        return (self._restore(getattr(self.k, f"{self.kernel}_bwd")(self.y, rows), g.shape),)


class Softmax(_RowWise):
    kernel = "softmax"


class LogSoftmax(_RowWise):
    kernel = "log_softmax"


def softmax(x, axis=-1):
    """y_i = exp(x_i - max x) / sum_j exp(x_j - max x) along ``axis`` (an int); along the
    last axis the output remembers x (see ``pre_activation``)."""
    y = Softmax.apply(x, axis=axis)
    if type(x) is type(y) and axis in (-1, y.ndim - 1):
        remember_pre_activation(y, "softmax", x)
    return y


def log_softmax(x, axis=-1):
    """y_i = x_i - max x - log sum_j exp(x_j - max x) along ``axis`` (an int)."""
    return LogSoftmax.apply(x, axis=axis)


def linear_activation(x):
    """The identity (Keras' "linear" activation)."""
    return x


_BY_NAME = {
    "relu": relu, "sigmoid": sigmoid, "tanh": tanh, "leaky_relu": leaky_relu, "elu": elu,
    "gelu": gelu, "softplus": softplus, "step": step, "softmax": softmax,
    "log_softmax": log_softmax, "linear": linear_activation,
}
assert set(ACTIVATIONS) <= set(_BY_NAME)


def get(activation, where=None):
    """An activation function from its name, a callable, or None (identity).

    ``where``: the op the name was given to (``linear``, ``conv2d``), for the error; the
    layers leave it out and name themselves around the error."""
    if activation is None:
        return linear_activation
    if callable(activation):
        return activation
    found = _BY_NAME.get(activation) if isinstance(activation, str) else None
    if found is None:
        _unknown_activation(activation, where)
    return found


def _unknown_activation(activation, where):
    error = ValueError if isinstance(activation, str) else TypeError
    names = ", ".join(map(repr, NAMES))
    if where:
        arguments._fail(error, where, "activation", f"None, a callable or one of {names}", activation)
    raise error(f"unknown activation {activation!r}; valid names are {', '.join(NAMES)}")


NAMES = tuple(sorted(_BY_NAME))
