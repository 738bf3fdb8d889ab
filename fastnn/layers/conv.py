"""Conv2D: 2-D convolution over NCHW images."""

from __future__ import annotations

from .. import arguments
from ..ops.conv import conv2d, output_size, resolve_padding
from .base import InputSpec, Layer
from .core import kernel_bias_config, positive_int, set_kernel_bias_options


def window_pair(value, where, name) -> tuple[int, int]:
    """A window size or stride: an int >= 1, or a pair (rows, cols) of them."""
    entries = (value, value) if arguments.is_int(value) else value
    if not isinstance(entries, (tuple, list)) or len(entries) != 2 or not all(arguments.is_int(v) for v in entries):
        raise TypeError(f"{where}: {name} must be an int or a pair of ints, got {value!r}")
    if min(entries) < 1:
        raise ValueError(f"{where}: {name} must be positive (ints >= 1), got {value!r}")
    return int(entries[0]), int(entries[1])


def check_padding(padding, what):
    """"valid" / "same" (any case), an int, a pair (rows, cols) or (top, bottom, left, right)."""
    if isinstance(padding, str):
        padding = padding.lower()
        if padding not in ("valid", "same"):
            raise ValueError(f"{what}: padding must be 'valid', 'same', an int or a tuple, got {padding!r}")
        return padding
    if isinstance(padding, list):
        padding = tuple(padding)
    if arguments.is_int(padding):
        padding = int(padding)
        entries = (padding,)
    elif isinstance(padding, tuple) and len(padding) in (2, 4) and all(arguments.is_int(p) for p in padding):
        padding = entries = tuple(int(p) for p in padding)
    else:
        raise TypeError(f"{what}: padding must be 'valid', 'same', an int or a tuple of 2 or 4 ints, "
                        f"got {padding!r}")
    if min(entries) < 0:
        raise ValueError(f"{what}: padding must be 'valid', 'same' or ints >= 0, got {padding!r}")
    resolve_padding(padding, (1, 1), (1, 1), (1, 1))  # raises for any other malformed spelling
    return padding


def spatial_output(input_hw, kernel, stride, padding):
    """(OH, OW) of a window op; None where the input size is unknown."""
    known = tuple(1 if s is None else s for s in input_hw)  # "same" padding depends on the size; unknown -> None anyway
    top, bottom, left, right = resolve_padding(padding, kernel, stride, known)
    return (output_size(input_hw[0], kernel[0], stride[0], top, bottom),
            output_size(input_hw[1], kernel[1], stride[1], left, right))


class Conv2D(Layer):
    """2-D convolution (cross-correlation, as every framework computes it), channels first:

        y[n, f, i, j] = activation(b[f] + sum_{c, p, q} W[f, c, p, q] x_pad[n, c, i s_h + p, j s_w + q])

    Inputs are (N, C, H, W), outputs (N, filters, OH, OW); the ``kernel`` weight has shape
    (filters, C, kh, kw) (PyTorch's layout, which the im2col GEMM wants), ``bias`` (filters,).
    Parameters: filters * C * kh * kw + filters.
    padding: "valid" (none, OH = (H - kh) // s + 1), "same" (OH = ceil(H / s); an odd total
    padding puts the extra row/column at the bottom/right, as TensorFlow does), an int or a
    pair (rows, cols) of zeros on each side, or (top, bottom, left, right).
    Initializer fans: fan_in = C kh kw, fan_out = filters kh kw.
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = positive_int(filters, "Conv2D", "filters")
        self.kernel_size = window_pair(kernel_size, "Conv2D", "kernel_size")
        self.strides = window_pair(strides, "Conv2D", "strides")
        self.padding = check_padding(padding, "Conv2D")
        set_kernel_bias_options(self, activation, use_bias, kernel_initializer, bias_initializer,
                                kernel_regularizer, bias_regularizer)

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[0] is None:
            raise ValueError(f"{self._label()}: needs images (N, C, H, W) (channels first) with a known C, "
                             f"got feature shape {input_shape}")
        channels = input_shape[0]
        self.kernel = self.add_weight("kernel", (self.filters, channels) + self.kernel_size,
                                      self.kernel_initializer, regularizer=self.kernel_regularizer)
        self.bias = (self.add_weight("bias", (self.filters,), self.bias_initializer, regularizer=self.bias_regularizer)
                     if self.use_bias else None)
        # H and W may change between calls (a fully convolutional net); C may not.
        self.input_spec = InputSpec(ndim=3, axes={0: channels})

    def call(self, x):
        return conv2d(x, self.kernel, self.bias, stride=self.strides, padding=self.padding,
                      activation=self.activation)

    def compute_output_shape(self, input_shape):
        return (self.filters,) + spatial_output(input_shape[1:], self.kernel_size, self.strides, self.padding)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=list(self.kernel_size), strides=list(self.strides),
                      padding=list(self.padding) if isinstance(self.padding, tuple) else self.padding,
                      **kernel_bias_config(self))
        return config
