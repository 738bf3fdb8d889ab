"""Layers, Keras style: ``fnn.layers.Dense(64, activation="relu")``.

Every layer builds lazily on its first call from the input's feature shape (batch axis
excluded), on the input's backend and dtype; see ``base.Layer`` for the contract shared
by all of them (weights, ``parameters()``, ``losses``, configs, training mode).

Images are channels first (N, C, H, W); sequences are (N, T, F).
"""

from .base import FASTNN_CLASSES, InputSpec, Layer
from .conv import Conv2D
from .core import Activation, Dense, Dropout, Flatten, Input, InputLayer
from .embedding import Embedding
from .merge import Add
from .normalization import BatchNormalization, SyncBatchNormalization
from .pooling import (
    AveragePooling2D,
    AvgPool2D,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    MaxPool2D,
    MaxPooling2D,
)
from .recurrent import GRU, LSTM, SimpleRNN
from .residual import ResidualBlock

Convolution2D = Conv2D  # Keras' alias
BatchNorm = BatchNormalization

__all__ = [
    "Layer", "InputSpec", "Input", "InputLayer", "Dense", "Flatten", "Activation", "Dropout", "Conv2D",
    "Convolution2D", "MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D", "GlobalAveragePooling2D",
    "GlobalMaxPooling2D", "BatchNormalization", "BatchNorm", "SyncBatchNormalization", "Embedding", "SimpleRNN",
    "LSTM", "GRU", "Add", "ResidualBlock",
    "get", "serialize", "deserialize",
]


def get(class_name: str):
    """The layer class called ``class_name`` ("Dense", "Conv2D", ..., and the models
    "Sequential" and "Model")."""
    cls = globals().get(class_name) or FASTNN_CLASSES.get(class_name)
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        names = sorted(n for n, v in globals().items() if isinstance(v, type) and issubclass(v, Layer))
        raise ValueError(f"unknown layer class {class_name!r}; fastnn.layers has {', '.join(names)}")
    return cls


def serialize(layer: Layer) -> dict:
    """A layer's JSON-able config (with "class_name")."""
    return layer.get_config()


def deserialize(config: dict, custom_objects: dict | None = None) -> Layer:
    """A fresh (unbuilt) layer from ``serialize``'s output; ``custom_objects`` maps names of
    user layer classes to the classes."""
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or get(name)
    if isinstance(cls, type) and issubclass(cls, get("Sequential")):  # its layers may be user classes too
        return cls.from_config(config, custom_objects)
    return cls.from_config(config)
