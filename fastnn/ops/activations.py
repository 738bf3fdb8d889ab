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

from ..function import Function
from ..kernels.contract import ACTIVATIONS
from .checks import require_float

DEFAULT_ALPHA = {"leaky_relu": 0.01, "elu": 1.0}


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
    """y = x if x > 0 else alpha x."""
    return Activation.apply(x, name="leaky_relu", alpha=float(alpha))


def elu(x, alpha=1.0):
    """y = x if x > 0 else alpha (exp(x) - 1)."""
    return Activation.apply(x, name="elu", alpha=float(alpha))


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


class _RowWise(Function):
    kernel = ""

    def forward(self, x, axis):
        require_float(self.kernel, x=x)
        if not -x.ndim <= axis < x.ndim:
            raise ValueError(f"{self.kernel}: axis {axis} is out of range for shape {tuple(x.shape)}")
        self.axis = axis
        rows, self.moved_shape = _last_axis_2d(self.xp, x, axis)
        self.y = getattr(self.k, f"{self.kernel}_fwd")(rows)
        return self._restore(self.y)

    def _restore(self, rows):
        return self.xp.ascontiguousarray(self.xp.moveaxis(rows.reshape(self.moved_shape), -1, self.axis))

    def backward(self, g):
        rows, _ = _last_axis_2d(self.xp, g, self.axis)
        return (self._restore(getattr(self.k, f"{self.kernel}_bwd")(self.y, rows)),)


class Softmax(_RowWise):
    kernel = "softmax"


class LogSoftmax(_RowWise):
    kernel = "log_softmax"


def softmax(x, axis=-1):
    """y_i = exp(x_i - max x) / sum_j exp(x_j - max x) along ``axis``; along the last axis
    the output remembers x (see ``pre_activation``)."""
    y = Softmax.apply(x, axis=axis)
    if type(x) is type(y) and axis in (-1, y.ndim - 1):
        remember_pre_activation(y, "softmax", x)
    return y


def log_softmax(x, axis=-1):
    """y_i = x_i - max x - log sum_j exp(x_j - max x) along ``axis``."""
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


def get(activation):
    """An activation function from its name, a callable, or None (identity)."""
    if activation is None:
        return linear_activation
    if callable(activation):
        return activation
    if activation not in _BY_NAME:
        raise ValueError(f"unknown activation {activation!r}; valid names are {', '.join(sorted(_BY_NAME))}")
    return _BY_NAME[activation]


NAMES = tuple(sorted(_BY_NAME))
