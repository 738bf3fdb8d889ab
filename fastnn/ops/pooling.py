"""2-D max and average pooling (NCHW).

max: y = max over each kh x kw window (padding counts as -inf); the gradient goes to
     the first maximal input of each window.
avg: y = window sum / d, d = kh kw when padding counts (PyTorch's default for int
     padding) or the number of real input cells (Keras' "same").
stride defaults to the kernel size. Explicit padding may be at most half the kernel.
"""

from __future__ import annotations

from ..function import Function
from .checks import pair, require_float, require_ndim
from .conv import check_output_size, resolve_padding


def _geometry(op, x, kernel_size, stride, padding):
    require_ndim(op, "x", x, 4)
    kernel = pair(kernel_size, f"{op}: kernel_size")
    stride = kernel if stride is None else pair(stride, f"{op}: stride")
    if min(kernel) < 1 or min(stride) < 1:
        raise ValueError(f"{op}: kernel_size and stride must be positive, got {kernel} and {stride}")
    pad = resolve_padding(padding, kernel, stride, x.shape[2:], op)
    if not isinstance(padding, str) and (max(pad[:2]) > kernel[0] // 2 or max(pad[2:]) > kernel[1] // 2):
        raise ValueError(f"{op}: padding {padding!r} must be at most half the kernel size {kernel}")
    check_output_size(op, x.shape, kernel, stride, pad)
    return kernel, stride, pad


class MaxPool2D(Function):
    def forward(self, x, kernel, stride, pad):
        require_float("max_pool2d", x=x)
        self.geometry = (x.shape, kernel, stride, pad)
        y, self.argmax = self.k.max_pool2d_fwd(x, kernel, stride, pad)
        return y

    def backward(self, g):
        x_shape, kernel, stride, pad = self.geometry
        return (self.k.max_pool2d_bwd(g, self.argmax, x_shape, kernel, stride, pad),)


class AvgPool2D(Function):
    def forward(self, x, kernel, stride, pad, count_include_pad):
        require_float("avg_pool2d", x=x)
        self.geometry = (x.shape, kernel, stride, pad, count_include_pad)
        return self.k.avg_pool2d_fwd(x, kernel, stride, pad, count_include_pad)

    def backward(self, g):
        return (self.k.avg_pool2d_bwd(g, *self.geometry),)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max over kernel_size windows of x (N, C, H, W)."""
    kernel, stride, pad = _geometry("max_pool2d", x, kernel_size, stride, padding)
    return MaxPool2D.apply(x, kernel=kernel, stride=stride, pad=pad)


def avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad=None):
    """Mean over kernel_size windows of x (N, C, H, W).

    count_include_pad: None means True for numeric padding (PyTorch) and False for "same" (Keras).
    """
    kernel, stride, pad = _geometry("avg_pool2d", x, kernel_size, stride, padding)
    if count_include_pad is None:
        count_include_pad = padding != "same"
    return AvgPool2D.apply(x, kernel=kernel, stride=stride, pad=pad, count_include_pad=bool(count_include_pad))
