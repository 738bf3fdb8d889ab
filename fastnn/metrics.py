"""Metrics for ``Model.compile(metrics=[...])``: stateful means over the samples seen.

    metric.update_state(pred, target)   add one batch (pred: the model's output, as for losses)
    metric.result()                     the mean so far, a Python float
    metric.reset_state()                forget everything (fit does it at every epoch)

The state is a running sum and a count; the sum stays on the predictions' device (a
0-d array), so updating a metric never waits for the GPU: only ``result()`` reads it.

    accuracy (sparse)        mean_i [ argmax_k p_ik == y_i ]                       integer labels
    accuracy (categorical)   mean_i [ argmax_k p_ik == argmax_k t_ik ]              one-hot targets
    accuracy (binary)        mean [ (p > threshold) == (t > 0.5) ]                  targets in {0, 1}
    top-k accuracy           mean_i [ #{k' : p_ik' > p_i,y_i} < k ]                 true class among the k best
    mae, mse                 mean |p - t|,  mean (p - t)^2 over all elements

Binary accuracy compares probabilities with ``threshold`` (0.5). Its input is the model
output: the output of a final sigmoid is a probability; with a binary cross-entropy loss
(which works from logits) any other output is a logit z, compared as z > log(threshold /
(1 - threshold)) (z > 0 for 0.5), the same decision; with other losses the output is
compared with the threshold as it is.

``get(identifier, loss)``: "accuracy"/"acc" picks sparse, categorical or binary accuracy
from the loss (and from the shapes per batch when the loss does not tell);
"sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy",
"top_k_accuracy"/"sparse_top_k_categorical_accuracy" (k=5; ``TopKAccuracy(k=3)`` for
another k), "mae"/"mean_absolute_error", "mse"/"mean_squared_error"; a Metric is used as
given; a config dict from ``get_config()`` is rebuilt.
"""

from __future__ import annotations

import math

from . import arguments
from . import backend as backends


def _arrays(pred, target):
    """(xp, pred array, target array, final activation of pred or None); the target moves
    to the predictions' device when it is a host array."""
    from .tensor import Tensor

    record = getattr(pred, "_pre_activation", None)
    activation = record[0] if record is not None else None
    if isinstance(pred, Tensor):
        xp, p = pred._backend.xp, pred.data
    else:
        xp = backends.of_array(pred).xp
        p = xp.asarray(pred)
    t = target.data if isinstance(target, Tensor) else target
    source = backends.of_array(t)
    if source.xp is not xp and not source.host_memory:   # device labels for host predictions
        t = source.to_numpy(t)
    return xp, p, xp.asarray(t), activation


def _column_like(t, p):
    """Targets (N,) against predictions (N, 1) taken as a column (as the losses do)."""
    if t.ndim == p.ndim - 1 and p.ndim >= 1 and p.shape[-1] == 1:
        return t.reshape(t.shape + (1,))
    return t


def _regression_targets(t, p, what):
    """Targets of the predictions' shape and dtype ((N,) against (N, 1) taken as a column)."""
    t = _column_like(t, p)
    if tuple(t.shape) != tuple(p.shape):
        raise ValueError(f"{what}: targets must have the predictions' shape {tuple(p.shape)}, got {tuple(t.shape)}")
    return t.astype(p.dtype)


def _labels(t, p, what):
    """Integer labels of shape p.shape[:-1] (a trailing axis of 1 dropped)."""
    if t.ndim == p.ndim and t.ndim >= 1 and t.shape[-1] == 1:
        t = t.reshape(t.shape[:-1])
    if tuple(t.shape) != tuple(p.shape[:-1]):
        raise ValueError(f"{what}: labels must have shape {tuple(p.shape[:-1])} for predictions of shape "
                         f"{tuple(p.shape)}, got {tuple(t.shape)}")
    return t


class Metric:
    """Base class: subclasses define ``_batch(xp, pred, target, activation) -> (sum, count)``."""

    default_name = "metric"

    def __init__(self, name=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{type(self).__name__}: name must be a string, got {name!r}")
        self.name = name or self.default_name
        self.reset_state()

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0
        self._last = (0.0, 0)

    def update_state(self, pred, target) -> None:
        xp, p, t, activation = _arrays(pred, target)
        total, count = self._batch(xp, p, t, activation)
        self.total = self.total + total  # a device scalar on gpu: no synchronisation here
        self.count += int(count)
        self._last = (total, int(count))

    def result(self) -> float:
        """The mean over every sample (element) seen since the last reset; 0.0 before any."""
        return float(self.total) / self.count if self.count else 0.0

    def batch_result(self) -> float:
        """The value on the last batch alone."""
        total, count = self._last
        return float(total) / count if count else 0.0

    def __call__(self, pred, target) -> float:
        """Stateless use: the metric of one batch (the running state is left alone)."""
        xp, p, t, activation = _arrays(pred, target)
        total, count = self._batch(xp, p, t, activation)
        return float(total) / int(count) if count else 0.0

    def _batch(self, xp, p, t, activation):
        raise NotImplementedError

    def _config_args(self) -> dict:
        return {}

    def get_config(self) -> dict:
        """JSON-able: ``{"class_name": ..., "config": {"name": ..., ...}}``."""
        return {"class_name": type(self).__name__, "config": {"name": self.name, **self._config_args()}}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config()["config"].items())
        return f"{type(self).__name__}({args})"


class SparseCategoricalAccuracy(Metric):
    """Share of samples whose largest output is at the integer label."""

    default_name = "sparse_categorical_accuracy"

    def _batch(self, xp, p, t, activation):
        t = _labels(t, p, self.name)
        return (xp.argmax(p, axis=-1) == t).sum(), t.size


class CategoricalAccuracy(Metric):
    """Share of samples whose largest output is where the one-hot (or soft) target is largest."""

    default_name = "categorical_accuracy"

    def _batch(self, xp, p, t, activation):
        if tuple(t.shape) != tuple(p.shape):
            raise ValueError(f"{self.name}: targets must have the predictions' shape {tuple(p.shape)}, "
                             f"got {tuple(t.shape)}")
        hits = xp.argmax(p, axis=-1) == xp.argmax(t, axis=-1)
        return hits.sum(), hits.size


def _threshold(value, where) -> float:
    """A decision threshold on probabilities: a number in (0, 1)."""
    return arguments.real(value, where, "threshold", low=0.0, high=1.0, low_open=True, high_open=True)


class BinaryAccuracy(Metric):
    """Share of elements where (probability > threshold) agrees with (target > 0.5).

    ``from_logits``: the outputs are logits unless they come from a final sigmoid (what a
    binary cross-entropy loss assumes); False compares the outputs with the threshold as
    they are. ``get("accuracy", loss)`` sets it from the loss.
    """

    default_name = "binary_accuracy"

    def __init__(self, name=None, threshold=0.5, from_logits=False):
        self.threshold = _threshold(threshold, "BinaryAccuracy")
        self.from_logits = arguments.boolean(from_logits, "BinaryAccuracy", "from_logits")
        super().__init__(name=name)

    def _batch(self, xp, p, t, activation):
        t = _column_like(t, p)
        if tuple(t.shape) != tuple(p.shape):
            raise ValueError(f"{self.name}: targets must have the predictions' shape {tuple(p.shape)}, "
                             f"got {tuple(t.shape)}")
        if self.from_logits and activation != "sigmoid":
            cut = math.log(self.threshold / (1.0 - self.threshold))  # the logit of the threshold
        else:
            cut = self.threshold
        hits = (p > cut) == (t > 0.5)
        return hits.sum(), hits.size

    def _config_args(self):
        return {"threshold": self.threshold, "from_logits": self.from_logits}


class Accuracy(Metric):
    """Accuracy that picks its kind from the shapes of each batch (used when the loss does
    not tell): one output column is binary, labels one axis short are sparse, targets of
    the predictions' shape are categorical."""

    default_name = "accuracy"

    def __init__(self, name=None, threshold=0.5):
        self._binary = BinaryAccuracy(threshold=_threshold(threshold, "Accuracy"))
        self._sparse = SparseCategoricalAccuracy()
        self._categorical = CategoricalAccuracy()
        super().__init__(name=name)

    def _batch(self, xp, p, t, activation):
        if p.ndim == 1 or p.shape[-1] == 1:
            return self._binary._batch(xp, p, t, activation)
        if t.ndim == p.ndim - 1 or (t.ndim == p.ndim and t.shape[-1] == 1):
            return self._sparse._batch(xp, p, t, activation)
        return self._categorical._batch(xp, p, t, activation)

    def _config_args(self):
        return {"threshold": self._binary.threshold}


class TopKAccuracy(Metric):
    """Share of samples whose true class is among the k largest outputs (integer labels,
    or one-hot targets whose largest entry is the class). Ties count in the sample's favour."""

    def __init__(self, k=5, name=None):
        if not arguments.is_int(k):
            raise TypeError(f"TopKAccuracy: k must be a positive int, got {arguments._show(k)}")
        if k < 1:
            raise ValueError(f"TopKAccuracy: k must be a positive int, got {k!r}")
        self.k = k = int(k)
        super().__init__(name=name or ("top_k_accuracy" if k == 5 else f"top_{k}_accuracy"))

    def _batch(self, xp, p, t, activation):
        if p.ndim < 2:
            raise ValueError(f"{self.name}: predictions must be (N, C), got shape {tuple(p.shape)}")
        if tuple(t.shape) == tuple(p.shape) and p.shape[-1] > 1:
            t = xp.argmax(t, axis=-1)
        t = _labels(t, p, self.name)
        rows = p.reshape(-1, p.shape[-1])
        labels = t.reshape(-1).astype("int64")
        true_score = rows[xp.arange(rows.shape[0]), labels]
        better = (rows > true_score[:, None]).sum(axis=-1)  # classes scored strictly higher
        hits = better < self.k
        return hits.sum(), hits.size

    def _config_args(self):
        return {"k": self.k}


class MeanAbsoluteError(Metric):
    """mean |pred - target| over all elements."""

    default_name = "mean_absolute_error"

    def _batch(self, xp, p, t, activation):
        return xp.abs(p - _regression_targets(t, p, self.name)).sum(), p.size


class MeanSquaredError(Metric):
    """mean (pred - target)^2 over all elements."""

    default_name = "mean_squared_error"

    def _batch(self, xp, p, t, activation):
        d = p - _regression_targets(t, p, self.name)
        return (d * d).sum(), p.size


_CLASSES = {cls.__name__: cls for cls in (SparseCategoricalAccuracy, CategoricalAccuracy, BinaryAccuracy,
                                          Accuracy, TopKAccuracy, MeanAbsoluteError, MeanSquaredError)}
_BY_NAME = {
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy,
    "top_k_accuracy": TopKAccuracy,
    "sparse_top_k_categorical_accuracy": TopKAccuracy,
    "top_k_categorical_accuracy": TopKAccuracy,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
}


def _accuracy_for(loss, name):
    task = getattr(loss, "task", None)
    if task == "sparse":
        return SparseCategoricalAccuracy(name=name)
    if task == "categorical":
        return CategoricalAccuracy(name=name)
    if task == "binary":
        return BinaryAccuracy(name=name, from_logits=True)
    return Accuracy(name=name)


def get(identifier, loss=None, custom_objects=None) -> Metric:
    """A Metric from a name, a Metric or a config dict; ``loss`` (a fastnn.losses.Loss)
    decides what "accuracy" means. See the module docstring."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict):
        return from_config(identifier, custom_objects)
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            return _accuracy_for(loss, identifier)
        if key in _BY_NAME:
            cls = _BY_NAME[key]
            if cls is BinaryAccuracy:
                return BinaryAccuracy(name=identifier, from_logits=getattr(loss, "task", None) == "binary")
            return cls(name=identifier)
        valid = ["accuracy", "acc", *_BY_NAME]
        raise ValueError(f"unknown metric {identifier!r}; valid names are {', '.join(valid)} "
                         f"(or pass a fastnn.metrics.Metric)")
    raise TypeError(f"a metric must be a name or a fastnn.metrics.Metric, got {type(identifier).__name__}")


def from_config(config: dict, custom_objects=None) -> Metric:
    """Rebuild a metric from ``Metric.get_config()``; user classes come from ``custom_objects``."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"a metric config is a dict with 'class_name' and 'config', got {config!r}")
    name, args = config["class_name"], dict(config.get("config") or {})
    cls = _CLASSES.get(name) or (custom_objects or {}).get(name)
    if cls is None:
        raise ValueError(f"unknown metric class {name!r}; pass it as custom_objects={{{name!r}: cls}}")
    return cls(**args)


__all__ = ["Metric", "Accuracy", "SparseCategoricalAccuracy", "CategoricalAccuracy", "BinaryAccuracy",
           "TopKAccuracy", "MeanAbsoluteError", "MeanSquaredError", "get", "from_config"]
