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

This module holds the model's structure, ``compile`` and checkpoints; the training loop
itself (``fit``, ``evaluate``, ``predict``, the ``*_on_batch`` steps) is
``fastnn/trainer.py``, which these methods call. Losses work from logits; a model ending
in softmax (or sigmoid) gets its cross-entropy from the logits before that activation
(see ``fastnn.losses``), so both habits train the same.
"""

from __future__ import annotations

import numpy as np

from . import arguments
from . import backend as backends
from . import distributed, optim, trainer
from . import losses as losses_module
from . import metrics as metrics_module
from .callbacks import History
from .layers import deserialize
from .layers.base import Layer, _flat_tensors, format_shape, normalize_shape
from .layers.core import Input


def _backend_of(backend) -> backends.Backend:
    """The Backend for a name, a Backend or None (the current one), checked: unknown names
    list the valid ones, unavailable ones say why."""
    return backends.current() if backend is None else backends.get(backend)


class Model(Layer):
    """Base class of models: subclass it, create layers in ``__init__``, define ``call(x, training)``."""

    def __init__(self, name=None, backend=None, dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        self._backend = _backend_of(backend)
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
        """The name of the backend the model's weights live on (and its inputs must live on);
        the Backend object itself is ``_backend``."""
        return self._backend.name

    def to(self, backend):
        """Move every weight to ``backend`` in place (optimizers keep their references); returns self."""
        target = _backend_of(backend)
        super().to(target)
        for layer in self._walk():
            if isinstance(layer, Model):
                layer._backend = target
        return self

    # -- calling ------------------------------------------------------------------------
    def __call__(self, inputs, training=None, **kwargs):
        self._require_init()
        inputs = self._convert_inputs(inputs)
        for t in _flat_tensors(inputs):
            if t._backend is not self._backend:
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

    def summary(self, print_fn=None, show_trainable=None) -> str:
        """Print and return a table: each layer's name, type, output shape and parameter
        count, then the totals (trainable / non-trainable, Keras' rule: every weight of a
        frozen layer counts as non-trainable) and the backend.

        show_trainable: add a "Trainable" column (Keras' name): "Y" for a layer whose
        weights train, "N" for a frozen one, "partly" for a block or model of both kinds.
        None (the default) shows it when some layer is frozen; True or False always or never.
        """
        if show_trainable is not None:
            show_trainable = arguments.boolean(show_trainable, "summary", "show_trainable")
        rows, states = [], []
        unbuilt = False
        for layer in self.layers:
            built = layer.built and (not isinstance(layer, Model) or all(sub.built for sub in layer._walk()))
            unbuilt |= not built
            params = f"{layer.count_params():,}" if built else "?"
            rows.append((layer.name, type(layer).__name__, format_shape(layer.output_shape), params))
            states.append(_trainable_state(layer))
        entries = self._weight_entries()
        trainable = sum(t.size for owner, spec, t in entries if spec.trainable and owner.trainable)
        frozen = sum(t.size for _, _, t in entries) - trainable

        headers = ("Layer", "Type", "Output Shape", "Param #")
        if show_trainable or (show_trainable is None and any(state != "Y" for state in states)):
            headers += ("Trainable",)
            rows = [row + (state,) for row, state in zip(rows, states)]
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

        def line(cells):
            return "  ".join(c.rjust(w) if i == 3 else c.ljust(w)
                             for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

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
        # Everything is made and checked first, then set: a bad argument leaves the model as it was.
        if not isinstance(optimizer, (str, dict, optim.Optimizer)):
            raise TypeError(f"compile: optimizer must be a name ('adam', 'sgd', 'rmsprop', 'adamw'), a config dict "
                            f"or a fastnn.optim.Optimizer, got {optimizer!r} ({type(optimizer).__name__})")
        if metrics is None:
            metrics = []
        elif isinstance(metrics, (str, metrics_module.Metric)):
            metrics = [metrics]
        elif not isinstance(metrics, (list, tuple)):
            raise TypeError(f"compile: metrics must be a list of names or Metric objects, got {type(metrics).__name__}")
        with _named_errors("compile"):
            optimizer = optim.get(optimizer)
            loss = None if loss is None else losses_module.get(loss)
            metrics = [metrics_module.get(m, loss) for m in metrics]
        names = [m.name for m in metrics]
        duplicates = sorted({n for n in names if names.count(n) > 1} | ({"loss", "lr"} & set(names)))
        if duplicates:
            raise ValueError(f"compile: metric names must be unique and differ from 'loss' and 'lr'; "
                             f"{', '.join(duplicates)} clash")
        self.optimizer, self.loss, self.metrics = optimizer, loss, metrics
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
        """Give a compiled optimizer without parameters the model's weights (once): every
        weight declared trainable, frozen ones included (the optimizer skips them while they
        are frozen), so that ``layer.trainable = True`` later needs no new compile."""
        if self.optimizer is not None and not self.optimizer.param_groups:
            params = self._optimizable_weights()
            if params:
                self.optimizer._add_param_group({"params": params}, allow_frozen=True)

    def _direct_chain(self):
        """The layers in call order when ``call`` only chains them (fit's direct step,
        fastnn/direct_step.py), else None: a model's own ``call`` may do anything."""
        return None

    def _regularizers(self) -> list:
        """(regularizer, weight) pairs, gathered once per fit (model.losses walks the tree)."""
        return [(spec.regularizer, t) for _, spec, t in self._weight_entries() if spec.regularizer is not None]

    # -- training (fastnn/trainer.py) ---------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose=1, callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, initial_epoch=0) -> History:
        """Train for ``epochs - initial_epoch`` epochs; returns the ``History`` (also
        ``model.history``). batch_size None means 32 (or a DataLoader's own). See
        ``fastnn.trainer.fit`` for every argument and the logs."""
        return trainer.fit(self, x, y, batch_size=batch_size, epochs=epochs, verbose=verbose, callbacks=callbacks,
                           validation_split=validation_split, validation_data=validation_data, shuffle=shuffle,
                           initial_epoch=initial_epoch)

    def evaluate(self, x=None, y=None, batch_size=None, verbose=0, return_dict=False):
        """Loss and metrics on (x, y) in inference mode (``fastnn.trainer.evaluate``)."""
        return trainer.evaluate(self, x, y, batch_size=batch_size, verbose=verbose, return_dict=return_dict)

    def predict(self, x, batch_size=None, verbose=0):
        """The outputs for ``x`` as a host numpy array (``fastnn.trainer.predict``)."""
        return trainer.predict(self, x, batch_size=batch_size, verbose=verbose)

    def train_on_batch(self, x, y, return_dict=False):
        """One training step on one batch (``fastnn.trainer.train_on_batch``)."""
        return trainer.train_on_batch(self, x, y, return_dict=return_dict)

    def test_on_batch(self, x, y, return_dict=False):
        """Loss and metrics of one batch, no update (``fastnn.trainer.test_on_batch``)."""
        return trainer.test_on_batch(self, x, y, return_dict=return_dict)

    def predict_on_batch(self, x):
        """The outputs for one batch as a host numpy array (``fastnn.trainer.predict_on_batch``)."""
        return trainer.predict_on_batch(self, x)

    # -- export (fastnn.onnx, imported on first use; it needs the onnx package) ---------------
    def export_onnx(self, path, input_shape=None, opset=None):
        """Write the model as an ONNX file for onnxruntime and other runtimes, with a dynamic
        batch axis (``fastnn.onnx.export``; ``input_shape``, one sample's shape, only for a
        model never built or called). Returns the path written."""
        from .onnx import export

        return export(self, path, input_shape=input_shape, opset=opset)

    # -- checkpoints (fastnn.io, imported on first use: it costs ~11 ms of import time) -------
    def save(self, path) -> None:
        """Write architecture, weights, optimizer state, epoch and random state to one file
        (``fastnn.io.save_model``); ``fnn.load_model(path)`` rebuilds it. In a world of
        several processes (``fastnn.distributed``) rank 0 writes and the others wait for it."""
        from . import io

        _on_rank_zero(io.save_model, self, path)

    def save_weights(self, path) -> None:
        """Write the weights alone (``fastnn.io.save_weights``); rank 0 alone, as ``save``."""
        from . import io

        _on_rank_zero(io.save_weights, self, path)

    def load_weights(self, path) -> None:
        """Read weights written by ``save_weights`` (or ``save``) into this model (``fastnn.io.load_weights``)."""
        from . import io

        io.load_weights(self, path)


class Sequential(Model):
    """A plain stack of layers: each layer's output is the next one's input.

    ``Sequential([Input((784,)), Dense(64, activation="relu"), Dense(10)])``: starting
    with ``Input(shape)`` (or giving the first layer ``input_shape=``) builds every layer
    at once, on ``backend`` (default: the current backend when the model is made), so
    ``summary()`` works before any data flows. Without it the layers build on the first call.
    """

    def __init__(self, layers=None, backend=None, name=None, trainable=True):
        trainable = arguments.boolean(trainable, "Sequential", "trainable")
        super().__init__(name=name, backend=backend)
        self._layers: list = []
        self._feature_shape = None  # output feature shape of the stack so far, when known (eager build)
        if layers is not None:
            for layer in ([layers] if isinstance(layers, Layer) else layers):
                self.add(layer)
        if not trainable:   # once the layers are in: it freezes them all (Keras)
            self.trainable = False

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
            layer._build_with(shape, self.dtype, self._backend)
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

    def _direct_chain(self):
        return self._layers if type(self).call is Sequential.call else None

    @property
    def layers(self) -> list:
        return [layer for layer in self._layers if not isinstance(layer, Input)]

    def get_config(self):
        config = super().get_config()
        config["layers"] = [layer.get_config() for layer in self._layers]
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A new Sequential from ``get_config()``'s output. Each layer's config carries its
        own "trainable"; the model's own flag is set alone, so a layer unfrozen inside a
        frozen model stays unfrozen."""
        trainable = arguments.boolean(config.get("trainable", True), f"{cls.__name__}.from_config",
                                      "config['trainable']")
        layers = [deserialize(c, custom_objects) for c in config.get("layers", [])]
        model = cls(layers, name=config.get("name"))
        if not trainable:
            model._set_trainable(False, recursive=False)
        return model


__all__ = ["Model", "Sequential"]


class _named_errors:
    """Prefix ``"<caller>: "`` to a TypeError or ValueError raised inside that lacks it, so
    that an error from a helper (``optim.get``, ``losses.get``) says which call it is about."""

    def __init__(self, caller):
        self.caller = caller

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if kind in (TypeError, ValueError) and not str(error).startswith(f"{self.caller}:"):
            raise kind(f"{self.caller}: {error}") from None
        return False


def _trainable_state(layer) -> str:
    """A layer's entry in summary's "Trainable" column: "Y" when every weight it declares
    trainable trains, "N" when none does, "partly" for a block or model of both kinds; a
    layer without such weights shows its own flag."""
    declared = [(spec, owner) for owner, spec, _ in layer._weight_entries() if spec.trainable]
    if not declared:
        return "Y" if layer.trainable else "N"
    training = sum(1 for _, owner in declared if owner.trainable)
    return "Y" if training == len(declared) else "N" if training == 0 else "partly"


def _on_rank_zero(write, model, path) -> None:
    """``write(model, path)`` on rank 0 of the world, the other ranks waiting until the file
    is complete (the replicas are equal, so rank 0's file is everyone's)."""
    world = distributed.world()
    if world.rank == 0:
        write(model, path)
    world.barrier()
