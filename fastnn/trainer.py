"""The training loop, Keras style: ``fit``, ``evaluate``, ``predict`` and the ``*_on_batch``
steps, for any ``fastnn.Model`` (whose methods of the same names call these).

Each training step is the PyTorch loop written out once: ``optimizer.zero_grad()``, the
forward pass in training mode, the loss plus ``sum(model.losses)`` (regularization
penalties), ``backward()``, ``optimizer.step()``. For a plain stack of layers fit runs
the same ops without the autograd graph (``fastnn.direct_step``), with equal results. Inputs are checked before anything
runs (``fastnn.validation``), so nothing is trained on bad data. An unbuilt model is
built on its first sample and its parameters then join the optimizer. Around the steps:
callbacks (``fastnn.callbacks``), the progress bar (``fastnn.progress``), metrics averaged
over the samples seen, validation after each epoch.

This module takes the model as an argument and never imports ``fastnn.models``: the
models sit above it.
"""

from __future__ import annotations

import numpy as np

from . import arguments, distributed, validation
from .callbacks import Callback, CallbackList, History
from .data import DataLoader
from .direct_step import DirectStep
from .replicas import Replicas
from .grad_mode import no_grad
from .progress import Progress, check_verbose
from .tensor import FLAG_CHANGES
from .tensor import tensor as make_tensor


# -- data ----------------------------------------------------------------------
def _float_dtype(model):
    return model.dtype or np.dtype("float32")


def checked_xy(model, x, y, x_name="x", y_name="y"):
    """x and y validated (fastnn.validation) and converted; builds the model if needed."""
    x = validation.prepare_features(model, x, x_name)
    if y is None:
        raise ValueError(f"{y_name} is missing: training and evaluation need targets (x, y)")
    y = validation.to_array(y, y_name, _float_dtype(model))
    validation.check_lengths(x, y, x_name, y_name)
    output_shape = validation.check_features(model, x, x_name)
    y = validation.prepare_targets(model.loss, y, output_shape, x.shape[0], y_name, _float_dtype(model))
    _check_metrics(model, output_shape, y, y_name)
    return x, y


def _check_metrics(model, output_shape, y, y_name) -> None:
    """Every compiled metric takes targets like ``y`` against outputs of ``output_shape``:
    tried on one sample (outputs of zeros) before anything runs, since a metric that does
    not suit the targets would fail only after the first step had trained. The metrics'
    state is reset after (fit, evaluate and the batch methods reset it anyway)."""
    if not model.metrics or output_shape is None or any(s is None for s in output_shape):
        return
    backend = model._backend
    pred = make_tensor(np.zeros((1,) + tuple(output_shape), dtype=_float_dtype(model)), backend=backend)
    target = make_tensor(y[:1], backend=backend)
    for metric in model.metrics:
        try:
            metric.update_state(pred, target)
        except (ValueError, TypeError) as error:
            shape = "(" + ", ".join(["None", *map(str, output_shape)]) + ")"
            raise type(error)(f"{y_name} (shape {tuple(y.shape)}) does not suit the metric {metric.name!r} given to "
                              f"compile, for outputs of shape {shape}: {error}") from None
        finally:
            metric.reset_state()


def _check_loader(loader, batch_size, caller, name="x"):
    """A DataLoader given as ``name``: it brings its own batch size (a different ``batch_size``
    would be ignored, so it is an error) and must yield at least one batch."""
    if batch_size is not None and batch_size != loader.batch_size:
        raise ValueError(f"{caller}: batch_size must be None (or the DataLoader's own {loader.batch_size}) when {name} "
                         f"is a DataLoader, which brings its own batch size, got {batch_size!r}")
    if len(loader) == 0:
        raise ValueError(f"{caller}: the DataLoader {name} yields no batches: {loader.num_samples} samples with "
                         f"batch_size={loader.batch_size} and drop_last=True; use a smaller batch_size or "
                         f"drop_last=False")


def checked_loader(model, x, y, batch_size, shuffle, caller, x_name="x", y_name="y"):
    """A DataLoader of validated data: ``x`` a DataLoader (y None), or arrays."""
    if isinstance(x, DataLoader):
        if y is not None:
            raise ValueError(f"{caller}: y must be None when x is a DataLoader (the loader holds the targets)")
        if x.y is None:
            raise ValueError(f"{caller}: the DataLoader has no targets; make it as DataLoader(x, y, ...)")
        _check_loader(x, batch_size, caller, x_name)
        prefix = "DataLoader" if x_name == "x" else x_name
        xs, ys = checked_xy(model, x.x, x.y, f"{prefix}.x", f"{prefix}.y")
        loader = x._replace(xs, ys)
        if not shuffle:
            loader.shuffle = False
        return loader
    if x is None:
        raise ValueError(f"{caller}: x is missing; pass arrays x and y, or a DataLoader")
    batch_size = _check_batch_size(batch_size, caller)
    xs, ys = checked_xy(model, x, y, x_name, y_name)
    return DataLoader(xs, ys, batch_size=batch_size, shuffle=shuffle, dtype=_dtype_of(xs))


def _fit_loaders(model, x, y, batch_size, shuffle, validation_split, validation_data):
    val_loader = None
    if isinstance(x, DataLoader):
        if validation_split:
            raise ValueError("fit: validation_split needs arrays; with a DataLoader pass "
                             "validation_data=(x_val, y_val) or another DataLoader")
        train = checked_loader(model, x, y, batch_size, True, "fit")
    else:
        if x is None:
            raise ValueError("fit: x is missing; pass arrays x and y, or a DataLoader")
        batch_size = _check_batch_size(batch_size, "fit")
        xs, ys = checked_xy(model, x, y)
        n_val = validation.check_validation_split(validation_split, xs.shape[0])
        if n_val:  # Keras: the last samples, taken before any shuffling
            val_loader = DataLoader(xs[-n_val:], ys[-n_val:], batch_size=batch_size, dtype=_dtype_of(xs))
            xs, ys = xs[:-n_val], ys[:-n_val]
        train = DataLoader(xs, ys, batch_size=batch_size, shuffle=shuffle, dtype=_dtype_of(xs))
    if validation_data is not None:
        if val_loader is not None:
            raise ValueError("fit: give validation_split or validation_data, not both")
        val_loader = _validation_loader(model, validation_data, train.batch_size)
    # Every training batch must be one the model can train on (batch norm: more than one value per channel).
    validation.check_batch_statistics(model, train.num_samples, train.batch_size, train.drop_last, "fit")
    return train, val_loader


def _validation_loader(model, data, batch_size):
    if isinstance(data, DataLoader):
        return checked_loader(model, data, None, None, False, "fit", "validation_data")
    if not isinstance(data, (tuple, list)):
        raise TypeError(f"fit: validation_data must be a tuple (x_val, y_val) or a DataLoader, got "
                        f"{type(data).__name__}")
    if len(data) != 2:
        extra = " (sample weights are not supported)" if len(data) == 3 else ""
        raise ValueError(f"fit: validation_data must be a tuple (x_val, y_val) or a DataLoader, got "
                         f"{type(data).__name__} of length {len(data)}{extra}")
    return checked_loader(model, data[0], data[1], batch_size, False, "fit", "validation_data[0]",
                          "validation_data[1]")


# -- fit --------------------------------------------------------------------------
def fit(model, x=None, y=None, batch_size=None, epochs=1, verbose=1, callbacks=None, validation_split=0.0,
        validation_data=None, shuffle=True, initial_epoch=0) -> History:
    """Train for ``epochs - initial_epoch`` epochs; returns the ``History`` (also ``model.history``).

    x, y: arrays (numpy, or cupy for a gpu model) or fnn tensors; or ``x`` a
        ``fastnn.data.DataLoader`` (then y is None and the loader's batch size and
        shuffling apply).
    batch_size: samples per step (None: 32, or a DataLoader's own; another value with a
        DataLoader is an error).
    validation_split: the fraction of samples held out for validation, taken from the
        end of x and y before shuffling (Keras); validation_data: (x_val, y_val) or a
        DataLoader. Validation runs in inference mode after every epoch.
    shuffle: a new order every epoch from ``fastnn.random.default_generator`` (seeded
        by ``fnn.manual_seed``), the same on every backend.
    initial_epoch: the epoch to start from (epochs run ``range(initial_epoch, epochs)``),
        e.g. ``model.epoch`` of a reloaded checkpoint to resume.
    verbose: 0 silent, 1 a progress bar per epoch (on a terminal), 2 a line per epoch.
    callbacks: ``fastnn.callbacks.Callback`` objects (see that module for the hooks).

    Under ``mpiexec`` with ``fastnn.distributed.init()`` (a world of several processes),
    training is data-parallel and ``batch_size`` is the global batch (``fastnn/replicas.py``).

    Epoch logs (History, callbacks): "loss" (the mean over the epoch's samples,
    regularization included), each metric by name, "val_loss" and "val_<metric>"
    when validating, and "lr". Batch logs hold the batch's "loss" and metrics.
    """
    # Every argument, then all the data, is checked before anything changes (fastnn.validation).
    model._require_compiled("fit")
    verbose = check_verbose(verbose, "fit")
    epochs = arguments.integer(epochs, "fit", "epochs", low=0)
    initial_epoch = arguments.integer(initial_epoch, "fit", "initial_epoch", low=0)
    if initial_epoch > epochs:
        raise ValueError(f"fit: initial_epoch must be at most epochs (the epoch to stop before: epochs "
                         f"initial_epoch, ..., epochs - 1 run), got initial_epoch={initial_epoch} with epochs={epochs}")
    shuffle = arguments.boolean(shuffle, "fit", "shuffle")
    validation_split = arguments.real(validation_split, "fit", "validation_split", low=0.0, high=1.0, high_open=True)
    callbacks = _checked_callbacks(callbacks, "fit")
    train, val = _fit_loaders(model, x, y, batch_size, shuffle, validation_split, validation_data)
    model._attach_optimizer()
    # In a world of several processes (fastnn.distributed), data-parallel (fastnn/replicas.py).
    world = distributed.world()
    replicas = Replicas(model, world, train.batch_size) if world.size > 1 else None
    # Decided before rank 0 keeps its file-writing callbacks to itself: batch logs are a
    # collective in data-parallel fit, so every rank must ask for them or none.
    batch_hooks = any(_overrides(cb, "on_train_batch_begin") or _overrides(cb, "on_train_batch_end")
                      for cb in (callbacks or []))
    if replicas is not None:
        verbose = replicas.verbose(verbose)
        callbacks = replicas.callbacks(list(callbacks or []))

    history = History()
    callbacks = CallbackList([*(callbacks or []), history], model=model,
                             params={"epochs": epochs, "steps": len(train), "verbose": verbose,
                                     "batch_size": train.batch_size})
    model.stop_training = False
    model.history = history
    backend = model._backend
    on_device = not backend.host_memory  # keep the running loss on the device: no sync per step
    regularizers = model._regularizers()
    # A plain stack of layers trains without the autograd graph (fastnn/direct_step.py);
    # anything else, or a model not yet built, runs train_step. The plan follows the
    # training flags of the moment: a callback that freezes or unfreezes a layer (or sets a
    # weight's requires_grad) makes fit plan again before the next step.
    direct = DirectStep.plan(model, regularizers) if replicas is None else None
    planned_at = FLAG_CHANGES[0]
    metrics = model.metrics
    progress = Progress(verbose, epochs, len(train))
    logs: dict = {}
    callbacks.on_train_begin(logs)
    try:
        for epoch in range(initial_epoch, epochs):
            for metric in metrics:
                metric.reset_state()
            callbacks.on_epoch_begin(epoch, {})
            progress.epoch_begin(epoch)
            loss_sum, seen = 0.0, 0

            def running():
                return {"loss": float(loss_sum) / max(seen, 1), **{m.name: m.result() for m in metrics}}

            for step, (xb, yb) in enumerate(train.iterate(backend)):
                if batch_hooks:
                    callbacks.on_train_batch_begin(step, {})
                if planned_at != FLAG_CHANGES[0] and replicas is None:
                    direct, planned_at = DirectStep.plan(model, regularizers), FLAG_CHANGES[0]
                if replicas is not None:   # this rank's share of the global batch
                    loss, pred, yb, n = replicas.train_step(xb, yb, regularizers, train_step)
                elif direct is not None:
                    loss, pred = direct(xb, yb)
                    n = xb.shape[0]
                else:
                    loss, pred = train_step(model, xb, yb, regularizers)
                    loss, n = loss.data, xb.shape[0]
                if n:
                    loss_sum = loss_sum + (loss * n if on_device else float(loss) * n)
                    seen += n
                    for metric in metrics:
                        metric.update_state(pred, yb)
                if batch_hooks:
                    callbacks.on_train_batch_end(step, replicas.batch_logs(loss, n, metrics) if replicas is not None
                                                 else {"loss": float(loss),
                                                       **{m.name: m.batch_result() for m in metrics}})
                progress.batch_end(running)
                if model.stop_training:  # e.g. TerminateOnNaN: no more batches of a diverged model
                    break
            if replicas is not None:   # the world's sums, the same on every rank
                loss_sum, seen = replicas.sum(loss_sum, seen)
                replicas.reduce_metrics(metrics)
            logs = running()
            if val is not None:
                callbacks.on_test_begin({})
                val_logs = evaluate_loader(model, val, backend, replicas=replicas)
                callbacks.on_test_end(val_logs)
                logs.update({f"val_{key}": value for key, value in val_logs.items()})
            logs["lr"] = _as_float(model.optimizer.lr)
            model.epoch = epoch + 1
            callbacks.on_epoch_end(epoch, logs)
            progress.epoch_end(epoch, logs)
            if model.stop_training:
                break
    finally:
        progress.close()
    callbacks.on_train_end(logs)
    return history


def train_step(model, xb, yb, regularizers, update=True):
    """One update: zero_grad, forward (training mode), loss + penalties, backward, step
    (``update=False``: the gradients only, for data-parallel training to reduce first).
    A model whose every layer is frozen has a loss that needs no gradient: no backward,
    and the step changes nothing (Keras trains such a model without an error too)."""
    optimizer = model.optimizer
    optimizer.zero_grad()
    pred = model(xb, training=True)
    loss = model.loss(pred, yb)
    for regularizer, weight in regularizers:
        loss = loss + regularizer(weight)
    if loss._requires_grad:
        loss.backward()
    if update:
        optimizer.step()
    return loss, pred


def penalty(model) -> float:
    """sum(model.losses) now, as a float (0.0 without regularizers)."""
    penalties = model._regularizers()
    if not penalties:
        return 0.0
    with no_grad():
        return float(sum(float(r(t).item()) for r, t in penalties))


def evaluate_loader(model, loader, backend, progress=None, replicas=None) -> dict:
    """Mean loss (penalties included, as in training) and metrics over ``loader``, in
    inference mode, in order (no random draws). With ``replicas`` (data-parallel fit) each
    rank evaluates its share of every batch and the sums are the world's."""
    if loader.shuffle:
        loader = loader._replace()
        loader.shuffle = False
    on_device = not backend.host_memory
    for metric in model.metrics:
        metric.reset_state()
    loss_sum, seen = 0.0, 0
    with no_grad():
        for xb, yb in loader.iterate(backend):
            if replicas is not None:
                start, stop = replicas.share(xb.shape[0])
                xb, yb = xb[start:stop], yb[start:stop]
                if start == stop:
                    continue
            pred = model(xb, training=False)
            loss = model.loss(pred, yb)
            n = xb.shape[0]
            loss_sum = loss_sum + (loss.data * n if on_device else float(loss.data) * n)
            seen += n
            for metric in model.metrics:
                metric.update_state(pred, yb)
            if progress is not None:
                progress.batch_end()
    if replicas is not None:
        loss_sum, seen = replicas.sum(loss_sum, seen)
        replicas.reduce_metrics(model.metrics)
    logs = {"loss": float(loss_sum) / max(seen, 1) + penalty(model)}
    logs.update({m.name: m.result() for m in model.metrics})
    return logs


# -- evaluate / predict --------------------------------------------------------------
def evaluate(model, x=None, y=None, batch_size=None, verbose=0, return_dict=False):
    """Loss and metrics on (x, y) (arrays or a DataLoader), in inference mode.

    Returns the loss (a float) without metrics, else ``[loss, metric1, ...]`` in the order
    compiled (Keras); ``return_dict=True`` gives ``{"loss": ..., "accuracy": ...}``.
    verbose=1 shows a bar and then the result line on a terminal; verbose=2 prints the result line.
    """
    model._require_compiled("evaluate")
    verbose = check_verbose(verbose, "evaluate")
    return_dict = arguments.boolean(return_dict, "evaluate", "return_dict")
    loader = checked_loader(model, x, y, batch_size, False, "evaluate")
    backend = model._backend
    progress = Progress(verbose, 1, len(loader))
    progress.epoch_begin(0, desc="evaluate")
    try:
        logs = evaluate_loader(model, loader, backend, progress)
        progress.result(logs)
    finally:
        progress.close()
    if return_dict:
        return logs
    return logs["loss"] if not model.metrics else [logs["loss"], *(logs[m.name] for m in model.metrics)]


def predict(model, x, batch_size=None, verbose=0):
    """The model's outputs for ``x`` (arrays, a tensor or a DataLoader, whose targets are
    ignored), in inference mode and in order, as a host numpy array (a list of arrays
    for a model with several outputs). Outputs are what ``call`` returns: probabilities
    for a model ending in softmax, logits otherwise."""
    verbose = check_verbose(verbose, "predict")
    if isinstance(x, DataLoader):
        _check_loader(x, batch_size, "predict")
        loader = x._replace(validation.prepare_features(model, x.x, "DataLoader.x", check_values=False))
        loader.shuffle = False
        what = "DataLoader.x"
    else:
        if x is None:
            raise ValueError("predict: x is missing; pass an array of inputs or a DataLoader")
        batch_size = _check_batch_size(batch_size, "predict")
        xs = validation.prepare_features(model, x, "x", check_values=False)
        loader = DataLoader(xs, batch_size=batch_size, dtype=_dtype_of(xs))
        what = "x"
    validation.check_features(model, loader.x, what)
    backend = model._backend
    progress = Progress(verbose, 1, len(loader))
    progress.epoch_begin(0, desc="predict")
    outputs = []
    try:
        with no_grad():
            for xb in loader.iterate(backend):
                if isinstance(xb, tuple):
                    xb = xb[0]
                outputs.append(model(xb, training=False))
                progress.batch_end()
    finally:
        progress.close()
    return _concatenate_outputs(outputs, backend)


# -- single batches ------------------------------------------------------------------
def train_on_batch(model, x, y, return_dict=False):
    """One training step on one batch (validated first); returns the batch loss, or
    ``[loss, *metrics]`` with metrics (``return_dict=True``: a dict). Metrics cover this batch."""
    model._require_compiled("train_on_batch")
    return_dict = arguments.boolean(return_dict, "train_on_batch", "return_dict")
    _require_x(x, "train_on_batch")
    xs, ys = checked_xy(model, x, y)
    model._attach_optimizer()
    backend = model._backend
    xb, yb = make_tensor(xs, backend=backend), make_tensor(ys, backend=backend)
    for metric in model.metrics:
        metric.reset_state()
    loss, pred = train_step(model, xb, yb, model._regularizers())
    for metric in model.metrics:
        metric.update_state(pred, yb)
    return _batch_result(model, float(loss.item()), return_dict)


def test_on_batch(model, x, y, return_dict=False):
    """Loss and metrics of one batch in inference mode (no update); forms as ``train_on_batch``."""
    model._require_compiled("test_on_batch")
    return_dict = arguments.boolean(return_dict, "test_on_batch", "return_dict")
    _require_x(x, "test_on_batch")
    xs, ys = checked_xy(model, x, y)
    backend = model._backend
    logs = evaluate_loader(model, DataLoader(xs, ys, batch_size=xs.shape[0], dtype=_dtype_of(xs)), backend)
    return _batch_result(model, logs["loss"], return_dict)


def predict_on_batch(model, x):
    """The outputs for one batch as a host numpy array (inference mode)."""
    if isinstance(x, DataLoader):
        raise TypeError("predict_on_batch: x must be an array of one batch, got a DataLoader; use predict")
    _require_x(x, "predict_on_batch")
    xs = validation.prepare_features(model, x, "x", check_values=False)
    return predict(model, xs, batch_size=xs.shape[0])


def _batch_result(model, loss, return_dict):
    logs = {"loss": loss, **{m.name: m.result() for m in model.metrics}}
    if return_dict:
        return logs
    return loss if not model.metrics else [loss, *(logs[m.name] for m in model.metrics)]


def _check_batch_size(batch_size, caller) -> int:
    """batch_size for arrays: None (32) or an int >= 1."""
    return 32 if batch_size is None else arguments.integer(batch_size, caller, "batch_size", low=1)


def _checked_callbacks(callbacks, caller) -> list:
    """A list of Callback objects (one Callback alone is a list of one)."""
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"{caller}: callbacks must be a list of fastnn.callbacks.Callback objects, got "
                        f"{type(callbacks).__name__}")
    for i, callback in enumerate(callbacks):
        if not isinstance(callback, Callback):
            raise TypeError(f"{caller}: callbacks[{i}] must be a fastnn.callbacks.Callback, got "
                            f"{type(callback).__name__}")
    return list(callbacks)


def _require_x(x, caller) -> None:
    if x is None:
        raise ValueError(f"{caller}: x is missing; pass an array of inputs")


def _dtype_of(array):
    return array.dtype if array.dtype.kind == "f" else None


def _as_float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _overrides(callback, hook) -> bool:
    """Whether a callback defines ``hook`` itself (fit skips building batch logs otherwise)."""
    return getattr(type(callback), hook, None) is not getattr(Callback, hook)


def _concatenate_outputs(outputs, backend):
    """Batches of outputs (tensors, or lists of them) joined on the device, then one copy to the host."""
    if not outputs:
        return np.zeros((0,))
    first = outputs[0]
    if isinstance(first, (list, tuple)):
        return [_concatenate_outputs([o[i] for o in outputs], backend) for i in range(len(first))]
    joined = backend.xp.concatenate([o.data for o in outputs], axis=0) if len(outputs) > 1 else outputs[0].data
    return np.array(backend.to_numpy(joined), copy=True)
