"""Loss objects for ``Model.compile``: ``model.compile(loss="sparse_categorical_crossentropy")``.

A loss is called as ``loss(pred, target)`` (the order of ``fastnn.functional``: model
output first) and returns the batch mean as a 0-d tensor:

    SparseCategoricalCrossentropy   mean_i [ logsumexp(z_i) - z_i[y_i] ]        integer labels (N,)
    CategoricalCrossentropy         mean_i [ -sum_k t_ik log_softmax(z_i)_k ]   one-hot / soft targets (N, C)
    BinaryCrossentropy              mean [ max(z, 0) - z t + log(1 + exp(-|z|)) ]   targets in [0, 1]
    MeanSquaredError                mean (p - t)^2
    MeanAbsoluteError               mean |p - t|

Logits and final activations. The cross-entropies work from logits z, so the usual
model ends in a plain ``Dense(classes)``. A model that ends in a softmax instead
(``Dense(10, activation="softmax")``, a trailing ``Activation("softmax")``, or a ``call``
returning ``F.softmax(...)``) is handled too: the softmax output remembers its input
(``fastnn.ops.activations.pre_activation``) and the categorical cross-entropies use those
logits, so the loss is computed stably, never as log of a rounded probability. Binary
cross-entropy does the same with a final sigmoid. Any other output (including one
transformed after its activation) is taken as logits. Regression losses (MSE, MAE) use
the output as it is: a final activation is never peeled for them.

Targets may be arrays or tensors; integer or boolean targets of float losses are cast to
the predictions' dtype, and targets of shape (N,) against predictions (N, 1) are taken as
a column (Keras does the same).

``get(identifier)`` accepts a name ("sparse_categorical_crossentropy",
"categorical_crossentropy", "binary_crossentropy", "mse"/"mean_squared_error",
"mae"/"mean_absolute_error"), a ``Loss``, a config dict from ``get_config()``, or any
callable ``fn(pred, target) -> 0-d Tensor`` (wrapped in ``LossFunctionWrapper``).
"""

from __future__ import annotations

import numpy as np

from .ops import losses as ops
from .ops.activations import pre_activation


class Loss:
    """Base class: subclasses define ``call(pred, target)``.

    ``task`` tells metrics and input validation what the targets are: "sparse" (integer
    class labels), "categorical" (distributions over classes), "binary" (values in [0, 1]),
    "regression", or None (unknown: a user function). ``peels`` names the final activation
    whose logits the loss uses instead of its output ("softmax", "sigmoid" or None).
    """

    task: str | None = None
    peels: str | None = None
    float_targets = True  # targets are cast to the predictions' float dtype
    default_name = "loss"

    def __init__(self, name=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{type(self).__name__}: name must be a string, got {name!r}")
        self.name = name or self.default_name

    def __call__(self, pred, target):
        if self.peels is not None:
            logits = pre_activation(pred, self.peels)
            if logits is not None:
                pred = logits
        return self.call(pred, self._prepare_target(pred, target))

    def call(self, pred, target):
        raise NotImplementedError

    def _prepare_target(self, pred, target):
        from .tensor import Tensor, tensor

        if not isinstance(target, Tensor):
            kind = getattr(getattr(target, "dtype", None), "kind", "f")
            dtype = pred.dtype if self.float_targets and kind in "fiub" else None
            target = tensor(target, dtype=dtype, backend=pred.backend)
        elif self.float_targets and target.dtype != pred.dtype and target.dtype.kind in "fiub":
            target = target.astype(pred.dtype)
        if self._as_column(pred, target):
            target = target.reshape(target.shape + (1,))
        return target

    def _prepare_target_array(self, pred, target, backend):
        """``_prepare_target`` for the arrays of fit's direct step (checked by fit): the
        predictions' dtype, the column rule, C-contiguous."""
        if self.float_targets and target.dtype != pred.dtype:
            target = target.astype(pred.dtype)
        if self._as_column(pred, target):
            target = target.reshape(target.shape + (1,))
        return backend.contiguous(target)

    def _as_column(self, pred, target) -> bool:
        """Targets (N,) against predictions (N, 1) are taken as the column (N, 1) (Keras)."""
        return target.ndim == pred.ndim - 1 and pred.ndim >= 1 and pred.shape[-1] == 1 and self.task != "sparse"

    def get_config(self) -> dict:
        """JSON-able: ``{"class_name": ..., "config": {"name": ...}}`` (``from_config`` inverts it)."""
        return {"class_name": type(self).__name__, "config": {"name": self.name}}

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


_INT64 = np.dtype("int64")


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy of integer class labels (N,) against logits (N, C) (or a final softmax's output)."""

    task, peels, float_targets = "sparse", "softmax", False
    default_name = "sparse_categorical_crossentropy"

    def _prepare_target(self, pred, target):
        from .tensor import Tensor

        if isinstance(target, Tensor) and target.ndim == pred.ndim and target.ndim >= 1 and target.shape[-1] == 1:
            target = target.reshape(target.shape[:-1])  # labels given as a column (N, 1)
        return target

    def call(self, pred, target):
        return ops.sparse_categorical_crossentropy(pred, target)

    def direct_call(self, pred, target, backend):
        """fit's direct step (fastnn/direct_step.py): the op ``call`` records, on arrays
        fit has checked (integer labels in range, shaped as the logits' rows)."""
        op = ops.SparseSoftmaxCE(backend)
        op.needs_input_grad = (True, False)
        # The op reads the labels flat, row by row of the logits: their shape is not needed.
        labels = target if target.dtype == _INT64 else backend.contiguous(target.astype(_INT64))
        return op.forward(pred, labels), op


class CategoricalCrossentropy(Loss):
    """Cross-entropy of one-hot or soft targets (N, C) against logits (or a final softmax's output)."""

    task, peels = "categorical", "softmax"
    default_name = "categorical_crossentropy"

    def call(self, pred, target):
        return ops.categorical_crossentropy(pred, target)

    def direct_call(self, pred, target, backend):
        """fit's direct step (fastnn/direct_step.py): the op ``call`` records, on arrays."""
        op = ops.SoftSoftmaxCE(backend)
        op.needs_input_grad = (True, False)
        return op.forward(pred, self._prepare_target_array(pred, target, backend)), op


class BinaryCrossentropy(Loss):
    """Binary cross-entropy of targets in [0, 1] against logits (or a final sigmoid's output)."""

    task, peels = "binary", "sigmoid"
    default_name = "binary_crossentropy"

    def call(self, pred, target):
        return ops.binary_crossentropy(pred, target)


class MeanSquaredError(Loss):
    """mean (pred - target)^2 over all elements; the output is used as it is."""

    task = "regression"
    default_name = "mean_squared_error"

    def call(self, pred, target):
        return ops.mse(pred, target)

    def direct_call(self, pred, target, backend):
        """fit's direct step (fastnn/direct_step.py): the op ``call`` records, on arrays."""
        op = ops.MSE(backend)
        op.needs_input_grad = (True, False)
        return op.forward(pred, self._prepare_target_array(pred, target, backend)), op


class MeanAbsoluteError(Loss):
    """mean |pred - target| over all elements; the output is used as it is."""

    task = "regression"
    default_name = "mean_absolute_error"

    def call(self, pred, target):
        return ops.mae(pred, target)


class LossFunctionWrapper(Loss):
    """A plain function ``fn(pred, target) -> 0-d Tensor`` as a Loss (targets passed as given,
    converted to tensors; no final activation peeled)."""

    float_targets = False

    def __init__(self, fn, name=None):
        if not callable(fn):
            raise TypeError(f"LossFunctionWrapper: fn must be callable, got {type(fn).__name__}")
        super().__init__(name=name or getattr(fn, "__name__", type(fn).__name__))
        self.fn = fn

    def _prepare_target(self, pred, target):
        from .tensor import Tensor, tensor

        return target if isinstance(target, Tensor) else tensor(target, backend=pred.backend)

    def call(self, pred, target):
        from .tensor import Tensor

        out = self.fn(pred, target)
        if not isinstance(out, Tensor) or out.size != 1:
            raise TypeError(f"loss function {self.name!r} must return a one-element fastnn Tensor, got "
                            f"{type(out).__name__}" + (f" of shape {out.shape}" if isinstance(out, Tensor) else ""))
        return out.reshape(()) if out.ndim else out


_BY_NAME = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
}
_CLASSES = {cls.__name__: cls for cls in (SparseCategoricalCrossentropy, CategoricalCrossentropy,
                                          BinaryCrossentropy, MeanSquaredError, MeanAbsoluteError)}


def get(identifier, custom_objects=None) -> Loss:
    """A Loss from a name, a Loss, a config dict, or a callable ``fn(pred, target)``; see the module docstring."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _BY_NAME:
            raise ValueError(f"unknown loss {identifier!r}; valid names are {', '.join(_BY_NAME)} "
                             f"(or pass a Loss object or a function fn(pred, target))")
        return _BY_NAME[key](name=identifier if key in ("mse", "mae") else None)
    if isinstance(identifier, dict):
        return from_config(identifier, custom_objects)
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise TypeError(f"loss must be a name, a fastnn.losses.Loss or a function fn(pred, target), "
                    f"got {type(identifier).__name__}")


def from_config(config: dict, custom_objects=None) -> Loss:
    """Rebuild a loss from ``Loss.get_config()``; functions and user classes come from
    ``custom_objects`` ({name: object})."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"a loss config is a dict with 'class_name' and 'config', got {config!r}")
    name, args = config["class_name"], dict(config.get("config") or {})
    custom_objects = custom_objects or {}
    if name in _CLASSES:
        return _CLASSES[name](**args)
    if name == "LossFunctionWrapper":
        fn = custom_objects.get(args.get("name"))
        if fn is None:
            raise ValueError(f"the loss is the function {args.get('name')!r}, which cannot be rebuilt from a config; "
                             f"pass it as custom_objects={{{args.get('name')!r}: fn}}")
        return get(fn)
    cls = custom_objects.get(name)
    if cls is None:
        raise ValueError(f"unknown loss class {name!r}; pass it as custom_objects={{{name!r}: cls}}")
    return cls(**args) if isinstance(cls, type) else get(cls)


__all__ = ["Loss", "SparseCategoricalCrossentropy", "CategoricalCrossentropy", "BinaryCrossentropy",
           "MeanSquaredError", "MeanAbsoluteError", "LossFunctionWrapper", "get", "from_config"]
