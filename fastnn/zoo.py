"""Ready-made models for the ``fastnn train`` command and for quick experiments.

Each builder returns a ``Sequential`` that starts with ``Input`` (so every layer is built
at once and ``summary()`` works) and outputs logits, one per class:

    mlp(input_shape, num_classes)     Flatten -> Dense(256, relu) -> Dropout -> Dense(128, relu) -> Dense
    cnn(input_shape, num_classes)     [Conv 3x3 -> BN -> ReLU -> MaxPool 2x2] x 2 -> Flatten -> Dense(128, relu)
                                      -> Dropout -> Dense
    resnet(input_shape, num_classes)  Conv 3x3 -> BN -> ReLU -> ResidualBlock x 3 (the last two halve the size)
                                      -> GlobalAveragePooling -> Dense

Images are (C, H, W); the convolutional models pool only while the image is at least
4 pixels wide, so the same builder serves 8x8 digits and 28x28 MNIST.
"""

from __future__ import annotations

from .layers import (
    Activation,
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    Input,
    MaxPooling2D,
    ResidualBlock,
)
from .models import Sequential


def _image_shape(input_shape, model):
    if len(input_shape) != 3:
        raise ValueError(f"zoo.{model}: needs image inputs (channels, height, width), got input_shape "
                         f"{tuple(input_shape)}")
    return tuple(input_shape)


def mlp(input_shape, num_classes, backend=None, hidden=(256, 128), dropout=0.2) -> Sequential:
    """A multilayer perceptron on the flattened input (He initialisation for the ReLU layers)."""
    layers = [Input(tuple(input_shape))]
    if len(input_shape) > 1:
        layers.append(Flatten())
    for i, units in enumerate(hidden):
        layers.append(Dense(units, activation="relu", kernel_initializer="he_normal"))
        if i == 0 and dropout:
            layers.append(Dropout(dropout))
    layers.append(Dense(num_classes))
    return Sequential(layers, backend=backend, name="mlp")


def cnn(input_shape, num_classes, backend=None, filters=(32, 64), dropout=0.3) -> Sequential:
    """Two conv blocks (3x3 "same" convolution, batch norm, ReLU, 2x2 max pooling) and a dense head."""
    channels, height, width = _image_shape(input_shape, "cnn")
    layers = [Input((channels, height, width))]
    for f in filters:
        layers += [Conv2D(f, 3, padding="same", use_bias=False, kernel_initializer="he_normal"),
                   BatchNormalization(), Activation("relu")]
        if min(height, width) >= 4:
            layers.append(MaxPooling2D(2))
            height, width = height // 2, width // 2
    layers += [Flatten(), Dense(128, activation="relu", kernel_initializer="he_normal")]
    if dropout:
        layers.append(Dropout(dropout))
    layers.append(Dense(num_classes))
    return Sequential(layers, backend=backend, name="cnn")


def resnet(input_shape, num_classes, backend=None, filters=(16, 32, 64)) -> Sequential:
    """A small ResNet: a stem convolution, one residual block per entry of ``filters`` (every
    block after the first halves the image with stride 2), global average pooling, a dense head."""
    channels, height, width = _image_shape(input_shape, "resnet")
    layers = [Input((channels, height, width)),
              Conv2D(filters[0], 3, padding="same", use_bias=False, kernel_initializer="he_normal"),
              BatchNormalization(), Activation("relu")]
    for i, f in enumerate(filters):
        layers.append(ResidualBlock(f, strides=1 if i == 0 else 2))
    layers += [GlobalAveragePooling2D(), Dense(num_classes)]
    return Sequential(layers, backend=backend, name="resnet")


MODELS = {"mlp": mlp, "cnn": cnn, "resnet": resnet}


def build(name, input_shape, num_classes, backend=None) -> Sequential:
    """The model called ``name`` ("mlp", "cnn" or "resnet") for ``input_shape`` and ``num_classes``."""
    if name not in MODELS:
        raise ValueError(f"zoo.build: unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name](input_shape, num_classes, backend=backend)


__all__ = ["mlp", "cnn", "resnet", "build", "MODELS"]
