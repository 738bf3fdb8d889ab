"""Callbacks: code that ``Model.fit`` runs at fixed points of training, Keras style.

    history = model.fit(x, y, epochs=20, callbacks=[fnn.callbacks.EarlyStopping(patience=3)])

A callback subclasses ``Callback`` and overrides the hooks it needs. ``fit`` calls them
in this order::

    on_train_begin(logs)
      on_epoch_begin(epoch, logs)              epoch counts from 0 (from initial_epoch)
        on_train_batch_begin(batch, logs)
        on_train_batch_end(batch, logs)        logs: "loss" and the metrics of the batch
        ...                                    (the parameters' .grad still hold this batch's gradients)
        on_test_begin(logs) / on_test_end(logs)   around the validation pass, when there is one
      on_epoch_end(epoch, logs)                logs: epoch means of "loss" and the metrics,
                                               "val_..." for validation, "lr"
    on_train_end(logs)

``self.model`` is the model being trained and ``self.params`` holds ``epochs``, ``steps``
(batches per epoch), ``verbose`` and ``batch_size``. Setting ``model.stop_training =
True`` ends training after the current batch: no further batches run, but that epoch's
validation and ``on_epoch_end`` still do (as in Keras 3). ``History`` is always attached by ``fit``
and returned by it.

The callbacks here (Keras' names, arguments and semantics unless said otherwise):

    EarlyStopping          stop when a monitored value stops improving; restore the best weights
    ModelCheckpoint        save the model (or its weights) every epoch or on improvement
    LearningRateScheduler  set the learning rate at the start of each epoch from a schedule
    ReduceLROnPlateau      multiply the learning rate by ``factor`` when a value stalls
    CSVLogger              one CSV row of epoch logs per epoch
    TensorBoard            scalars, weight and gradient histograms as TensorBoard events
    TerminateOnNaN         stop when a batch loss is NaN or infinite

Monitored values: "improved" means ``current < best - min_delta`` in "min" mode and
``current > best + min_delta`` in "max" mode. ``mode="auto"`` picks "max" for names
that measure a success rate (containing "acc", "auc", "precision", "recall" or "f1":
"accuracy", "val_top_k_accuracy", ...) and "min" for everything else (losses, "mae",
"mse"). A monitored key missing from the logs is reported with ``warnings.warn`` and
the epoch is skipped, as in Keras.
"""

from __future__ import annotations

import csv
import inspect
import math
import numbers
import os
import warnings

import numpy as np

from . import arguments


class Callback:
    """Base class: every hook does nothing until overridden."""

    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = dict(params)

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None): ...
    def on_train_batch_end(self, batch, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...


class CallbackList:
    """Forwards each hook to every callback, in the order given."""

    def __init__(self, callbacks=(), model=None, params=None):
        self.callbacks = list(callbacks or [])
        for i, callback in enumerate(self.callbacks):
            if not isinstance(callback, Callback):
                raise TypeError(f"callbacks[{i}] must be a fastnn.callbacks.Callback, got {type(callback).__name__}")
        if model is not None:
            for callback in self.callbacks:
                callback.set_model(model)
        if params is not None:
            for callback in self.callbacks:
                callback.set_params(params)

    def __iter__(self):
        return iter(self.callbacks)

    def _call(self, hook, *args):
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    def on_train_begin(self, logs=None): self._call("on_train_begin", logs)
    def on_train_end(self, logs=None): self._call("on_train_end", logs)
    def on_epoch_begin(self, epoch, logs=None): self._call("on_epoch_begin", epoch, logs)
    def on_epoch_end(self, epoch, logs=None): self._call("on_epoch_end", epoch, logs)
    def on_train_batch_begin(self, batch, logs=None): self._call("on_train_batch_begin", batch, logs)
    def on_train_batch_end(self, batch, logs=None): self._call("on_train_batch_end", batch, logs)
    def on_test_begin(self, logs=None): self._call("on_test_begin", logs)
    def on_test_end(self, logs=None): self._call("on_test_end", logs)


class History(Callback):
    """Records the logs of every epoch: ``history.history["loss"]`` is the list of epoch
    losses, one entry per key of the logs ("val_loss", "accuracy", "lr", ...);
    ``history.epoch`` the epoch numbers. ``plot(path)`` draws the curves into a PNG."""

    def __init__(self):
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        # A model keeps one History across fit calls only if the caller passes it again;
        # a fresh fit starts a fresh record, as in Keras.
        self.history = {}
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(int(epoch))
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))

    def plot(self, path, keys=None, title=None):
        """Write the loss and metric curves (training and validation) to a PNG at ``path``."""
        from .plot import plot_history

        return plot_history(self, path, keys=keys, title=title)



# -- monitoring a logged value -------------------------------------------------------------------------
_HIGHER_IS_BETTER = ("acc", "auc", "precision", "recall", "f1")


def resolve_mode(mode: str, monitor: str, owner: str) -> str:
    """"min" or "max" for ``monitor``; "auto" decides by the name (see the module docstring)."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{owner}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    name = monitor[4:] if monitor.startswith("val_") else monitor
    return "max" if any(word in name.lower() for word in _HIGHER_IS_BETTER) else "min"


def _verbose(owner, value) -> int:
    """A verbosity: an int >= 0 (or a bool: False is 0, True is 1)."""
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    return arguments.integer(value, owner, "verbose", low=0)


def _optional_real(owner, name, value):
    """None, or a finite number (a baseline, a threshold of the monitored value)."""
    return None if value is None else arguments.real(value, owner, name)


def _path(owner, name, value) -> str:
    """A file or folder name: a str or an os.PathLike."""
    try:
        return os.fspath(value)
    except TypeError:
        raise TypeError(f"{owner}: {name} must be a str or path, got {arguments._show(value)}") from None


def _non_negative(owner, name, value, integer=False):
    kind = numbers.Integral if integer else numbers.Real
    what = "a non-negative integer" if integer else "a non-negative finite number"
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{owner}: {name} must be {what}, got {type(value).__name__} {value!r}")
    if not value >= 0 or not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be {what}, got {value!r}")
    return int(value) if integer else float(value)


class _Monitor:
    """The improvement test shared by EarlyStopping, ModelCheckpoint and ReduceLROnPlateau."""

    def __init__(self, owner, monitor, mode, min_delta):
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(f"{owner}: monitor must be the name of a logs key such as 'val_loss', got {monitor!r}")
        self.owner = owner
        self.monitor = monitor
        self.mode = resolve_mode(mode, monitor, owner)
        if isinstance(min_delta, bool) or not isinstance(min_delta, numbers.Real):
            raise TypeError(f"{owner}: min_delta must be a finite number, got {type(min_delta).__name__} {min_delta!r}")
        if not math.isfinite(min_delta):
            raise ValueError(f"{owner}: min_delta must be a finite number, got {min_delta!r}")
        self.min_delta = abs(float(min_delta))  # the sign carries no meaning: the mode gives the direction

    @property
    def worst(self) -> float:
        return math.inf if self.mode == "min" else -math.inf

    def improved(self, current, reference) -> bool:
        """current < reference - min_delta ("min"), current > reference + min_delta ("max");
        False for NaN."""
        if self.mode == "min":
            return current < reference - self.min_delta
        return current > reference + self.min_delta

    def value(self, logs):
        """The monitored value from ``logs`` as a float, or None (with a warning) when absent."""
        value = (logs or {}).get(self.monitor)
        if value is None:
            available = ", ".join(sorted(logs or {})) or "none"
            warnings.warn(f"{self.owner}: the monitored key {self.monitor!r} is not in the logs "
                          f"(available: {available}); skipping this epoch", RuntimeWarning, stacklevel=3)
            return None
        return float(value)


def _optimizer_of(model, owner):
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "lr"):
        raise ValueError(f"{owner}: the model has no optimizer with an lr; compile the model first "
                         f"(model.compile(optimizer=...))")
    return optimizer


# -- EarlyStopping ---------------------------------------------------------------------------------------
class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs.

    After each epoch (from ``start_from_epoch`` on): if the value improved on the best so
    far by more than ``min_delta`` (see the module docstring), it becomes the best and the
    wait restarts; otherwise the wait grows, and once it reaches ``patience`` (and the
    epoch is not the first) ``model.stop_training`` is set, so training ends after this
    epoch. ``patience=0`` stops at the first epoch that does not improve.

    ``baseline``: a value to reach; until an epoch beats it the wait is never reset (even
    by epochs that improve on the best so far), so training stops after ``patience``
    epochs if the baseline is never beaten.
    ``restore_best_weights``: at the end of training the model gets the weights of the
    best epoch back (``model.get_weights()``/``set_weights()``, host copies kept by this
    callback), whether training stopped early or ran to the end (Keras 3).

    After training: ``stopped_epoch`` (0 when it ran to the end), ``best``, ``best_epoch``.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self._monitor = _Monitor("EarlyStopping", monitor, mode, min_delta)
        self.monitor, self.mode, self.min_delta = monitor, self._monitor.mode, self._monitor.min_delta
        self.patience = _non_negative("EarlyStopping", "patience", patience, integer=True)
        self.start_from_epoch = _non_negative("EarlyStopping", "start_from_epoch", start_from_epoch, integer=True)
        self.baseline = _optional_real("EarlyStopping", "baseline", baseline)
        self.verbose = _verbose("EarlyStopping", verbose)
        self.restore_best_weights = arguments.boolean(restore_best_weights, "EarlyStopping", "restore_best_weights")
        self._reset()

    def _reset(self):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = self._monitor.worst
        self.best_epoch = 0
        self.best_weights = None

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        current = self._monitor.value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # so that there is something to restore even if no epoch ever improves
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._monitor.improved(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._monitor.improved(current, self.baseline):
                self.wait = 0
                return
            # improving but not yet past the baseline: the wait keeps growing (Keras' documented meaning)
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


# -- ModelCheckpoint -------------------------------------------------------------------------------------
class ModelCheckpoint(Callback):
    """Save the model after every epoch (``model.save(path)``), or only its weights
    (``save_weights_only=True``: ``model.save_weights(path)``).

    ``filepath`` may hold ``str.format`` fields filled from the epoch logs and the epoch
    number (counted from 1, as in Keras): ``"ckpt/epoch{epoch:02d}-{val_loss:.3f}.fnn"``.
    Missing folders are made. ``save_best_only``: save only when ``monitor`` improved on
    the best value so far (or on ``initial_value_threshold``); the first epoch with a
    value always improves on "no value yet". ``last_saved`` is the path of the latest
    file written (None before any).
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", initial_value_threshold=None):
        super().__init__()
        self.filepath = _path("ModelCheckpoint", "filepath", filepath)
        self._monitor = _Monitor("ModelCheckpoint", monitor, mode, 0.0)
        self.monitor, self.mode = monitor, self._monitor.mode
        self.verbose = _verbose("ModelCheckpoint", verbose)
        self.save_best_only = arguments.boolean(save_best_only, "ModelCheckpoint", "save_best_only")
        self.save_weights_only = arguments.boolean(save_weights_only, "ModelCheckpoint", "save_weights_only")
        threshold = _optional_real("ModelCheckpoint", "initial_value_threshold", initial_value_threshold)
        self.initial_value_threshold = threshold
        self.best = self._monitor.worst if threshold is None else threshold
        self.last_saved = None

    def format_path(self, epoch, logs=None) -> str:
        """The file name for ``epoch`` (0-based, written as epoch + 1) and its ``logs``."""
        try:
            return self.filepath.format(epoch=epoch + 1, **(logs or {}))
        except KeyError as missing:
            raise KeyError(f"ModelCheckpoint: filepath {self.filepath!r} uses the field {missing}, which is not in "
                           f"the epoch logs (available: epoch, {', '.join(sorted(logs or {}))})") from None

    def on_epoch_end(self, epoch, logs=None):
        if self.save_best_only:
            current = self._monitor.value(logs)
            if current is None or not self._monitor.improved(current, self.best):
                if current is not None and self.verbose > 0:
                    print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose > 0:
                print(f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to {current:.5f}")
            self.best = current
        self._save(self.format_path(epoch, logs), epoch)

    def _save(self, path, epoch):
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        self.last_saved = path
        if self.verbose > 0:
            print(f"Epoch {epoch + 1}: saving model to {path}")


# -- learning rate ---------------------------------------------------------------------------------------
def _takes_two_arguments(function) -> bool:
    """Whether ``function`` can be called as f(epoch, lr) (Keras' schedule signature)."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # some builtins have no signature: call them with the epoch only
        return False
    positional = [p for p in signature.parameters.values()
                  if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    variadic = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in signature.parameters.values())
    return variadic or len(positional) >= 2


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at the start of every epoch: ``lr = schedule(epoch)``,
    or ``lr = schedule(epoch, lr)`` when the schedule takes two arguments (the current
    rate; Keras' form). ``schedule`` may be a function or a ``fastnn.optim.schedules``
    object (called with the epoch). The epoch counts from 0. The rate is logged as "lr"."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: schedule must be callable (a function or a "
                            f"fastnn.optim.schedules object), got {type(schedule).__name__}")
        from .optim.schedules import LearningRateSchedule

        self.schedule = schedule
        self._with_lr = not isinstance(schedule, LearningRateSchedule) and _takes_two_arguments(schedule)
        self.verbose = _verbose("LearningRateScheduler", verbose)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = _optimizer_of(self.model, "LearningRateScheduler")
        lr = self.schedule(epoch, float(optimizer.lr)) if self._with_lr else self.schedule(epoch)
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr < 0:
            raise ValueError(f"LearningRateScheduler: the schedule must return a finite number >= 0, "
                             f"got {lr!r} for epoch {epoch}")
        optimizer.lr = float(lr)
        if self.verbose > 0:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(lr)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = float(_optimizer_of(self.model, "LearningRateScheduler").lr)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved (by more
    than ``min_delta``) for ``patience`` epochs: lr <- max(lr * factor, min_lr). After a
    reduction, the next ``cooldown`` epochs are not counted (the best value is still
    tracked), then the wait starts again from 0. The epoch logs get "lr": the rate the
    epoch trained with (before a reduction at its end), as in Keras."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0):
        super().__init__()
        if not arguments.is_real(factor):
            raise TypeError(f"ReduceLROnPlateau: factor must be a number in (0, 1) (it multiplies the rate), "
                            f"got {arguments._show(factor)}")
        if not 0 < factor < 1:  # NaN fails too
            raise ValueError(f"ReduceLROnPlateau: factor must be in (0, 1) (it multiplies the rate), got {factor!r}")
        self.factor = float(factor)
        self._monitor = _Monitor("ReduceLROnPlateau", monitor, mode, min_delta)
        self.monitor, self.mode, self.min_delta = monitor, self._monitor.mode, self._monitor.min_delta
        self.patience = _non_negative("ReduceLROnPlateau", "patience", patience, integer=True)
        self.cooldown = _non_negative("ReduceLROnPlateau", "cooldown", cooldown, integer=True)
        self.min_lr = _non_negative("ReduceLROnPlateau", "min_lr", min_lr)
        self.verbose = _verbose("ReduceLROnPlateau", verbose)
        self._reset()

    def _reset(self):
        self.best = self._monitor.worst
        self.wait = 0
        self.cooldown_counter = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        optimizer = _optimizer_of(self.model, "ReduceLROnPlateau")
        if logs is not None:
            logs["lr"] = float(optimizer.lr)  # the rate this epoch trained with (Keras), before any change
        current = self._monitor.value(logs)
        if current is not None:
            improved = self._monitor.improved(current, self.best)
            if improved:
                self.best = current
                self.wait = 0
            if self.cooldown_counter > 0:
                # a cooldown epoch is not counted at all (PyTorch's reading; Keras already
                # counts the last one, so there cooldown=1 behaves as cooldown=0)
                self.cooldown_counter -= 1
                self.wait = 0
            elif not improved:
                self.wait += 1
                if self.wait >= self.patience:
                    old_lr = float(optimizer.lr)
                    if old_lr > self.min_lr:
                        optimizer.lr = max(old_lr * self.factor, self.min_lr)
                        if self.verbose > 0:
                            print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {optimizer.lr}.")
                        self.cooldown_counter = self.cooldown
                        self.wait = 0


# -- logging -------------------------------------------------------------------------------------------
class CSVLogger(Callback):
    """Write the epoch logs to a CSV file (the ``csv`` module): a header ``epoch,<keys>``
    (keys sorted, as in Keras) and one row per epoch, flushed as it is written. With
    ``append=True`` rows are added to an existing file under its own header (so a resumed
    run continues the same table); otherwise the file is replaced. A key missing from an
    epoch's logs is written as "NA"."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = _path("CSVLogger", "filename", filename)
        if not isinstance(separator, str):
            raise TypeError(f"CSVLogger: separator must be one character, got {arguments._show(separator)}")
        if len(separator) != 1:
            raise ValueError(f"CSVLogger: separator must be one character, got {separator!r}")
        self.separator = separator
        self.append = arguments.boolean(append, "CSVLogger", "append")
        self.keys = None
        self._file = None
        self._writer = None

    def on_train_begin(self, logs=None):
        self.keys = None
        self._writer = None
        existing = None
        if self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0:
            with open(self.filename, newline="") as f:
                existing = next(csv.reader(f, delimiter=self.separator), None)
        folder = os.path.dirname(self.filename)
        if folder:
            os.makedirs(folder, exist_ok=True)
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        if existing and existing[0] == "epoch":
            self.keys = existing[1:]
            self._make_writer(header=False)

    def _make_writer(self, header):
        self._writer = csv.DictWriter(self._file, fieldnames=["epoch"] + self.keys, delimiter=self.separator,
                                      extrasaction="ignore")
        if header:
            self._writer.writeheader()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._file is None:  # used without on_train_begin (by hand): open now
            self.on_train_begin()
        if self._writer is None:
            self.keys = sorted(logs)
            self._make_writer(header=True)
        row = {"epoch": epoch}
        for key in self.keys:
            value = logs.get(key, "NA")
            row[key] = float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else value
        self._writer.writerow(row)
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
        self._file = None
        self._writer = None


class TensorBoard(Callback):
    """Write TensorBoard event files with tensorboardX (no TensorFlow needed); view them with
    ``tensorboard --logdir LOG_DIR``.

    Layout (as Keras writes it): two runs, ``LOG_DIR/train`` and ``LOG_DIR/validation``.
    Every epoch log key becomes the scalar ``epoch_<key>`` at step = epoch (0-based): the
    training values ("loss", "accuracy", "lr", ...) in the train run, the "val_" values in
    the validation run under the same tag without the prefix ("val_loss" -> "epoch_loss"),
    so TensorBoard draws training and validation on one chart.

    ``histogram_freq=N`` (> 0): every N epochs (epoch % N == 0) a histogram of every weight,
    tag ``<layer>/<weight>`` (``model.named_weights()``), in the train run; with
    ``write_grads=True`` also the gradients left on ``p.grad`` by the epoch's last batch,
    tag ``<layer>/<weight>_grad``. ``update_freq``: "epoch", or "batch" / an integer N to
    write the batch logs as ``batch_<key>`` every N batches (step = batches seen). Events
    are flushed after each epoch and the files closed at the end of training.
    ``fastnn.tensorboard.read_scalars`` / ``read_histograms`` read them back.
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_grads=False, update_freq="epoch"):
        super().__init__()
        from .tensorboard import summary_writer_class

        self._SummaryWriter = summary_writer_class()  # fail early, with the pip hint
        self.log_dir = _path("TensorBoard", "log_dir", log_dir)
        self.histogram_freq = _non_negative("TensorBoard", "histogram_freq", histogram_freq, integer=True)
        self.write_grads = arguments.boolean(write_grads, "TensorBoard", "write_grads")
        if self.write_grads and self.histogram_freq == 0:
            raise ValueError("TensorBoard: write_grads=True needs histogram_freq > 0 (gradient histograms are "
                             "written on the histogram epochs)")
        if update_freq == "epoch":
            self.update_freq = 0
        elif update_freq == "batch":
            self.update_freq = 1
        elif isinstance(update_freq, numbers.Integral) and not isinstance(update_freq, bool) and update_freq > 0:
            self.update_freq = int(update_freq)
        else:
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive integer, "
                             f"got {update_freq!r}")
        self._writers = {}
        self._batches_seen = 0

    def _writer(self, run):
        if run not in self._writers:
            self._writers[run] = self._SummaryWriter(os.path.join(self.log_dir, run))
        return self._writers[run]

    def on_train_begin(self, logs=None):
        self._batches_seen = 0
        self._writer("train")

    def on_train_batch_end(self, batch, logs=None):
        self._batches_seen += 1
        if self.update_freq and self._batches_seen % self.update_freq == 0:
            writer = self._writer("train")
            for key, value in (logs or {}).items():
                writer.add_scalar(f"batch_{key}", float(value), self._batches_seen)

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            run, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            self._writer(run).add_scalar(f"epoch_{name}", float(value), epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._write_histograms(epoch)
        for writer in self._writers.values():
            writer.flush()

    def _write_histograms(self, epoch):
        writer = self._writer("train")
        seen = {}
        for name, weight in self.model.named_weights():
            count = seen[name] = seen.get(name, -1) + 1
            name = f"{name}#{count}" if count else name  # two weights of one name keep apart tags
            writer.add_histogram(name, weight.numpy(), epoch)
            if self.write_grads and weight.grad is not None:
                writer.add_histogram(f"{name}_grad", weight.grad.numpy(), epoch)

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


class TerminateOnNaN(Callback):
    """Stop training when a batch loss is NaN or infinite: sets ``model.stop_training``
    and records the first bad batch in ``stopped_epoch``/``stopped_batch``. A training
    loop that checks the flag after every batch (as Keras 3's fit does) runs no further
    batch; one that checks it after each epoch finishes the epoch and stops there."""

    def __init__(self):
        super().__init__()
        self.stopped_epoch = None
        self.stopped_batch = None
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self.stopped_epoch = None
        self.stopped_batch = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if self.stopped_batch is None and loss is not None and not math.isfinite(float(loss)):
            print(f"Batch {batch}: invalid loss {float(loss)}, terminating training")
            self.stopped_epoch = self._epoch
            self.stopped_batch = batch
            self.model.stop_training = True


__all__ = ["CSVLogger", "Callback", "CallbackList", "EarlyStopping", "History", "LearningRateScheduler",
           "ModelCheckpoint", "ReduceLROnPlateau", "TensorBoard", "TerminateOnNaN"]
