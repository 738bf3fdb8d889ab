"""ExportError: what ``fastnn.onnx.export`` raises for a model it cannot write as ONNX."""

from __future__ import annotations


class ExportError(ValueError):
    """A model, or a part of it, that has no ONNX form: the message names the layer (its
    name and class) or the op, and says why. Nothing is written when it is raised."""


__all__ = ["ExportError"]
