"""Activation kernels (formulas: kernels/reference/activations.py; CUDA text: ACT_FWD /
ACT_BWD in sources.py). One elementwise launch each; step's gradient is zero."""

from ._lazy import cupy

from ..contract import ACTIVATIONS, GRAD_FROM_OUTPUT
from ._rt import elementwise


def _forward(act):
    name = f"fastnn_{act}_fwd"

    def fwd(x, alpha):
        y = cupy.empty_like(x)
        elementwise(name, x.dtype)(x.size, x, alpha, y)
        return y

    fwd.__name__ = fwd.__qualname__ = f"{act}_fwd"
    return fwd


def _backward(act):
    name = f"fastnn_{act}_bwd"
    from_output = act in GRAD_FROM_OUTPUT

    def bwd(x, y, gy, alpha):
        if act == "step":
            return cupy.zeros_like(gy)
        gx = cupy.empty_like(gy)
        elementwise(name, gy.dtype)(gy.size, y if from_output else x, gy, alpha, gx)
        return gx

    bwd.__name__ = bwd.__qualname__ = f"{act}_bwd"
    return bwd


relu_fwd, relu_bwd = _forward("relu"), _backward("relu")
sigmoid_fwd, sigmoid_bwd = _forward("sigmoid"), _backward("sigmoid")
tanh_fwd, tanh_bwd = _forward("tanh"), _backward("tanh")
leaky_relu_fwd, leaky_relu_bwd = _forward("leaky_relu"), _backward("leaky_relu")
elu_fwd, elu_bwd = _forward("elu"), _backward("elu")
gelu_fwd, gelu_bwd = _forward("gelu"), _backward("gelu")
softplus_fwd, softplus_bwd = _forward("softplus"), _backward("softplus")
step_fwd, step_bwd = _forward("step"), _backward("step")

assert all(f"{a}_fwd" in globals() and f"{a}_bwd" in globals() for a in ACTIVATIONS)
