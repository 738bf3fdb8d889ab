"""Merge layers: combine a list of tensors (skip connections)."""

from __future__ import annotations

import functools
import operator

from ..tensor import Tensor
from .base import Layer, format_shape


class Add(Layer):
    """y = x_1 + x_2 + ... + x_k for a list of k >= 2 tensors of one shape.

    ``Add()([x, shortcut])`` is a residual connection. Shapes must match exactly (no
    broadcasting: a mismatch is almost always a bug in the model), and the error names them.
    """

    def _validate_inputs(self, inputs):
        if isinstance(inputs, Tensor) or len(inputs) < 2 or not all(isinstance(t, Tensor) for t in inputs):
            raise TypeError(f"{self._label()}: takes a list of at least two tensors, "
                            f"got {type(inputs).__name__}")
        shapes = [t.shape for t in inputs]
        if len(set(shapes)) > 1:
            raise ValueError(f"{self._label()}: all inputs need the same shape, got "
                             f"{', '.join(format_shape(s) for s in shapes)}")

    def _check_input(self, inputs, shapes):
        pass  # no weights: any shape, as long as the inputs agree (checked above)

    def call(self, inputs):
        return functools.reduce(operator.add, inputs)

    def compute_output_shape(self, input_shape):
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        if len(set(shapes)) > 1:
            raise ValueError(f"{self._label()}: all inputs need the same shape, got "
                             f"{', '.join(format_shape(s) for s in shapes)}")
        return shapes[0]
