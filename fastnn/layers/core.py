"""Core layers: Input, Dense, Flatten, Activation, Dropout."""

from __future__ import annotations

import math

from .. import arguments
from .. import init as initializers
from .. import regularizers
from ..kernels.contract import ACTIVATIONS
from ..ops import activations
from ..ops.dropout import Dropout as DropoutOp
from ..ops.dropout import dropout
from ..ops.linear import Linear, linear
from ..ops.math import Reshape
from ..random import default_generator
from .base import InputSpec, Layer, normalize_shape, serialize_callable


def positive_int(value, where, name) -> int:
    """An int >= 1 (a count of units, filters, a stride): TypeError for 2.5 or "4", ValueError for 0."""
    return arguments.integer(value, where, name, low=1)


def check_activation(activation, where="Activation", name="activation"):
    """``activation`` as given, once ``fastnn.ops.activations.get`` knows it (a name or a callable)."""
    if activation is None or callable(activation):
        return activation
    if not isinstance(activation, str):
        raise TypeError(f"{where}: {name} must be None, an activation name or a callable, "
                        f"got {arguments._show(activation)}")
    try:
        activations.get(activation)  # raises for an unknown name, naming the valid ones
    except ValueError as error:
        raise ValueError(f"{where}: {name} must be an activation name or a callable, got {error}") from None
    return activation


def check_initializer(initializer, where="Layer", name="initializer"):
    """``initializer`` as given, once ``fastnn.init.get`` knows it (a name or a callable)."""
    initializers.get(initializer, where, name)
    return initializer


def check_regularizer(regularizer, where="Layer", name="regularizer"):
    """``regularizer`` as given, once ``fastnn.regularizers.get`` accepts it: an unknown name
    fails here, in the constructor, not when the layer builds (nor in its repr)."""
    regularizers.get(regularizer, where, name)
    return regularizer


def activation_config(activation):
    return serialize_callable(activation, activations._BY_NAME)


def initializer_config(initializer):
    return serialize_callable(initializer, initializers._BY_NAME)


class Input(Layer):
    """Declares the feature shape (batch excluded) of a model's input: ``Input((784,))``.

    Put first in a ``Sequential`` it makes the model build at once, so ``summary()`` works
    before any data flows. Called on a tensor it returns it unchanged after checking its
    shape (None in ``shape`` accepts any size on that axis).
    """

    def __init__(self, shape, dtype=None, name=None):
        super().__init__(name=name, dtype=dtype)
        self.shape = normalize_shape(shape, "Input", "shape")
        if isinstance(self.shape, list):
            raise ValueError(f"Input: shape must be one shape (a tuple of ints or None), got {shape!r}")
        self.input_spec = InputSpec(shape=self.shape)
        # Built from the start: the declared shape is what it checks against.
        self.built = True
        self._build_input_shape = self.shape
        self._output_shape = (None,) + self.shape

    def call(self, x):
        return x

    # fit's direct step (fastnn/direct_step.py): the identity.
    def direct_params(self):
        return ()

    def direct_call(self, x, backend, need_input_grad):
        return x, None

    def compute_output_shape(self, input_shape):
        return self.shape

    def get_config(self):
        config = super().get_config()
        config["shape"] = list(self.shape)
        return config


InputLayer = Input  # Keras' class name for the same thing


def set_kernel_bias_options(layer, activation, use_bias, kernel_initializer, bias_initializer,
                            kernel_regularizer, bias_regularizer) -> None:
    """The options Dense, Conv2D and the recurrent layers share: validated and stored on the layer."""
    where = type(layer).__name__
    layer.activation = check_activation(activation, where, "activation")
    layer.use_bias = arguments.boolean(use_bias, where, "use_bias")
    layer.kernel_initializer = check_initializer(kernel_initializer, where, "kernel_initializer")
    layer.bias_initializer = check_initializer(bias_initializer, where, "bias_initializer")
    layer.kernel_regularizer = check_regularizer(kernel_regularizer, where, "kernel_regularizer")
    layer.bias_regularizer = check_regularizer(bias_regularizer, where, "bias_regularizer")


def kernel_bias_config(layer) -> dict:
    """The JSON-able form of the options stored by ``set_kernel_bias_options``."""
    return dict(activation=activation_config(layer.activation), use_bias=layer.use_bias,
                kernel_initializer=initializer_config(layer.kernel_initializer),
                bias_initializer=initializer_config(layer.bias_initializer),
                kernel_regularizer=regularizers.serialize(regularizers.get(layer.kernel_regularizer)),
                bias_regularizer=regularizers.serialize(regularizers.get(layer.bias_regularizer)))


class Dense(Layer):
    """Fully connected layer: ``y = activation(x W + b)``.

    W (``kernel``) has shape (in_features, units), Keras' layout, so the formula reads as
    written; b (``bias``) has shape (units,). x may have extra leading axes (they are
    batch-like). Parameters: in_features * units + units (units fewer without bias).
    The element-wise activations run fused in the linear kernel's pass after the GEMM;
    "softmax", "log_softmax", "linear" and callables are applied after it.
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.units = positive_int(units, "Dense", "units")
        set_kernel_bias_options(self, activation, use_bias, kernel_initializer, bias_initializer,
                                kernel_regularizer, bias_regularizer)

    def build(self, input_shape):
        if len(input_shape) < 1 or input_shape[-1] is None:
            raise ValueError(f"{self._label()}: needs inputs (N, ..., features) with a known number of features, "
                             f"got feature shape {input_shape}")
        in_features = input_shape[-1]
        self.kernel = self.add_weight("kernel", (in_features, self.units), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer)
        self.bias = (self.add_weight("bias", (self.units,), self.bias_initializer, regularizer=self.bias_regularizer)
                     if self.use_bias else None)
        self.input_spec = InputSpec(min_ndim=1, axes={-1: in_features})

    def call(self, x):
        return linear(x, self.kernel, self.bias, activation=self.activation)

    # fit's direct step (fastnn/direct_step.py): the one Linear op ``call`` records, when the
    # activation is fused into it.
    def direct_params(self):
        if self.activation is not None and self.activation not in ACTIVATIONS:
            return None
        return (self.kernel, self.bias) if self.use_bias else (self.kernel,)

    def direct_call(self, x, backend, need_input_grad):
        op = Linear(backend)
        # a frozen layer's weights get no gradient: its kernel's GEMM is skipped, not thrown away
        op.needs_input_grad = (need_input_grad, self.kernel._requires_grad,
                               self.use_bias and self.bias._requires_grad)
        bias = self.bias.data if self.use_bias else None
        return op.forward(x, self.kernel.data, bias, self.activation,
                          activations.DEFAULT_ALPHA.get(self.activation, 0.0)), op

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, **kernel_bias_config(self))
        return config


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1 d2 ...): keeps the batch axis, joins the rest (C order)."""

    def build(self, input_shape):
        self.input_spec = InputSpec()  # any shape: the output size follows the input

    def call(self, x):
        return x.reshape(x.shape[0], math.prod(x.shape[1:]))   # an empty batch has no -1 to infer

    # fit's direct step (fastnn/direct_step.py): the Reshape op ``call`` records.
    def direct_params(self):
        return ()

    def direct_call(self, x, backend, need_input_grad):
        op = Reshape(backend)
        return op.forward(x, (x.shape[0], -1)), op

    def compute_output_shape(self, input_shape):
        if any(s is None for s in input_shape):
            return (None,)
        return (math.prod(input_shape),)


class Activation(Layer):
    """Applies an activation element-wise (or along the last axis for softmax):
    any name of ``fastnn.ops.activations`` ("relu", "sigmoid", "tanh", "softmax", ...) or a callable."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = check_activation(activation, "Activation", "activation")

    def build(self, input_shape):
        self.input_spec = InputSpec()

    def call(self, x):
        return activations.get(self.activation)(x)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["activation"] = activation_config(self.activation)
        return config


class Dropout(Layer):
    """Inverted dropout while training: each element is zeroed with probability ``rate`` and
    the survivors scaled by 1 / (1 - rate), so the expected value is unchanged and
    inference (training=False) is the identity. Masks come from fastnn's seeded Philox
    stream (``fnn.manual_seed``): the same on every backend."""

    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        self.rate = arguments.probability(rate, "Dropout", "rate", include_one=False)

    def build(self, input_shape):
        self.input_spec = InputSpec()

    def call(self, x, training=None):
        return dropout(x, self.rate, bool(training))

    # fit's direct step (fastnn/direct_step.py): the training-mode Dropout op, its mask drawn
    # from the stream at the same point as ``call`` draws it.
    def direct_params(self):
        return ()

    def direct_call(self, x, backend, need_input_grad):
        if self.rate == 0.0:
            return x, None
        seed, offset, lane = default_generator.take_sample_words(x.shape)
        op = DropoutOp(backend)
        return op.forward(x, self.rate, seed, offset, lane), op

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["rate"] = self.rate
        return config
