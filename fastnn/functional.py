"""The ops users call, ``import fastnn.functional as F``: each one differentiable Function.

Formulas live in the docstrings of each op's module in ``fastnn/ops`` and of its
kernels in ``fastnn/kernels/reference``.
"""

from .ops.activations import elu, gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, softplus, step, tanh
from .ops.conv import conv2d
from .ops.dropout import dropout
from .ops.embedding import embedding
from .ops.linear import linear
from .ops.losses import (
    binary_crossentropy,
    categorical_crossentropy,
    l2,
    mae,
    mse,
    sparse_categorical_crossentropy,
)
from .ops.normalization import batch_norm
from .ops.pooling import avg_pool2d, max_pool2d

__all__ = [
    "linear", "relu", "sigmoid", "tanh", "leaky_relu", "elu", "gelu", "softplus", "step", "softmax",
    "log_softmax", "conv2d", "max_pool2d", "avg_pool2d", "batch_norm", "dropout", "embedding",
    "sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy", "mse", "mae", "l2",
]
