"""Pooling over NCHW images: MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D."""

from __future__ import annotations

from ..ops.checks import require_float
from ..ops.pooling import avg_pool2d, max_pool2d
from .base import InputSpec, Layer
from .conv import check_padding, spatial_output, window_pair


class _Pooling2D(Layer):
    def __init__(self, pool_size=2, strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        self.pool_size = window_pair(pool_size, name, "pool_size")
        # Keras: strides default to the pool size (non-overlapping windows).
        self.strides = self.pool_size if strides is None else window_pair(strides, name, "strides")
        self.padding = check_padding(padding, name)

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{self._label()}: needs images (N, C, H, W), got feature shape {input_shape}")
        self.input_spec = InputSpec(ndim=3)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + spatial_output(input_shape[1:], self.pool_size, self.strides, self.padding)

    def get_config(self):
        config = super().get_config()
        config.update(pool_size=list(self.pool_size), strides=list(self.strides),
                      padding=list(self.padding) if isinstance(self.padding, tuple) else self.padding)
        return config


class MaxPooling2D(_Pooling2D):
    """y[n, c, i, j] = max of x over the pool_size window at (i s_h, j s_w).

    padding "valid": windows that do not fit are dropped; "same": OH = ceil(H / s), the
    padded cells count as -inf (never the maximum). The gradient goes to the (first)
    maximal input of each window."""

    def call(self, x):
        return max_pool2d(x, self.pool_size, self.strides, self.padding)


class AveragePooling2D(_Pooling2D):
    """y[n, c, i, j] = mean of x over the pool_size window at (i s_h, j s_w).

    With padding "same" the mean is over the real input cells of each window (Keras);
    with numeric padding the zeros count (PyTorch's default)."""

    def call(self, x):
        return avg_pool2d(x, self.pool_size, self.strides, self.padding)


class _GlobalPooling2D(Layer):
    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{self._label()}: needs images (N, C, H, W), got feature shape {input_shape}")
        self.input_spec = InputSpec(ndim=3)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)


class GlobalAveragePooling2D(_GlobalPooling2D):
    """(N, C, H, W) -> (N, C): y[n, c] = mean over h, w of x[n, c, h, w]. Float images only,
    as for AveragePooling2D (a mean of integer images would be a float64 the model never asked for)."""

    def call(self, x):
        require_float(self._label(), x=x)
        return x.mean(axis=(2, 3))


class GlobalMaxPooling2D(_GlobalPooling2D):
    """(N, C, H, W) -> (N, C): y[n, c] = max over h, w of x[n, c, h, w]."""

    def call(self, x):
        return x.max(axis=(2, 3))


MaxPool2D = MaxPooling2D        # Keras' aliases
AvgPool2D = AveragePooling2D
