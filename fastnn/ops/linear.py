"""Fully connected op with a fused activation: y = act(x @ W + b).

W has shape (in_features, out_features) (Keras' layout, so y = x W reads as the
textbook formula). x may have extra leading axes; they are treated as batch.
Gradients: dz = act'(z) dy, dx = dz W^T, dW = x^T dz, db = sum dz.
"""

from __future__ import annotations

from ..function import Function
from ..kernels.contract import ACTIVATIONS
from . import activations
from .checks import require_float, require_ndim


class Linear(Function):
    grads_are_fresh = True  # the kernels allocate gx, gw and gb

    def forward(self, x, w, b=None, activation=None, alpha=0.0):
        require_float("linear", x=x, weight=w, bias=b)
        require_ndim("linear", "weight", w, 2)
        if x.ndim < 1 or x.shape[-1] != w.shape[0]:
            raise ValueError(f"linear: x has shape {tuple(x.shape)} but weight has shape {tuple(w.shape)}; "
                             f"x's last axis must equal weight's first ({w.shape[0]})")
        if b is not None and tuple(b.shape) != (w.shape[1],):
            raise ValueError(f"linear: bias must have shape ({w.shape[1]},), got {tuple(b.shape)}")
        self.lead = x.shape[:-1]
        self.x = x.reshape(-1, x.shape[-1])
        self.w, self.activation, self.alpha = w, activation, alpha
        self.y, self.z = self.k.linear_fwd(self.x, w, b, activation, alpha)
        return self.y.reshape(self.lead + (w.shape[1],))

    def backward(self, g):
        need_x, need_w, need_b = self.needs_input_grad[:3]
        gx, gw, gb = self.k.linear_bwd(self.x, self.w, self.z, self.y, g.reshape(-1, g.shape[-1]),
                                       self.activation, self.alpha, need_x, need_w, need_b)
        return (gx.reshape(self.lead + (self.w.shape[0],)) if gx is not None else None, gw, gb)


def linear(x, weight, bias=None, activation=None):
    """y = act(x @ weight + bias); weight: (in_features, out_features).

    ``activation`` may be any name of ``fastnn.ops.activations`` or a callable;
    the element-wise ones are fused into the kernel's pass after the GEMM.
    """
    if isinstance(activation, str) and activation in ACTIVATIONS:
        alpha = activations.DEFAULT_ALPHA.get(activation, 0.0)
        y = Linear.apply(x, weight, bias, activation=activation, alpha=alpha)
        if activation == "sigmoid":
            # A loss may want the logits of a final sigmoid (activations.pre_activation): they are
            # recomputed on request, so the fused pass stays fused for everyone else.
            activations.remember_pre_activation(
                y, "sigmoid", lambda: Linear.apply(x, weight, bias, activation=None, alpha=0.0))
        return y
    post = activations.get(activation)
    return post(Linear.apply(x, weight, bias, activation=None, alpha=0.0))
