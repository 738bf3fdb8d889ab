"""Models: ``Model`` (subclass it and define ``call``) and ``Sequential`` (a stack of layers).

    class Net(fnn.Model):
        def __init__(self):
            super().__init__()
            self.hidden = fnn.layers.Dense(64, activation="relu")
            self.out = fnn.layers.Dense(10)

        def call(self, x, training=None):
            return self.out(self.hidden(x))

    model = fnn.Sequential([fnn.layers.Input((784,)), fnn.layers.Dense(64, activation="relu"),
                            fnn.layers.Dense(10)])

A model is a layer (``fastnn.layers.Layer``) that lives on one backend, chosen when it
is made (``backend=``; default the current backend). Layers assigned as attributes, or
in lists/tuples/dicts, are tracked in assignment order; ``parameters()`` gathers their
trainable weights, each once. ``train()`` / ``eval()`` set the mode of every layer
inside (training by default, as in PyTorch) and ``model(x)`` uses it unless
``training=`` is given. ``model(x)`` accepts numpy arrays too: floats become tensors of
the model's dtype on its backend, integers stay integers.

Training, Keras style (``compile`` / ``fit`` / ``evaluate`` / ``predict``):

    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=10, batch_size=32, validation_split=0.1)
    loss, accuracy = model.evaluate(x_test, y_test)
    probabilities = model.predict(x_test)      # host numpy array

Each training step is the PyTorch loop written out once: ``optimizer.zero_grad()``, the
forward pass in training mode, the loss plus ``sum(model.losses)`` (regularization
penalties), ``backward()``, ``optimizer.step()``. Inputs are checked before anything
runs (``fastnn.validation``), so nothing is trained on bad data. An unbuilt model is
built on its first sample and its parameters then join the optimizer. Losses work from
logits; a model ending in softmax (or sigmoid) gets its cross-entropy from the logits
before that activation (see ``fastnn.losses``), so both habits train the same.
"""

from __future__ import annotations

import numpy as np

from . import backend as backends
from .callbacks import Callback, CallbackList, History
from .data import DataLoader
from .grad_mode import no_grad
from .layers.base import Layer, _flat_tensors, format_shape, normalize_shape
from .layers.core import Input
from .progress import Progress, check_verbose
from .tensor import tensor as make_tensor


def _backend_name(backend) -> str:
    """The validated backend name: unknown names list the valid ones, unavailable ones say why."""
    if backend is None:
        return backends.get_backend()
    if isinstance(backend, backends.Backend):
        backend = backend.name
    return backends.get(backend).name


class Model(Layer):
    """Base class of models: subclass it, create layers in ``__init__``, define ``call(x, training)``."""

    def __init__(self, name=None, backend=None, dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        self._backend_name = _backend_name(backend)
        self.optimizer = None  # set by compile
        self.loss = None
        self.metrics: list = []
        self.epoch = 0  # epochs completed by fit (checkpoints record it; fit(initial_epoch=model.epoch) resumes)
        self.stop_training = False  # a callback sets it to end fit after the current batch
        self.history = None  # the History of the last fit

    def call(self, inputs, training=None):
        raise NotImplementedError(f"{type(self).__name__} must define call(self, x, training=None) "
                                  f"(subclass fastnn.Model), or use fastnn.Sequential")

    # -- placement ----------------------------------------------------------------------
    @property
    def backend(self) -> str:
        """The backend the model's weights live on (and its inputs must live on)."""
        return self._backend_name

    def to(self, backend):
        """Move every weight to ``backend`` in place (optimizers keep their references); returns self."""
        name = _backend_name(backend)
        super().to(name)
        for layer in self._walk():
            if isinstance(layer, Model):
                layer._backend_name = name
        return self

    # -- calling ------------------------------------------------------------------------
    def __call__(self, inputs, training=None, **kwargs):
        self._require_init()
        inputs = self._convert_inputs(inputs)
        for t in _flat_tensors(inputs):
            if t.backend != self.backend:
                raise ValueError(
                    f"{self._label()}: inputs live on different backends, {self.backend!r} (the model) and "
                    f"{t.backend!r} (the input); move the input with x.to({self.backend!r}) or the model with "
                    f"model.to({t.backend!r})")
        return super().__call__(inputs, training=training, **kwargs)

    def _validate_inputs(self, inputs):
        pass  # a model may take a list of inputs; its layers check what they get

    def _check_input(self, inputs, shapes):
        pass  # the layers inside check shapes and dtypes

    # -- structure ----------------------------------------------------------------------
    @property
    def layers(self) -> list:
        """The direct sub-layers (and sub-models), in assignment order; Input layers left out."""
        return [layer for layer in self._sublayers() if not isinstance(layer, Input)]

    @layers.setter
    def layers(self, value):
        # The PyTorch habit ``self.layers = [...]`` in __init__: keep them, tracked like any attribute.
        self.__dict__["_assigned_layers"] = value

    def get_layer(self, name=None, index=None) -> Layer:
        """A direct sub-layer by name or by position in ``layers``."""
        if (name is None) == (index is None):
            raise ValueError("get_layer: give exactly one of name and index")
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise IndexError(f"get_layer: index {index} is out of range for {len(layers)} layers")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"get_layer: no layer called {name!r}; the layers are {', '.join(l.name for l in layers)}")

    def summary(self, print_fn=None) -> str:
        """Print and return a table: each layer's name, type, output shape and parameter
        count, then the totals (trainable / non-trainable) and the backend."""
        rows = []
        unbuilt = False
        for layer in self.layers:
            built = layer.built and (not isinstance(layer, Model) or all(sub.built for sub in layer._walk()))
            unbuilt |= not built
            params = f"{layer.count_params():,}" if built else "?"
            rows.append((layer.name, type(layer).__name__, format_shape(layer.output_shape), params))
        entries = self._weight_entries()
        trainable = sum(t.size for _, spec, t in entries if spec.trainable)
        frozen = sum(t.size for _, spec, t in entries if not spec.trainable)

        headers = ("Layer", "Type", "Output Shape", "Param #")
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

        def line(cells):
            return "  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

        rule_width = sum(widths) + 2 * (len(widths) - 1)
        out = [f'Model: "{self.name}" ({type(self).__name__})', "=" * rule_width, line(headers), "-" * rule_width]
        out += [line(r) for r in rows] or ["(no layers)"]
        out += ["=" * rule_width,
                f"Total params: {trainable + frozen:,}",
                f"Trainable params: {trainable:,}",
                f"Non-trainable params: {frozen:,}",
                f"Backend: {self.backend}"]
        if unbuilt:
            out.append("Some layers are not built yet (shown with ?): call the model on a batch, or start a "
                       "Sequential with Input(shape), to see every shape and parameter count.")
        text = "\n".join(out)
        (print_fn or print)(text)
        return text

    # -- training: compile ----------------------------------------------------------------
    def compile(self, optimizer="adam", loss=None, metrics=None):
        """Choose the optimizer, loss and metrics that ``fit`` / ``evaluate`` use.

        optimizer: a name ("adam", "sgd", "rmsprop", "adamw"), a config dict, or an
            ``fnn.optim.Optimizer``; one made here (or given without parameters) gets the
            model's parameters now if the model is built, else on the first batch.
        loss: a name ("sparse_categorical_crossentropy", "categorical_crossentropy",
            "binary_crossentropy", "mse", "mae"), a ``fnn.losses.Loss``, or a function
            ``fn(pred, target) -> 0-d Tensor``. Cross-entropies work from logits, and from
            the logits before a final softmax / sigmoid when the model ends in one.
        metrics: a list of names ("accuracy" -- sparse, categorical or binary as the loss
            says --, "top_k_accuracy", "mae", "mse", ...) or ``fnn.metrics.Metric`` objects.
        """
        from . import losses as losses_module
        from . import metrics as metrics_module
        from . import optim

        self.optimizer = optim.get(optimizer)
        self.loss = None if loss is None else losses_module.get(loss)
        if metrics is None:
            metrics = []
        elif isinstance(metrics, (str, metrics_module.Metric)):
            metrics = [metrics]
        elif not isinstance(metrics, (list, tuple)):
            raise TypeError(f"compile: metrics must be a list of names or Metric objects, got {type(metrics).__name__}")
        self.metrics = [metrics_module.get(m, self.loss) for m in metrics]
        names = [m.name for m in self.metrics]
        duplicates = sorted({n for n in names if names.count(n) > 1} | ({"loss", "lr"} & set(names)))
        if duplicates:
            raise ValueError(f"compile: metric names must be unique and differ from 'loss' and 'lr'; "
                             f"{', '.join(duplicates)} clash")
        if self.built and all(layer.built for layer in self._walk()):
            self._attach_optimizer()

    def compile_config(self) -> dict:
        """The compile settings as JSON-able data (checkpoints store it):
        ``{"optimizer": optimizer.get_config(), "loss": loss.get_config(), "metrics": [...]}``."""
        if self.optimizer is None:
            raise RuntimeError(f"{self._label()} is not compiled: call model.compile(...) first")
        return {"optimizer": self.optimizer.get_config(),
                "loss": None if self.loss is None else self.loss.get_config(),
                "metrics": [m.get_config() for m in self.metrics]}

    def compile_from_config(self, config: dict, custom_objects=None) -> None:
        """Compile again from ``compile_config()``'s output (a fresh optimizer without state;
        functions and user classes by name from ``custom_objects``)."""
        from . import losses as losses_module
        from . import metrics as metrics_module
        from . import optim

        loss = config.get("loss")
        self.compile(optimizer=optim.from_config(config["optimizer"]),
                     loss=None if loss is None else losses_module.from_config(loss, custom_objects),
                     metrics=[metrics_module.from_config(m, custom_objects) for m in config.get("metrics", [])])

    def _require_compiled(self, caller, need_loss=True):
        if self.optimizer is None and caller in ("fit", "train_on_batch"):
            raise RuntimeError(f"{caller}: {self._label()} is not compiled; call model.compile(optimizer=..., "
                               f"loss=..., metrics=[...]) first")
        if need_loss and self.loss is None:
            raise RuntimeError(f"{caller}: {self._label()} has no loss; call model.compile(loss=...) first, "
                               f"e.g. loss='sparse_categorical_crossentropy'")

    def _attach_optimizer(self) -> None:
        """Give a compiled optimizer without parameters the model's parameters (once)."""
        if self.optimizer is not None and not self.optimizer.param_groups:
            params = self.parameters()
            if params:
                self.optimizer.add_param_group({"params": params})

    def _regularizers(self) -> list:
        """(regularizer, weight) pairs, gathered once per fit (model.losses walks the tree)."""
        return [(spec.regularizer, t) for _, spec, t in self._weight_entries() if spec.regularizer is not None]

    # -- training: data -------------------------------------------------------------------
    def _float_dtype(self):
        return self.dtype or np.dtype("float32")

    def _checked_xy(self, x, y, x_name="x", y_name="y"):
        """x and y validated (fastnn.validation) and converted; builds the model if needed."""
        from . import validation

        x = validation.prepare_features(self, x, x_name)
        if y is None:
            raise ValueError(f"{y_name} is missing: training and evaluation need targets (x, y)")
        y = validation.to_array(y, y_name, self._float_dtype())
        validation.check_lengths(x, y, x_name, y_name)
        output_shape = validation.check_features(self, x, x_name)
        y = validation.prepare_targets(self.loss, y, output_shape, x.shape[0], y_name, self._float_dtype())
        return x, y

    def _checked_loader(self, x, y, batch_size, shuffle, caller, x_name="x", y_name="y"):
        """A DataLoader of validated data: ``x`` a DataLoader (y None), or arrays."""
        if isinstance(x, DataLoader):
            if y is not None:
                raise ValueError(f"{caller}: y must be None when x is a DataLoader (the loader holds the targets)")
            if x.y is None:
                raise ValueError(f"{caller}: the DataLoader has no targets; make it as DataLoader(x, y, ...)")
            prefix = "DataLoader" if x_name == "x" else x_name
            xs, ys = self._checked_xy(x.x, x.y, f"{prefix}.x", f"{prefix}.y")
            loader = x._replace(xs, ys)
            if not shuffle:
                loader.shuffle = False
            return loader
        if x is None:
            raise ValueError(f"{caller}: x is missing; pass arrays x and y, or a DataLoader")
        _check_batch_size(batch_size, caller)
        xs, ys = self._checked_xy(x, y, x_name, y_name)
        return DataLoader(xs, ys, batch_size=batch_size, shuffle=shuffle, dtype=_dtype_of(xs))

    def _fit_loaders(self, x, y, batch_size, shuffle, validation_split, validation_data):
        from . import validation

        val_loader = None
        if isinstance(x, DataLoader):
            if validation_split:
                raise ValueError("fit: validation_split needs arrays; with a DataLoader pass "
                                 "validation_data=(x_val, y_val) or another DataLoader")
            train = self._checked_loader(x, y, None, True, "fit")
        else:
            if x is None:
                raise ValueError("fit: x is missing; pass arrays x and y, or a DataLoader")
            _check_batch_size(batch_size, "fit")
            xs, ys = self._checked_xy(x, y)
            n_val = validation.check_validation_split(validation_split, xs.shape[0])
            if n_val:  # Keras: the last samples, taken before any shuffling
                val_loader = DataLoader(xs[-n_val:], ys[-n_val:], batch_size=batch_size, dtype=_dtype_of(xs))
                xs, ys = xs[:-n_val], ys[:-n_val]
            train = DataLoader(xs, ys, batch_size=batch_size, shuffle=shuffle, dtype=_dtype_of(xs))
        if validation_data is not None:
            if val_loader is not None:
                raise ValueError("fit: give validation_split or validation_data, not both")
            val_loader = self._validation_loader(validation_data, train.batch_size)
        return train, val_loader

    def _validation_loader(self, data, batch_size):
        if isinstance(data, DataLoader):
            return self._checked_loader(data, None, None, False, "fit", "validation_data")
        if not isinstance(data, (tuple, list)) or len(data) != 2:
            extra = " (sample weights are not supported)" if isinstance(data, (tuple, list)) and len(data) == 3 else ""
            raise ValueError(f"fit: validation_data must be a tuple (x_val, y_val) or a DataLoader, got "
                             f"{type(data).__name__}" + (f" of length {len(data)}" if isinstance(data, (tuple, list))
                                                         else "") + extra)
        return self._checked_loader(data[0], data[1], batch_size, False, "fit", "validation_data[0]",
                                    "validation_data[1]")

    # -- training: fit ----------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=32, epochs=1, verbose=1, callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, initial_epoch=0) -> History:
        """Train for ``epochs - initial_epoch`` epochs; returns the ``History`` (also ``model.history``).

        x, y: arrays (numpy, or cupy for a gpu model) or fnn tensors; or ``x`` a
            ``fastnn.data.DataLoader`` (then y is None and the loader's batch size and
            shuffling apply).
        validation_split: the fraction of samples held out for validation, taken from the
            end of x and y before shuffling (Keras); validation_data: (x_val, y_val) or a
            DataLoader. Validation runs in inference mode after every epoch.
        shuffle: a new order every epoch from ``fastnn.random.default_generator`` (seeded
            by ``fnn.manual_seed``), the same on every backend.
        initial_epoch: the epoch to start from (epochs run ``range(initial_epoch, epochs)``),
            e.g. ``model.epoch`` of a reloaded checkpoint to resume.
        verbose: 0 silent, 1 a progress bar per epoch (on a terminal), 2 a line per epoch.
        callbacks: ``fastnn.callbacks.Callback`` objects (see that module for the hooks).

        Epoch logs (History, callbacks): "loss" (the mean over the epoch's samples,
        regularization included), each metric by name, "val_loss" and "val_<metric>"
        when validating, and "lr". Batch logs hold the batch's "loss" and metrics.
        """
        self._require_compiled("fit")
        verbose = check_verbose(verbose)
        batch_size = 32 if batch_size is None else batch_size
        epochs = _non_negative_int(epochs, "fit: epochs")
        initial_epoch = _non_negative_int(initial_epoch, "fit: initial_epoch")
        if callbacks is not None and not isinstance(callbacks, (list, tuple)):
            callbacks = [callbacks]
        train, val = self._fit_loaders(x, y, batch_size, shuffle, validation_split, validation_data)
        self._attach_optimizer()

        history = History()
        callbacks = CallbackList([*(callbacks or []), history], model=self,
                                 params={"epochs": epochs, "steps": len(train), "verbose": verbose,
                                         "batch_size": train.batch_size})
        batch_hooks = any(_overrides(cb, "on_train_batch_begin") or _overrides(cb, "on_train_batch_end")
                          for cb in callbacks)
        self.stop_training = False
        self.history = history
        backend = backends.get(self.backend)
        on_device = not backend.host_memory  # keep the running loss on the device: no sync per step
        regularizers = self._regularizers()
        metrics = self.metrics
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
                    loss, pred = self._train_step(xb, yb, regularizers)
                    n = xb.shape[0]
                    loss_sum = loss_sum + (loss.data * n if on_device else float(loss.data) * n)
                    seen += n
                    for metric in metrics:
                        metric.update_state(pred, yb)
                    if batch_hooks:
                        callbacks.on_train_batch_end(step, {"loss": float(loss.data),
                                                            **{m.name: m.batch_result() for m in metrics}})
                    progress.batch_end(running)
                    if self.stop_training:  # e.g. TerminateOnNaN: no more batches of a diverged model
                        break
                logs = running()
                if val is not None:
                    callbacks.on_test_begin({})
                    val_logs = self._evaluate_loader(val, backend)
                    callbacks.on_test_end(val_logs)
                    logs.update({f"val_{key}": value for key, value in val_logs.items()})
                logs["lr"] = _as_float(self.optimizer.lr)
                self.epoch = epoch + 1
                callbacks.on_epoch_end(epoch, logs)
                progress.epoch_end(epoch, logs)
                if self.stop_training:
                    break
        finally:
            progress.close()
        callbacks.on_train_end(logs)
        return history

    def _train_step(self, xb, yb, regularizers):
        """One update: zero_grad, forward (training mode), loss + penalties, backward, step."""
        optimizer = self.optimizer
        optimizer.zero_grad()
        pred = self(xb, training=True)
        loss = self.loss(pred, yb)
        for regularizer, weight in regularizers:
            loss = loss + regularizer(weight)
        loss.backward()
        optimizer.step()
        return loss, pred

    def _penalty(self) -> float:
        """sum(model.losses) now, as a float (0.0 without regularizers)."""
        penalties = self._regularizers()
        if not penalties:
            return 0.0
        with no_grad():
            return float(sum(float(r(t).item()) for r, t in penalties))

    def _evaluate_loader(self, loader, backend, progress=None) -> dict:
        """Mean loss (penalties included, as in training) and metrics over ``loader``, in
        inference mode, in order (no random draws)."""
        if loader.shuffle:
            loader = loader._replace()
            loader.shuffle = False
        on_device = not backend.host_memory
        for metric in self.metrics:
            metric.reset_state()
        loss_sum, seen = 0.0, 0
        with no_grad():
            for xb, yb in loader.iterate(backend):
                pred = self(xb, training=False)
                loss = self.loss(pred, yb)
                n = xb.shape[0]
                loss_sum = loss_sum + (loss.data * n if on_device else float(loss.data) * n)
                seen += n
                for metric in self.metrics:
                    metric.update_state(pred, yb)
                if progress is not None:
                    progress.batch_end()
        logs = {"loss": float(loss_sum) / max(seen, 1) + self._penalty()}
        logs.update({m.name: m.result() for m in self.metrics})
        return logs

    # -- training: evaluate / predict --------------------------------------------------------
    def evaluate(self, x=None, y=None, batch_size=32, verbose=0, return_dict=False):
        """Loss and metrics on (x, y) (arrays or a DataLoader), in inference mode.

        Returns the loss (a float) without metrics, else ``[loss, metric1, ...]`` in the order
        compiled (Keras); ``return_dict=True`` gives ``{"loss": ..., "accuracy": ...}``.
        verbose=1 shows a bar and then the result line on a terminal; verbose=2 prints the result line.
        """
        self._require_compiled("evaluate")
        verbose = check_verbose(verbose)
        batch_size = 32 if batch_size is None else batch_size
        loader = self._checked_loader(x, y, batch_size, False, "evaluate")
        backend = backends.get(self.backend)
        progress = Progress(verbose, 1, len(loader))
        progress.epoch_begin(0, desc="evaluate")
        try:
            logs = self._evaluate_loader(loader, backend, progress)
            progress.result(logs)
        finally:
            progress.close()
        if return_dict:
            return logs
        return logs["loss"] if not self.metrics else [logs["loss"], *(logs[m.name] for m in self.metrics)]

    def predict(self, x, batch_size=32, verbose=0):
        """The model's outputs for ``x`` (arrays, a tensor or a DataLoader, whose targets are
        ignored), in inference mode and in order, as a host numpy array (a list of arrays
        for a model with several outputs). Outputs are what ``call`` returns: probabilities
        for a model ending in softmax, logits otherwise."""
        from . import validation

        verbose = check_verbose(verbose)
        batch_size = 32 if batch_size is None else batch_size
        if isinstance(x, DataLoader):
            loader = x._replace(validation.prepare_features(self, x.x, "DataLoader.x", check_values=False))
            loader.shuffle = False
            what = "DataLoader.x"
        else:
            _check_batch_size(batch_size, "predict")
            xs = validation.prepare_features(self, x, "x", check_values=False)
            loader = DataLoader(xs, batch_size=batch_size, dtype=_dtype_of(xs))
            what = "x"
        validation.check_features(self, loader.x, what)
        backend = backends.get(self.backend)
        progress = Progress(verbose, 1, len(loader))
        progress.epoch_begin(0, desc="predict")
        outputs = []
        try:
            with no_grad():
                for xb in loader.iterate(backend):
                    if isinstance(xb, tuple):
                        xb = xb[0]
                    outputs.append(self(xb, training=False))
                    progress.batch_end()
        finally:
            progress.close()
        return _concatenate_outputs(outputs, backend)

    # -- training: single batches ------------------------------------------------------------
    def train_on_batch(self, x, y, return_dict=False):
        """One training step on one batch (validated first); returns the batch loss, or
        ``[loss, *metrics]`` with metrics (``return_dict=True``: a dict). Metrics cover this batch."""
        self._require_compiled("train_on_batch")
        xs, ys = self._checked_xy(x, y)
        self._attach_optimizer()
        backend = backends.get(self.backend)
        xb, yb = make_tensor(xs, backend=backend), make_tensor(ys, backend=backend)
        for metric in self.metrics:
            metric.reset_state()
        loss, pred = self._train_step(xb, yb, self._regularizers())
        for metric in self.metrics:
            metric.update_state(pred, yb)
        return self._batch_result(float(loss.item()), return_dict)

    def test_on_batch(self, x, y, return_dict=False):
        """Loss and metrics of one batch in inference mode (no update); forms as ``train_on_batch``."""
        self._require_compiled("test_on_batch")
        xs, ys = self._checked_xy(x, y)
        backend = backends.get(self.backend)
        logs = self._evaluate_loader(DataLoader(xs, ys, batch_size=xs.shape[0], dtype=_dtype_of(xs)), backend)
        return self._batch_result(logs["loss"], return_dict)

    def predict_on_batch(self, x):
        """The outputs for one batch as a host numpy array (inference mode)."""
        return self.predict(x, batch_size=max(1, len(x)))

    def _batch_result(self, loss, return_dict):
        logs = {"loss": loss, **{m.name: m.result() for m in self.metrics}}
        if return_dict:
            return logs
        return loss if not self.metrics else [loss, *(logs[m.name] for m in self.metrics)]

    # -- checkpoints (fastnn.io) --------------------------------------------------------------
    def save(self, path) -> None:
        """Write architecture, weights, optimizer state, epoch and random state to one file
        (``fastnn.io.save_model``); ``fnn.load_model(path)`` rebuilds it."""
        from . import io

        io.save_model(self, path)

    def save_weights(self, path) -> None:
        """Write the weights alone (``fastnn.io.save_weights``)."""
        from . import io

        io.save_weights(self, path)

    def load_weights(self, path) -> None:
        """Read weights written by ``save_weights`` (or ``save``) into this model (``fastnn.io.load_weights``)."""
        from . import io

        io.load_weights(self, path)


def _check_batch_size(batch_size, caller):
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"{caller}: batch_size must be a positive int, got {batch_size!r}")


def _non_negative_int(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{what} must be a non-negative int, got {value!r}")
    return int(value)


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


class Sequential(Model):
    """A plain stack of layers: each layer's output is the next one's input.

    ``Sequential([Input((784,)), Dense(64, activation="relu"), Dense(10)])``: starting
    with ``Input(shape)`` (or giving the first layer ``input_shape=``) builds every layer
    at once, on ``backend`` (default: the current backend when the model is made), so
    ``summary()`` works before any data flows. Without it the layers build on the first call.
    """

    def __init__(self, layers=None, backend=None, name=None):
        super().__init__(name=name, backend=backend)
        self._layers: list = []
        self._feature_shape = None  # output feature shape of the stack so far, when known (eager build)
        if layers is not None:
            for layer in ([layers] if isinstance(layers, Layer) else layers):
                self.add(layer)

    def add(self, layer: Layer) -> None:
        """Append a layer; it is built at once when the input shape is known."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a layer, got {type(layer).__name__}")
        if any(existing is layer for existing in self._layers):
            raise ValueError(f"Sequential.add: {layer._label()} is already in this model")
        if isinstance(layer, Input) and self._layers:
            raise ValueError("Sequential.add: an Input can only be the first layer")
        self._layers.append(layer)
        try:
            self._build_last()
        except Exception:
            self._layers.pop()
            raise

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._layers or (len(self._layers) == 1 and isinstance(self._layers[0], Input)):
            raise IndexError("Sequential.pop: there is no layer to remove")
        layer = self._layers.pop()
        if not self._layers:
            self._feature_shape = None
        elif self._feature_shape is not None:
            last = self._layers[-1]
            self._feature_shape = last.shape if isinstance(last, Input) else tuple(last.output_shape[1:])
            self._output_shape = (None,) + self._feature_shape
        return layer

    def _build_last(self) -> None:
        """Build the newest layer for the current output shape, when that shape is known."""
        layer = self._layers[-1]
        if len(self._layers) == 1:
            declared = layer.shape if isinstance(layer, Input) else layer._declared_input_shape
            if declared is None:
                return  # no input shape yet: every layer builds on the first call
            if self.dtype is None:
                self.dtype = layer.dtype or np.dtype("float32")
            self._feature_shape = declared
            self._build_input_shape = declared
            self.built = True
            if isinstance(layer, Input):
                self._output_shape = (None,) + declared
                return
        if self._feature_shape is None:
            return
        shape = self._feature_shape
        if not layer.built:
            layer._build_with(shape, self.dtype, self.backend)
        elif layer.input_spec is not None and not layer.input_spec.accepts(shape):
            raise ValueError(f"Sequential.add: {layer._label()} expects inputs of feature shape "
                             f"{layer.input_spec.describe()}, but the layer before outputs {format_shape(shape)}")
        out = normalize_shape(layer.compute_output_shape(shape))
        layer._output_shape = (None,) + out
        self._feature_shape = out
        self._output_shape = (None,) + out

    def call(self, x, training=None):
        # Sub-layers get no explicit flag: an explicit ``training=`` given to this model reaches
        # them through the call context, otherwise each follows its own mode (set by train()/eval()).
        for layer in self._layers:
            x = layer(x)
        return x

    @property
    def layers(self) -> list:
        return [layer for layer in self._layers if not isinstance(layer, Input)]

    def get_config(self):
        config = super().get_config()
        config["layers"] = [layer.get_config() for layer in self._layers]
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from .layers import deserialize

        layers = [deserialize(c, custom_objects) for c in config.get("layers", [])]
        return cls(layers, name=config.get("name"))


__all__ = ["Model", "Sequential"]
