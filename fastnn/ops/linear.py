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
        # Arguments checked by ``linear`` (the public op) or, in fit's direct step, for the
        # whole data set before training (fastnn/direct_step.py).
        # Extra leading axes fold into the batch (a reshape costs as much as a small layer's
        # arithmetic here, so a 2-D x, the common case, skips it).
        self.lead = x.shape[:-1] if x.ndim != 2 else None
        self.x = x if self.lead is None else x.reshape(-1, x.shape[-1])
        self.w, self.activation, self.alpha = w, activation, alpha
        self.y, self.z = self.k.linear_fwd(self.x, w, b, activation, alpha)
        return self.y if self.lead is None else self.y.reshape(self.lead + (w.shape[1],))

    def backward(self, g):
        need_x, need_w, need_b = self.needs_input_grad[:3]
        lead = self.lead
        gx, gw, gb = self.k.linear_bwd(self.x, self.w, self.z, self.y, g if lead is None else g.reshape(self.y.shape),
                                       self.activation, self.alpha, need_x, need_w, need_b)
        if gx is not None and lead is not None:
            gx = gx.reshape(lead + (self.w.shape[0],))
        return gx, gw, gb


def check_arguments(x, w, b) -> None:
    """x (..., in), w (in, out), b (out,) or None, one float dtype (tensors or arrays)."""
    require_float("linear", x=x, weight=w, bias=b)
    require_ndim("linear", "weight", w, 2)
    if x.ndim < 1 or x.shape[-1] != w.shape[0]:
        raise ValueError(f"linear: x has shape {tuple(x.shape)} but weight has shape {tuple(w.shape)}; "
                         f"x's last axis must equal weight's first ({w.shape[0]})")
    if b is not None and tuple(b.shape) != (w.shape[1],):
        raise ValueError(f"linear: bias must have shape ({w.shape[1]},), got {tuple(b.shape)}")


def linear(x, weight, bias=None, activation=None):
    """y = act(x @ weight + bias); weight: (in_features, out_features).

    ``activation`` may be any name of ``fastnn.ops.activations`` or a callable;
    the element-wise ones are fused into the kernel's pass after the GEMM.
    """
    check_arguments(x, weight, bias)
    if isinstance(activation, str) and activation in ACTIVATIONS:
        alpha = activations.DEFAULT_ALPHA.get(activation, 0.0)
        y = Linear.apply(x, weight, bias, activation=activation, alpha=alpha)
        if activation == "sigmoid":
            # A loss may want the logits of a final sigmoid (activations.pre_activation): they are
            # recomputed on request, so the fused pass stays fused for everyone else.
            activations.remember_pre_activation(
                y, "sigmoid", lambda: Linear.apply(x, weight, bias, activation=None, alpha=0.0))
        return y
    post = activations.get(activation, "linear")
    return post(Linear.apply(x, weight, bias, activation=None, alpha=0.0))
