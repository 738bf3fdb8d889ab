"""Layer: the base class of every layer and model.

A layer is a function of tensors with state (its *weights*), built lazily:

    layer = Dense(64)                 # nothing allocated yet
    y = layer(x)                      # first call: build(x.shape[1:]) creates the weights, then call(x)

Shapes handed to ``build`` and ``compute_output_shape`` are *feature* shapes: the batch
axis is excluded (``(784,)`` for a batch of shape ``(N, 784)``). Weights are created on
the backend and with the floating dtype of the first input (float32 normally, float64
when the input is float64, which gradient checks need); an integer input (token ids)
gives ``self.dtype`` or float32. Once built, a layer checks every input against its
``input_spec`` (or, without one, against the shape it was built for) and says which
shape it expected.

Subclass contract (Keras'):
  build(input_shape)             create weights with ``add_weight``
  call(x, training=None)         the forward computation, written with differentiable ops
  compute_output_shape(shape)    feature shape in -> feature shape out (used by ``summary``)
  get_config()                   JSON-able constructor arguments (+ "class_name")

Weights are attributes (``self.kernel``) registered by ``add_weight``: ``weights`` lists
them all, ``parameters()`` the trainable ones (``requires_grad=True``), and ``losses``
the regularization penalties computed from their current values. Layers (and lists,
tuples or dicts of layers) assigned as attributes are sub-layers, found in assignment
order; their weights follow the layer's own, depth first, each tensor once.

Freezing (Keras' rule). ``layer.trainable = False`` sets the flag on the layer and every
sub-layer; a weight trains when it was declared trainable (``add_weight(trainable=True)``)
and its own layer's flag is True. The others are ``non_trainable_weights`` and have
``requires_grad=False``, so backward computes no gradient for them (gradients still flow
through a frozen layer to the layers before it) and optimizers leave them alone.
``trainable = True`` undoes it; running statistics stay non-trainable. A layer made with
``trainable=False`` freezes the sub-layers it holds once it is built (a block makes them
in ``__init__`` after ``Layer.__init__`` ran). Every change counts in ``FLAG_CHANGES``
(fastnn/tensor.py; so does a weight's ``requires_grad`` set by hand), so that what fit
plans from the flags (its direct step, the statistics data-parallel training averages)
is planned again.

Training mode. ``layer(x, training=None)`` resolves ``training`` as
  1. the explicit argument, else
  2. an explicit ``training=`` given to an enclosing layer or model call, else
  3. ``self.training``, set by ``train()`` / ``eval()`` (recursively; True by default, as in PyTorch).
So ``model(x, training=False)`` runs every layer inside in inference mode (Keras), while
``model(x)`` lets each layer follow its own mode (PyTorch: ``bn.eval()`` inside a
training model keeps that batch-norm layer frozen).
"""

from __future__ import annotations

import collections
import contextvars
import functools
import inspect
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import arguments
from .. import backend as backends
from .. import init as initializers
from .. import regularizers
from ..grad_mode import no_grad
from ..tensor import FLAG_CHANGES, Tensor
from ..tensor import tensor as make_tensor

FLOAT_DTYPES = (np.dtype("float32"), np.dtype("float64"))

# The training flag given explicitly to the innermost enclosing __call__ (None: none was given).
_EXPLICIT_TRAINING: contextvars.ContextVar = contextvars.ContextVar("fastnn_explicit_training", default=None)

_NAME_COUNTS: collections.Counter = collections.Counter()


def to_snake_case(name: str) -> str:
    """Keras' rule: Dense -> dense, Conv2D -> conv2d, BatchNormalization -> batch_normalization."""
    name = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base: str) -> str:
    """``base``, then ``base_1``, ``base_2``... (one counter per base name, per process)."""
    count = _NAME_COUNTS[base]
    _NAME_COUNTS[base] += 1
    return base if count == 0 else f"{base}_{count}"


def float_dtype(dtype, what="dtype") -> np.dtype:
    """float32 or float64 as a NumPy dtype; ``what`` names the argument in the error
    ("Dense: dtype")."""
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{what} must be float32 or float64, got {arguments._show(dtype)}") from None
    if resolved not in FLOAT_DTYPES:
        raise TypeError(f"{what} must be float32 or float64, got {resolved}")
    return resolved


def normalize_shape(shape, where=None, name="shape"):
    """A feature shape as a tuple of ints (None allowed for sizes known only at call time),
    or a list of such tuples for layers that take several inputs (Add). ``where`` and
    ``name`` say whose argument it is in an error ("Input", "shape")."""
    label = f"{where}: {name}" if where else f"a {name}"
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        if shape < 0:
            raise ValueError(f"{label} must hold non-negative ints (or None), got {shape!r}")
        return (int(shape),)
    if isinstance(shape, (tuple, list)) and shape and all(isinstance(s, (tuple, list)) for s in shape):
        return [normalize_shape(s, where, name) for s in shape]
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"{label} must be a tuple of ints, got {shape!r}")
    out = []
    for s in shape:
        if s is None:
            out.append(None)
        elif isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0:
            out.append(int(s))
        elif isinstance(s, (int, np.integer)) and not isinstance(s, bool):
            raise ValueError(f"{label} must hold non-negative ints (or None), got {tuple(shape)}")
        else:
            raise TypeError(f"{label} must hold non-negative ints (or None), got {tuple(shape)}")
    return tuple(out)


def format_shape(shape) -> str:
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return "[" + ", ".join(format_shape(s) for s in shape) + "]"
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _shapes_match(expected, actual) -> bool:
    """Exact match, where None in ``expected`` matches any size."""
    if isinstance(expected, list) or isinstance(actual, list):
        return (isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual)
                and all(_shapes_match(e, a) for e, a in zip(expected, actual)))
    return len(expected) == len(actual) and all(e is None or e == a for e, a in zip(expected, actual))


class InputSpec:
    """The feature shapes (batch axis excluded) a built layer accepts.

    ndim: exact number of feature axes; min_ndim: at least that many;
    axes: {axis: size} sizes that must match (negative axes count from the end);
    shape: an exact shape, None matching any size.
    """

    def __init__(self, ndim=None, min_ndim=None, axes=None, shape=None):
        self.shape = None if shape is None else normalize_shape(shape)
        self.ndim = len(self.shape) if self.shape is not None else ndim
        self.min_ndim = min_ndim
        self.axes = dict(axes or {})

    def accepts(self, shape) -> bool:
        if isinstance(shape, list):
            return False
        if self.shape is not None:
            return _shapes_match(self.shape, shape)
        if self.ndim is not None and len(shape) != self.ndim:
            return False
        if self.min_ndim is not None and len(shape) < self.min_ndim:
            return False
        for axis, size in self.axes.items():
            if not -len(shape) <= axis < len(shape) or (size is not None and shape[axis] != size):
                return False
        return True

    def describe(self) -> str:
        if self.shape is not None:
            return format_shape(self.shape)
        if self.ndim is not None:
            dims = ["?"] * self.ndim
            for axis, size in self.axes.items():
                dims[axis] = str(size)
            return "(" + ", ".join(dims) + ("," if self.ndim == 1 else "") + ")"
        tail = [self.axes[a] for a in sorted(a for a in self.axes if a < 0)]
        if tail:
            return "(..., " + ", ".join(map(str, tail)) + ")"
        return f"any shape with at least {self.min_ndim or 0} feature axes"

    def __repr__(self):
        return f"InputSpec({self.describe()})"


@dataclass
class _WeightSpec:
    name: str
    trainable: bool
    regularizer: Any


def _collect_layers(value, found: list) -> None:
    """Append the layers inside an attribute value to ``found``: a layer, or layers in
    (nested) lists, tuples, dicts. A plain recursion, not a generator, and items that
    cannot hold a layer (the ints of a shape) are skipped without a call: fit walks
    the layer tree a few times per call."""
    if isinstance(value, Layer):
        found.append(value)
        return
    if isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, (list, tuple)):
        return
    for item in value:
        if isinstance(item, _MAY_HOLD_LAYERS):
            _collect_layers(item, found)


def _wrap_build(build):
    """Make ``build`` record the input shape and set ``built`` even when a user calls it
    directly (Keras 3 does the same); building an already built layer does nothing."""

    @functools.wraps(build)
    def wrapper(self, input_shape):
        if self.__dict__.get("_in_build"):  # super().build(...) from a subclass: just run it
            return build(self, input_shape)
        if self.built:
            return None
        input_shape = normalize_shape(input_shape)
        self._in_build = True
        try:
            build(self, input_shape)
        finally:
            self._in_build = False
        self._build_input_shape = input_shape
        self.built = True
        self._freeze_if_made_frozen()
        return None

    return wrapper


def _accepts_training(fn) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return True
    return "training" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _feature_shapes(inputs):
    if isinstance(inputs, Tensor):
        if inputs.ndim == 0:
            raise ValueError("a layer input needs a batch axis; got a 0-d tensor")
        return inputs.shape[1:]
    return [_feature_shapes(t) for t in inputs]


def _full_shapes(inputs):
    return inputs.shape if isinstance(inputs, Tensor) else [_full_shapes(t) for t in inputs]


def _flat_tensors(inputs):
    if isinstance(inputs, Tensor):
        return [inputs]
    return [t for item in inputs for t in _flat_tensors(item)]


def _batchless(out):
    """Output shape with the batch axis shown as None, as Keras prints it."""
    if isinstance(out, Tensor):
        return (None,) + out.shape[1:] if out.ndim else ()
    if isinstance(out, (list, tuple)):
        return [_batchless(o) for o in out]
    return None


def serialize_callable(value, registry: dict | None = None):
    """A JSON-able name for a string or callable argument (activation, initializer)."""
    if value is None or isinstance(value, str):
        return value
    for name, fn in (registry or {}).items():
        if fn is value:
            return name
    # A user's function cannot be rebuilt from JSON; keep its name so the config says what it was.
    return getattr(value, "__qualname__", repr(value))


#: The layer and model classes of fastnn.layers and fastnn.models by class name, filled as
#: each class is defined: how fastnn.layers.get and the checkpoint reader find
#: "Sequential" or "Model" without importing fastnn.models, which sits above them.
#: (Other subclasses, fastnn.zoo's and users', load only through custom_objects.)
FASTNN_CLASSES: dict = {}
_REGISTERED_MODULES = ("fastnn.layers.", "fastnn.models")


class Layer:
    """Base class of layers and models; see the module docstring."""

    #: Whether this layer's non-trainable weights are computed over the global batch in
    #: data-parallel training (SyncBatchNormalization); others' are each rank's own, and
    #: fastnn/replicas.py averages them over the ranks after every step.
    global_statistics = False

    def __init__(self, name=None, dtype=None, input_shape=None, trainable=True, **unknown):
        owner = type(self).__name__
        if unknown:
            # Python would name Layer.__init__; the user called the subclass
            raise TypeError(f"{owner}: unknown arguments {sorted(unknown)}; the arguments every layer takes "
                            f"are name, dtype, input_shape and trainable (see {owner}'s docstring for its own)")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{owner}: name must be a non-empty string or None, got {name!r}")
        if name == "":
            raise ValueError(f"{owner}: name must be a non-empty string or None, got ''")
        if input_shape is not None:
            input_shape = normalize_shape(input_shape, owner, "input_shape")
        trainable = arguments.boolean(trainable, owner, "trainable")
        self.name = name or unique_name(to_snake_case(owner))
        self.dtype = None if dtype is None else float_dtype(dtype, f"{owner}: dtype")
        self.training = True
        self.built = False
        self.input_spec = None
        self._build_input_shape = None
        self._output_shape = None
        self._weight_specs: list[_WeightSpec] = []
        self._build_backend = None
        self._declared_input_shape = input_shape
        self._trainable = True
        self._layer_initialized = True
        if not trainable:
            self._made_frozen()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith(_REGISTERED_MODULES):
            FASTNN_CLASSES.setdefault(cls.__name__, cls)
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "__wrapped__", None):
            cls.build = _wrap_build(build)
        cls._call_takes_training = _accepts_training(cls.call)

    # -- to override --------------------------------------------------------------
    def build(self, input_shape) -> None:
        """Create the weights for inputs of feature shape ``input_shape`` (batch excluded)."""

    def call(self, inputs, training=None):
        raise NotImplementedError(f"{type(self).__name__} must define call(self, x, training=None)")

    def compute_output_shape(self, input_shape):
        """Output feature shape for an input feature shape (batch excluded).

        Built-in layers compute it from their formula; this fallback for user layers runs
        ``call`` once on a zero batch of two, in inference mode and without a graph.
        """
        input_shape = normalize_shape(input_shape)
        if not self.built:
            self._build_with(input_shape, None, None)

        def zeros(shape):
            if isinstance(shape, list):
                return [zeros(s) for s in shape]
            dims = (2,) + tuple(1 if s is None else s for s in shape)
            backend = self.backend or backends.get_backend()
            return make_tensor(np.zeros(dims, dtype=self.dtype or "float32"), backend=backend)

        token = _EXPLICIT_TRAINING.set(False)
        try:
            with no_grad():
                out = self._invoke_call(zeros(input_shape), False, {})
        finally:
            _EXPLICIT_TRAINING.reset(token)
        shape = _batchless(out)
        return [s[1:] for s in shape] if isinstance(shape, list) else shape[1:]

    def get_config(self) -> dict:
        """JSON-able constructor arguments, with "class_name" and "trainable" (for checkpoints)."""
        config = {"class_name": type(self).__name__, "name": self.name, "trainable": self.trainable}
        if self.dtype is not None:
            config["dtype"] = self.dtype.name
        if self._declared_input_shape is not None:
            config["input_shape"] = list(self._declared_input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict):
        """A new layer from ``get_config()``'s output. "trainable" (absent: True, as in
        configs written before layers had it) is set after the constructor, so a layer class
        whose ``__init__`` does not take it still loads; False freezes the layer as
        ``trainable=False`` given to its constructor does."""
        config = {k: v for k, v in config.items() if k != "class_name"}
        trainable = arguments.boolean(config.pop("trainable", True), f"{cls.__name__}.from_config",
                                      "config['trainable']")
        layer = cls(**config)
        if not trainable:
            layer._made_frozen()
        return layer

    # -- freezing -------------------------------------------------------------------
    @property
    def trainable(self) -> bool:
        """Whether this layer's weights train (Keras' ``layer.trainable``); see the module
        docstring. Setting it sets every sub-layer's too, changes ``requires_grad`` of the
        weights it concerns and drops the ``.grad`` of those it freezes."""
        return self.__dict__.get("_trainable", True)

    @trainable.setter
    def trainable(self, value) -> None:
        value = arguments.boolean(value, self._label(), "trainable")
        self._set_trainable(value, recursive=True)

    def _set_trainable(self, value: bool, recursive: bool) -> None:
        """This layer's flag (and with ``recursive`` every sub-layer's), then the weights'
        ``requires_grad`` to match: declared trainable and the owner's flag True. A layer
        frozen before it is built freezes again once built, since building may make
        sub-layers (a block's projection, a model's layers on its first call)."""
        for layer in (self._walk() if recursive else (self,)):
            layer._trainable = value
            if recursive and not value and not layer.built:
                layer._freeze_when_built = True
            else:
                layer.__dict__.pop("_freeze_when_built", None)
        for owner, spec, t in self._weight_entries():
            train = spec.trainable and owner.trainable
            if t.requires_grad != train and t.is_leaf:
                t.requires_grad = train
            if not train:
                t.grad = None   # a gradient from before the freeze must not reach an optimizer
        # counted even when no weight's requires_grad changed (a batch norm without scale
        # and offset still changes mode)
        FLAG_CHANGES[0] += 1

    def _made_frozen(self) -> None:
        """``trainable=False`` given to the constructor (or in a config): this layer is frozen,
        and so are its sub-layers, now if it is built, else once it is (a block makes its
        sub-layers after ``Layer.__init__``, a model builds them on its first call)."""
        self._set_trainable(False, recursive=True)

    def _freeze_if_made_frozen(self) -> None:
        if self.__dict__.pop("_freeze_when_built", False):
            self._set_trainable(False, recursive=True)

    # -- weights --------------------------------------------------------------------
    def add_weight(self, name, shape, initializer="glorot_uniform", trainable=True, regularizer=None, dtype=None):
        """Create a weight tensor, store it as ``self.<name>`` and register it.

        It lives on the backend of the input being built for (or the current backend),
        with ``dtype`` or the layer's dtype; trainable weights get ``requires_grad=True``.
        ``regularizer``: anything ``fastnn.regularizers.get`` accepts; its penalty joins ``losses``.
        """
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"add_weight: name must be a Python identifier, got {name!r}")
        if any(spec.name == name for spec in self._weight_specs):
            raise ValueError(f"add_weight: {self._label()} already has a weight called {name!r}")
        if name in self.__dict__ and not isinstance(self.__dict__[name], (Tensor, type(None))):
            raise ValueError(f"add_weight: {name!r} would overwrite the attribute {type(self).__name__}.{name}")
        shape = normalize_shape(shape)
        if isinstance(shape, list) or None in shape:
            raise ValueError(f"add_weight: {self._label()}.{name} needs a concrete shape, got {shape}")
        dtype = float_dtype(dtype, "add_weight: dtype") if dtype is not None else (self.dtype or np.dtype("float32"))
        # checked before the initializer draws from the random stream: a refused weight leaves no trace
        regularizer = regularizers.get(regularizer, "add_weight", "regularizer")
        backend = self._build_backend or backends.current()
        value = initializers.initialize(initializer, shape, dtype, backend)
        # A fresh leaf of our own, with the asked dtype and backend, whatever a user initializer returned.
        value = make_tensor(value, dtype=dtype, backend=backend)
        value.requires_grad = bool(trainable) and self.trainable
        value.name = f"{self.name}/{name}"
        self.__dict__[name] = value
        self._weight_specs.append(_WeightSpec(name, bool(trainable), regularizer))
        return value

    def _walk(self):
        """This layer and every sub-layer, depth first, each once."""
        seen, order = set(), []

        def visit(layer):
            if id(layer) in seen:
                return
            seen.add(id(layer))
            order.append(layer)
            for child in layer._sublayers():
                visit(child)

        visit(self)
        return order

    def _sublayers(self):
        """Direct sub-layers in assignment order (attributes, and lists/tuples/dicts of layers)."""
        found: list = []
        for value in self.__dict__.values():
            if isinstance(value, _MAY_HOLD_LAYERS):
                _collect_layers(value, found)
        seen, out = {id(self)}, []
        for layer in found:
            if id(layer) not in seen:
                seen.add(id(layer))
                out.append(layer)
        return out

    def _weight_entries(self):
        """(owner layer, spec, tensor) for every weight of the tree, each tensor once."""
        seen, entries = set(), []
        for layer in self._walk():
            for spec in layer.__dict__.get("_weight_specs", ()):
                t = getattr(layer, spec.name)
                if id(t) not in seen:
                    seen.add(id(t))
                    entries.append((layer, spec, t))
        return entries

    def _bind_weights(self, tensors) -> None:
        """Make ``tensors`` this layer's weights, in ``weights`` order (no copy, no checks of
        values). The case table uses it so that gradient checks and backend parity tests
        differentiate with respect to every weight."""
        entries = self._weight_entries()
        tensors = list(tensors)
        if len(tensors) != len(entries):
            raise ValueError(f"{self._label()}: {len(entries)} weights, got {len(tensors)} tensors")
        for (owner, spec, old), new in zip(entries, tensors):
            if tuple(new.shape) != old.shape:
                raise ValueError(f"{owner._label()}.{spec.name}: shape {old.shape}, got {tuple(new.shape)}")
            owner.__dict__[spec.name] = new

    @property
    def weights(self) -> list:
        """All weight tensors, trainable or not (batch-norm running statistics included)."""
        return [t for _, _, t in self._weight_entries()]

    @property
    def trainable_weights(self) -> list:
        """The weights that train: declared trainable, of a layer whose ``trainable`` is True."""
        return [t for owner, spec, t in self._weight_entries() if spec.trainable and owner.trainable]

    @property
    def non_trainable_weights(self) -> list:
        """The others (Keras' rule): running statistics, and every weight of a frozen layer."""
        return [t for owner, spec, t in self._weight_entries() if not (spec.trainable and owner.trainable)]

    def parameters(self) -> list:
        """The trainable weights (each once, in ``weights`` order): what an optimizer updates."""
        return self.trainable_weights

    def _optimizable_weights(self) -> list:
        """The weights declared trainable, frozen or not (in ``weights`` order): what compile
        gives the optimizer it makes, so that unfreezing a layer needs no new compile (the
        optimizer skips a frozen weight: it has no gradient)."""
        return [t for _, spec, t in self._weight_entries() if spec.trainable]

    def named_weights(self) -> list:
        """(name, tensor) pairs, names as ``layer_name/weight_name``."""
        return [(f"{owner.name}/{spec.name}", t) for owner, spec, t in self._weight_entries()]

    def count_params(self) -> int:
        return int(sum(t.size for t in self.weights))

    @property
    def losses(self) -> list:
        """Regularization penalties (0-d tensors) from the current weights, one per regularized weight.

        Computed when read, so they follow the weights and carry gradients; a training loop
        adds ``sum(model.losses)`` to its loss."""
        return [spec.regularizer(t) for _, spec, t in self._weight_entries() if spec.regularizer is not None]

    def get_weights(self) -> list:
        """Host numpy copies of ``weights``."""
        return [t.numpy() for t in self.weights]

    def set_weights(self, arrays) -> None:
        """Replace the values of ``weights`` (in place, so optimizers keep their references).

        ``arrays``: a list with one array (or Tensor) per weight, in ``weights`` order, each
        of the weight's shape and of real numbers (ints or floats; they are converted to the
        weight's dtype, and a value that dtype cannot hold is an error, not an inf). Every
        array is checked and converted before anything is written: after an error the
        weights are as they were.
        """
        label = self._label()
        entries = self._weight_entries()
        if not isinstance(arrays, (list, tuple)):
            raise TypeError(f"{label}: set_weights arrays must be a list of arrays, one per weight in weights order, "
                            f"got {arguments._show(arrays)}")
        if not entries and not self.built and arrays:
            raise ValueError(f"{label}: set_weights needs the weights to exist; build the layer first "
                             f"(call it on a batch, or build(input_shape))")
        if len(arrays) != len(entries):
            names = ", ".join(f"{o.name}/{s.name}" for o, s, _ in entries)
            raise ValueError(f"{label}: set_weights expected {len(entries)} arrays ({names}), "
                             f"got {len(arrays)}")
        values = []
        for i, ((owner, spec, t), a) in enumerate(zip(entries, arrays)):
            what = f"{label}: set_weights array {i} (for {owner.name}/{spec.name})"
            if isinstance(a, Tensor):
                a = a.numpy()
            elif not isinstance(a, np.ndarray):
                try:
                    a = np.asarray(a)
                except (TypeError, ValueError):
                    raise TypeError(f"{what} must be an array of real numbers, got "
                                    f"{arguments._show(a)}") from None
            if a.dtype.kind not in "iuf":
                raise TypeError(f"{what} must be an array of real numbers (ints or floats), got dtype {a.dtype}")
            if tuple(a.shape) != t.shape:
                raise ValueError(f"{label}: set_weights array {i} is for {owner.name}/{spec.name} of shape "
                                 f"{t.shape}, got an array of shape {tuple(a.shape)}")
            with np.errstate(over="ignore"):
                cast = a.astype(t.dtype)
            if a.dtype.kind == "f" and a.dtype.itemsize > t.dtype.itemsize:
                overflow = np.isinf(cast) & np.isfinite(a)
                if overflow.any():
                    raise ValueError(f"{what} must hold values that {t.dtype} holds (|x| <= "
                                     f"{np.finfo(t.dtype).max:.4g}), got {float(a[overflow].reshape(-1)[0])!r}")
            values.append(make_tensor(cast, dtype=t.dtype, backend=t.backend).data)
        for (_, _, t), data in zip(entries, values):
            t.data = data

    def zero_grad(self) -> None:
        """Clear ``.grad`` of every trainable weight (set it to None, as PyTorch does)."""
        for t in self.parameters():
            t.grad = None

    # -- mode and placement ---------------------------------------------------------
    def train(self, mode: bool = True):
        """Set training mode on this layer and every sub-layer; returns self."""
        for layer in self._walk():
            layer.training = bool(mode)
        return self

    def eval(self):
        """Inference mode for this layer and every sub-layer (dropout off, batch norm on running stats)."""
        return self.train(False)

    @property
    def backend(self):
        """Name of the backend the weights live on (None before they exist)."""
        weights = self.weights
        return weights[0].backend if weights else None

    def to(self, backend):
        """Move every weight to ``backend`` (a name or a Backend) in place (the tensor
        objects stay the same, so optimizers built on ``parameters()`` keep working);
        returns self."""
        target = backends.get(backend)
        for _, _, t in self._weight_entries():
            moved = make_tensor(t, backend=target)
            # In place: the Tensor object is what optimizers and user code hold on to.
            t.data, t._backend = moved.data, moved._backend
            if t.grad is not None:
                t.grad = make_tensor(t.grad, backend=target)
        return self

    # -- calling ----------------------------------------------------------------------
    def __call__(self, inputs, training=None, **kwargs):
        self._require_init()
        inputs = self._convert_inputs(inputs)
        self._validate_inputs(inputs)
        shapes = _feature_shapes(inputs)
        if not self.built:
            floats = [t.dtype for t in _flat_tensors(inputs) if t.dtype.kind == "f"]
            self._build_with(shapes, floats[0] if floats else None, _flat_tensors(inputs)[0]._backend)
        self._check_input(inputs, shapes)
        explicit = training is not None
        if not explicit:
            training = _EXPLICIT_TRAINING.get()
            if training is None:
                training = self.training
        token = _EXPLICIT_TRAINING.set(bool(training)) if explicit else None
        try:
            out = self._invoke_call(inputs, bool(training), kwargs)
        finally:
            if token is not None:
                _EXPLICIT_TRAINING.reset(token)
        self._output_shape = _batchless(out)
        return out

    def _invoke_call(self, inputs, training, kwargs):
        if self._call_takes_training:
            return self.call(inputs, training=training, **kwargs)
        return self.call(inputs, **kwargs)

    def _build_with(self, input_shape, dtype, backend) -> None:
        """Build for ``input_shape`` with weights of ``dtype`` on ``backend`` (None: defaults)."""
        if self.dtype is None and dtype is not None:
            self.dtype = float_dtype(dtype)
        self._build_backend = backends.resolve(backend) if backend is not None else None
        try:
            self.build(input_shape)
        finally:
            self._build_backend = None
        if not self.built:  # a build() that is not wrapped (Layer's own no-op)
            self._build_input_shape = normalize_shape(input_shape)
            self.built = True
        if self.dtype is None and self._weight_specs:  # built for integer ids: the weights' dtype it is
            self.dtype = getattr(self, self._weight_specs[0].name).dtype
        self._freeze_if_made_frozen()

    def _convert_inputs(self, inputs):
        """numpy arrays (and lists of numbers) become tensors: floats in the layer's dtype
        (float32 by default), integers stay integers; on the layer's backend."""
        if isinstance(inputs, Tensor):
            return inputs
        if isinstance(inputs, (list, tuple)) and inputs and all(
                isinstance(i, Tensor) or (hasattr(i, "shape") and hasattr(i, "dtype")) for i in inputs):
            return [self._convert_inputs(i) for i in inputs]
        array = np.asarray(inputs)
        if array.dtype.kind == "f":
            dtype = self._input_dtype()
        elif array.dtype.kind in "iub":
            dtype = None
        else:
            raise TypeError(f"{self._label()}: cannot use an input of type {type(inputs).__name__} "
                            f"(dtype {array.dtype}); pass a fastnn tensor or a numeric array")
        return make_tensor(array, dtype=dtype, backend=self._input_backend())

    def _input_dtype(self):
        if self.dtype is not None:
            return self.dtype
        floats = [t.dtype for t in self.weights if t.dtype.kind == "f"]
        return floats[0] if floats else np.dtype("float32")

    def _input_backend(self):
        return self.backend  # None: the current backend

    def _validate_inputs(self, inputs) -> None:
        """Hook for layers with special input structure (Add takes a list)."""
        if not isinstance(inputs, Tensor):
            raise TypeError(f"{self._label()} takes one tensor, got a list of {len(inputs)}")

    def _check_input(self, inputs, shapes) -> None:
        """After build: the feature shape fits (``input_spec`` or the built shape), the dtype matches."""
        # The expected shape is formatted only for the error: this check runs on every call.
        if self.input_spec is not None:
            ok = self.input_spec.accepts(shapes)
        else:
            ok = _shapes_match(self._build_input_shape, shapes)
        if not ok:
            expected = (self.input_spec.describe() if self.input_spec is not None
                        else format_shape(self._build_input_shape))
            raise ValueError(f"{self._label()}: expected inputs of feature shape {expected} (batch axis excluded), "
                             f"got {format_shape(shapes)} (input shape {format_shape(_full_shapes(inputs))}); "
                             f"the layer was built for {format_shape(self._build_input_shape)}")
        if self._weight_specs and self.dtype is not None:
            for t in _flat_tensors(inputs):
                if t.dtype.kind == "f" and t.dtype != self.dtype:
                    raise TypeError(f"{self._label()}: its weights are {self.dtype} but the input is {t.dtype}; "
                                    f"convert the input with .astype({self.dtype.name!r})")

    def _require_init(self):
        if "_layer_initialized" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}.__init__ must call super().__init__() before the layer is used")

    # -- description ------------------------------------------------------------------
    @property
    def output_shape(self):
        """Output shape with None for the batch axis, once known (after a call, or an eager
        build in a Sequential); None before."""
        return self._output_shape

    @property
    def input_shape(self):
        """Feature shape the layer was built for (None before it is built)."""
        return self._build_input_shape

    def _label(self) -> str:
        return f"{type(self).__name__} {self.__dict__.get('name', '?')!r}"

    def __repr__(self):
        config = self.get_config() if "_layer_initialized" in self.__dict__ else {}
        args = ", ".join(f"{k}={v!r}" for k, v in config.items()
                         if k not in ("class_name", "layers") and not (k == "trainable" and v is True))
        return f"{type(self).__name__}({args})"


Layer._call_takes_training = True

#: The attribute values that can hold a layer (``_collect_layers``).
_MAY_HOLD_LAYERS = (Layer, list, tuple, dict)
