"""2-D convolution (NCHW, cross-correlation) with a fused bias and activation.

z[n, f, i, j] = b[f] + sum_{c, p, q} w[f, c, p, q] x_pad[n, c, i s_h + p, j s_w + q],  y = act(z)
Gradients: dz = act'(z) dy; dw, db and dx are those of the convolution at dz. How a
backend computes it (im2col + GEMM on the reference; Winograd, direct or im2col kernels
on cpu, chosen per shape) is the backend's business: the kernels return their own
record of x for the backward pass.
Output size: OH = (H + pad_top + pad_bottom - kh) // s_h + 1 (likewise OW).
Padding: an int, a pair (rows, cols), a 4-tuple (top, bottom, left, right),
"valid" (none) or "same" (TensorFlow's rule: OH = ceil(H / s_h), the extra row
of an odd total padding goes to the bottom/right).
"""

from __future__ import annotations

import numpy as np

from ..function import Function
from ..kernels.contract import ACTIVATIONS
from . import activations
from .checks import pair, require_float, require_ndim


def resolve_padding(padding, kernel, stride, spatial, op="conv2d") -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from any accepted padding spelling."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            pads = []
            for size, k, s in zip(spatial, kernel, stride):
                out = -(-size // s)
                total = max((out - 1) * s + k - size, 0)
                pads += [total // 2, total - total // 2]
            return tuple(pads)
        raise ValueError(f"{op}: padding must be 'valid', 'same', an int or a tuple, got {padding!r}")
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        if not all(isinstance(p, (int, np.integer)) and p >= 0 for p in padding):
            raise ValueError(f"{op}: padding must hold non-negative ints, got {padding!r}")
        return tuple(int(p) for p in padding)
    rows, cols = pair(padding, f"{op}: padding")
    if rows < 0 or cols < 0:
        raise ValueError(f"{op}: padding must be non-negative, got {padding!r}")
    return (rows, rows, cols, cols)


def output_size(size, kernel, stride, pad_before, pad_after):
    """Output length of a window op along one axis: (size + pads - kernel) // stride + 1
    (None when the input length is not known yet, for shape inference)."""
    return None if size is None else (size + pad_before + pad_after - kernel) // stride + 1


def check_output_size(op, x_shape, kernel, stride, pad):
    oh = output_size(x_shape[2], kernel[0], stride[0], pad[0], pad[1])
    ow = output_size(x_shape[3], kernel[1], stride[1], pad[2], pad[3])
    if oh < 1 or ow < 1:
        raise ValueError(f"{op}: input of shape {tuple(x_shape)} is smaller than the kernel {tuple(kernel)} "
                         f"with padding {pad}")
    return oh, ow


class Conv2D(Function):
    grads_are_fresh = True  # the kernels allocate gx, gw and gb

    def forward(self, x, w, b=None, stride=(1, 1), pad=(0, 0, 0, 0), activation=None, alpha=0.0):
        require_float("conv2d", x=x, weight=w, bias=b)
        require_ndim("conv2d", "x", x, 4)
        require_ndim("conv2d", "weight", w, 4)
        if x.shape[1] != w.shape[1]:
            raise ValueError(f"conv2d: x has {x.shape[1]} channels (shape {tuple(x.shape)}) but weight expects "
                             f"{w.shape[1]} (shape {tuple(w.shape)})")
        if b is not None and tuple(b.shape) != (w.shape[0],):
            raise ValueError(f"conv2d: bias must have shape ({w.shape[0]},), got {tuple(b.shape)}")
        check_output_size("conv2d", x.shape, w.shape[2:], stride, pad)
        self.x_shape, self.w, self.stride, self.pad = x.shape, w, stride, pad
        self.activation, self.alpha = activation, alpha
        y, self.z, self.saved = self.k.conv2d_fwd(x, w, b, stride, pad, activation, alpha)
        self.y = y if activation is not None else None   # the activation's gradient may read y
        return y

    def backward(self, g):
        need_x, need_w, need_b = self.needs_input_grad[:3]
        return self.k.conv2d_bwd(self.x_shape, self.w, self.saved, self.z, self.y, g, self.stride, self.pad,
                                 self.activation, self.alpha, need_x, need_w, need_b)


def conv2d(x, weight, bias=None, stride=1, padding=0, activation=None):
    """2-D convolution of x (N, C, H, W) with weight (C_out, C, kh, kw), then ``activation``.

    ``activation`` may be any name of ``fastnn.ops.activations`` or a callable; the
    element-wise ones are fused into the convolution's kernels (bias and activation in
    the pass that writes y, the activation's gradient in the first backward pass).
    """
    stride = pair(stride, "conv2d: stride")
    if min(stride) < 1:
        raise ValueError(f"conv2d: stride must be positive, got {stride}")
    if x.ndim != 4 or weight.ndim != 4:
        require_ndim("conv2d", "x", x, 4)
        require_ndim("conv2d", "weight", weight, 4)
    pad = resolve_padding(padding, weight.shape[2:], stride, x.shape[2:])
    if activation is None or (isinstance(activation, str) and activation in ACTIVATIONS):
        alpha = activations.DEFAULT_ALPHA.get(activation, 0.0)
        y = Conv2D.apply(x, weight, bias, stride=stride, pad=pad, activation=activation, alpha=alpha)
        if activation == "sigmoid":
            # As in linear: a loss may ask for the logits of a final sigmoid, recomputed on request.
            activations.remember_pre_activation(
                y, "sigmoid", lambda: Conv2D.apply(x, weight, bias, stride=stride, pad=pad))
        return y
    post = activations.get(activation, "conv2d")
    return post(Conv2D.apply(x, weight, bias, stride=stride, pad=pad))
