"""The residual block of ResNet (He et al., 2016): a skip connection around two convolutions.

    y = relu( BN(conv3x3(relu(BN(conv3x3(x))))) + shortcut(x) )

``shortcut(x)`` is x itself when the shape is kept, else a 1x1 convolution with the
block's stride followed by batch norm (the "projection shortcut"), so the two branches
have the same shape where ``Add`` joins them. The gradient reaches x through the
shortcut unchanged (d y / d x includes the identity), which is why deep stacks of
these blocks keep training where a plain stack of the same depth does not.
"""

from __future__ import annotations

from ..ops import activations
from .base import InputSpec, Layer
from .conv import Conv2D
from .core import positive_int
from .merge import Add
from .normalization import BatchNormalization


class ResidualBlock(Layer):
    """Two 3x3 convolutions (``filters`` channels, the first with ``strides``) with batch
    norm, plus a shortcut; NCHW in, NCHW out (filters, ceil(H / strides), ceil(W / strides))."""

    def __init__(self, filters, strides=1, **kwargs):
        super().__init__(**kwargs)
        self.filters = positive_int(filters, "ResidualBlock", "filters")
        self.strides = positive_int(strides, "ResidualBlock", "strides")
        # He initialisation: the branch ends in ReLU-fed convolutions
        self.conv1 = Conv2D(self.filters, 3, strides=self.strides, padding="same", use_bias=False,
                            kernel_initializer="he_normal")
        self.bn1 = BatchNormalization()
        self.conv2 = Conv2D(self.filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal")
        self.bn2 = BatchNormalization()
        self.add = Add()
        self.projection = None
        self.projection_bn = None

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{self._label()}: needs images (N, C, H, W), got feature shape {input_shape}")
        if input_shape[0] != self.filters or self.strides != 1:
            self.projection = Conv2D(self.filters, 1, strides=self.strides, use_bias=False,
                                     kernel_initializer="he_normal")
            self.projection_bn = BatchNormalization()
        # Build the inner layers now (not on the first call), so that summary() and
        # count_params() see every weight as soon as the block's input shape is known.
        dtype, backend = self.dtype, self._build_backend
        out_shape = self.compute_output_shape(input_shape)
        self.conv1._build_with(input_shape, dtype, backend)
        self.bn1._build_with(out_shape, dtype, backend)
        self.conv2._build_with(out_shape, dtype, backend)
        self.bn2._build_with(out_shape, dtype, backend)
        if self.projection is not None:
            self.projection._build_with(input_shape, dtype, backend)
            self.projection_bn._build_with(out_shape, dtype, backend)
        self.input_spec = InputSpec(ndim=3, axes={0: input_shape[0]})

    def call(self, x):
        branch = activations.relu(self.bn1(self.conv1(x)))
        branch = self.bn2(self.conv2(branch))
        shortcut = x if self.projection is None else self.projection_bn(self.projection(x))
        return activations.relu(self.add([branch, shortcut]))

    def compute_output_shape(self, input_shape):
        return (self.filters,) + tuple(None if s is None else -(-s // self.strides) for s in input_shape[1:])

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, strides=self.strides)
        return config
