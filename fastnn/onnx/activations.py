"""fastnn's activations as ONNX: as nodes (the Activation op, the activation fused into
Linear and Conv2D, the Activation layer), and as the names the recurrent ops take.

Formulas (fastnn's, kernels/reference/activations.py) and their ONNX form:

    relu        max(x, 0)                          Relu
    sigmoid     1 / (1 + e^-x)                     Sigmoid
    tanh        tanh x                             Tanh
    leaky_relu  x if x > 0 else alpha x            LeakyRelu(alpha)
    elu         x if x > 0 else alpha (e^x - 1)    Elu(alpha)
    gelu        x (0.5 (1 + erf(x / sqrt 2)))      Mul, Erf, Add, Mul, Mul (ONNX's Gelu op needs opset 20)
    softplus    log(1 + e^x)                       Softplus
    step        [x > 0]                            Greater, Cast
    softmax, log_softmax (last axis)               Softmax, LogSoftmax (axis -1)
    linear      x                                  nothing
"""

from __future__ import annotations

from ..ops import activations as fastnn_activations

_SQRT_HALF = 0.7071067811865476

_ELEMENTWISE = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softplus": "Softplus"}

#: fastnn activation -> (name in the recurrent ops' ``activations`` attribute, alpha, beta):
#: the ones ONNX's RNN, LSTM and GRU can apply inside their time loop.
RECURRENT = {"relu": ("Relu", None, None), "sigmoid": ("Sigmoid", None, None), "tanh": ("Tanh", None, None),
             "leaky_relu": ("LeakyRelu", fastnn_activations.DEFAULT_ALPHA["leaky_relu"], None),
             "elu": ("Elu", fastnn_activations.DEFAULT_ALPHA["elu"], None),
             "softplus": ("Softplus", None, None), "linear": ("Affine", 1.0, 0.0)}


def activation_name(activation):
    """The name of an activation given as a name, None (linear) or one of fastnn's own
    activation functions (``F.relu``); None for any other callable."""
    if activation is None:
        return "linear"
    if isinstance(activation, str):
        return activation
    for name, function in fastnn_activations._BY_NAME.items():
        if function is activation:
            return name
    return None


def apply(context, x: str, name: str, alpha: float, dtype) -> str:
    """The value of activation ``name`` (with ``alpha`` for leaky_relu and elu) of value ``x``."""
    if name == "linear" or name is None:
        return x
    if name in _ELEMENTWISE:
        return context.node(_ELEMENTWISE[name], [x])
    if name == "leaky_relu":
        return context.node("LeakyRelu", [x], alpha=float(alpha))
    if name == "elu":
        return context.node("Elu", [x], alpha=float(alpha))
    if name == "gelu":
        half_cdf = context.node("Mul", [context.constant(0.5, dtype), context.node("Add", [
            context.constant(1.0, dtype),
            context.node("Erf", [context.node("Mul", [x, context.constant(_SQRT_HALF, dtype)])])])])
        return context.node("Mul", [x, half_cdf])
    if name == "step":
        return context.cast(context.node("Greater", [x, context.constant(0, dtype)]), dtype)
    if name == "softmax":
        return context.node("Softmax", [x], axis=-1)
    if name == "log_softmax":
        return context.node("LogSoftmax", [x], axis=-1)
    raise context.fail(f"the activation {name!r} has no ONNX form")


__all__ = ["RECURRENT", "activation_name", "apply"]
