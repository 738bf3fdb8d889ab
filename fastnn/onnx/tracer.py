"""Tracing: run a model once, in inference mode, and record what its forward pass does.

Two things are recorded while ``model(x, training=False)`` runs:

* every op, as the ``Function`` it applies with its exact arguments (tensors, Python
  numbers, shapes, axes, the activation's name...): ``Function.apply`` is wrapped for the
  duration of the trace, for the tracing thread only;
* every layer call, by a wrapper on each layer's ``_invoke_call`` (an instance attribute,
  removed afterwards): it keeps the path of layer names as the scope of the ops inside,
  and a layer that has a converter of its own (``opaque``: the recurrent layers, whose
  time loop and zero initial state have ONNX ops of their own) is recorded whole, with
  the ops inside it left out.

So a Sequential, a subclassed model with its own ``call`` and a user's layer made of
fastnn ops are all traced alike, with the ops between layers (``x + y``, ``F.relu``,
reshape, concatenate, indexing) included. What a graph cannot hold is caught three ways:

* reading the values of a tensor the model's input reaches (``.numpy()``, ``.item()``,
  ``.tolist()``, ``bool()``, ``np.asarray``: the Tensor methods behind them are guarded
  during the trace too) is a Python decision on values, or arithmetic outside fastnn's
  ops: an error naming the layer;
* a layer whose output no op produced (its values reached through ``.data``): an error;
* a tensor made from the batch size (``zeros(x.shape[0], ...)``) becomes a constant whose
  shape changes between two traces (fastnn/onnx/exporter.py compares them).

The model's float inputs are made to need a gradient and grad mode is on, so that
``a + b`` between two tensors of one shape goes through ``Function.apply`` (without a
gradient it takes a shortcut that records nothing). Nothing of the model changes: the
wrappers are removed, and inference mode leaves batch-norm statistics alone (an unbuilt
model is built by the first trace, as by any first call).
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass

from .. import backend as backends
from ..function import Function
from ..grad_mode import enable_grad
from ..layers.base import Layer
from ..layers.embedding import Embedding
from ..tensor import Tensor
from .errors import ExportError


@dataclass
class OpRecord:
    """One op as it ran: the Function class, its arguments, its output tensors, the scope
    (path of layer names) and the innermost layer it ran in (None: the model's own call)."""

    function: type
    args: tuple
    kwargs: dict
    outputs: tuple
    scope: str
    layer: Layer | None


@dataclass
class LayerRecord:
    """One call of a layer converted whole: the layer, its input and output tensors, its scope."""

    layer: Layer
    inputs: tuple
    outputs: tuple
    scope: str


@dataclass
class Trace:
    """What one forward pass did: the records in order, the model's input and output tensors."""

    records: list
    inputs: list
    outputs: list


class IntegerInputNeeded(Exception):
    """Input ``index`` of the model reached an Embedding as floats: trace it again as int64 ids."""

    def __init__(self, index):
        super().__init__(index)
        self.index = index


def arrays_and_tensors(value, found: list) -> list:
    """Append the tensors and arrays inside an op's arguments (nested in lists, tuples,
    dicts) to ``found``; returns it."""
    if isinstance(value, Tensor) or backends.is_array(value):
        found.append(value)
    elif isinstance(value, (list, tuple)):
        for item in value:
            arrays_and_tensors(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            arrays_and_tensors(item, found)
    return found


def flat_tensors(value) -> list:
    """The tensors in a layer's inputs or outputs (a tensor, or nested lists and tuples)."""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in flat_tensors(item)]
    return []


class _Recorder:
    def __init__(self, inputs, opaque):
        self.thread = threading.get_ident()
        self.opaque = opaque
        self.input_ids = {id(t): i for i, t in enumerate(inputs)}
        self.records: list = []
        self.known = {id(t) for t in inputs}   # tensors an input, an op or a whole layer produced
        self.dependent = {id(t) for t in inputs} | {id(t.data) for t in inputs}   # ... that the inputs reach
        self.keep = list(inputs)               # every recorded tensor stays alive: ids stay unique
        self.stack: list = []                  # layers being called, outermost first
        self.suspended = 0                     # > 0 inside a layer recorded whole

    def scope(self) -> str:
        return "/".join(layer.name for layer in self.stack)

    def op(self, function, args, kwargs, result) -> None:
        """Record one applied op (Function.apply's wrapper calls it)."""
        if self.suspended:
            return
        outputs = result if isinstance(result, tuple) else (result,)
        self.records.append(OpRecord(function, args, dict(kwargs), outputs, self.scope(),
                                     self.stack[-1] if self.stack else None))
        self.keep.append(self.records[-1])
        self.known.update(id(t) for t in outputs)
        self._spread(arrays_and_tensors((args, kwargs), []), outputs)

    def _spread(self, inputs, outputs) -> None:
        """Outputs computed from a tensor the model's inputs reach are reached too."""
        if any(id(v) in self.dependent for v in inputs):
            self.dependent.update(id(t) for t in outputs)
            self.dependent.update(id(t.data) for t in outputs)

    def value_read(self, method: str) -> ExportError:
        where = self.stack[-1]._label() if self.stack else "the model's call"
        return ExportError(
            f"export: {where}: reads the value of a tensor computed from the model's input (Tensor.{method}), "
            f"to branch on it or to compute with it outside fastnn's ops; a graph cannot follow either: write "
            f"it with fastnn ops and layers, without Python decisions on values")

    def call_layer(self, layer, original, inputs, training, kwargs):
        """Run one layer call (the wrapper on its ``_invoke_call``) inside its scope; record it
        whole if it has a converter, else check that its outputs were traced."""
        if self.suspended or threading.get_ident() != self.thread:   # another thread using the model
            return original(inputs, training, kwargs)
        whole = self.opaque(layer)
        self.stack.append(layer)
        scope = self.scope()
        self.suspended += whole
        try:
            out = original(inputs, training, kwargs)
        finally:
            self.suspended -= whole
            self.stack.pop()
        if not isinstance(out, Tensor) and not (isinstance(out, (list, tuple)) and out and
                                                all(isinstance(o, Tensor) for o in out)):
            raise ExportError(f"export: {layer._label()}: returns {type(out).__name__}, not a tensor or a list of "
                              f"tensors; only tensors can be graph values")
        outputs = flat_tensors(out)
        if whole:
            self.records.append(LayerRecord(layer, tuple(flat_tensors(inputs)), tuple(outputs), scope))
            self.keep.append(self.records[-1])
            self.known.update(id(t) for t in outputs)
            self._spread(flat_tensors(inputs), outputs)
        else:
            for t in outputs:
                if id(t) not in self.known:
                    raise ExportError(
                        f"export: {layer._label()}: its output is not computed from its inputs by fastnn ops, so it "
                        f"cannot be traced (values taken out with .numpy() or .item() and computed with NumPy, "
                        f"or a tensor made afresh, leave the graph); write it with fastnn ops and layers")
        return out

    def check_embedding_input(self, original, inputs):
        """Before an Embedding converts its input: a model input traced as floats must be ids."""
        if threading.get_ident() != self.thread:
            return original(inputs)
        for t in flat_tensors(inputs):
            index = self.input_ids.get(id(t))
            if index is not None and t.dtype.kind == "f":
                raise IntegerInputNeeded(index)
        return original(inputs)


_LOCK = threading.Lock()
_ACTIVE: _Recorder | None = None
_NONE = object()


#: The Tensor methods that hand a tensor's values to Python: a forward pass that calls one on
#: a tensor computed from the input decides something on values, or leaves fastnn's ops.
_VALUE_READS = ("numpy", "item", "tolist", "__bool__", "__array__")


def _tracing_thread():
    """The recorder of the trace running in this thread, if any."""
    active = _ACTIVE
    return active if active is not None and active.thread == threading.get_ident() else None


def _guarded_read(method, original):
    def read(self, *args, **kwargs):
        active = _tracing_thread()
        if active is not None and not active.suspended and id(self) in active.dependent:
            raise active.value_read(method)
        return original(self, *args, **kwargs)
    return read


@contextlib.contextmanager
def _recording_ops(recorder):
    """Wrap ``Function.apply`` so that every op the tracing thread applies is recorded,
    and the Tensor methods that read values (``_VALUE_READS``) so that reading a value the
    input reaches is an error; other threads pass through untouched. One trace at a time."""
    global _ACTIVE
    if not _LOCK.acquire(blocking=False):
        if _ACTIVE is not None and _ACTIVE.thread == threading.get_ident():
            raise ExportError("export: a model cannot be exported from inside the forward pass of a model "
                              "being exported")
        _LOCK.acquire()
    original = Function.__dict__["apply"]
    reads = {name: Tensor.__dict__[name] for name in _VALUE_READS}

    def apply(cls, *args, **kwargs):
        result = original.__func__(cls, *args, **kwargs)
        active = _tracing_thread()
        if active is not None:
            active.op(cls, args, kwargs, result)
        return result

    try:   # everything after the lock is taken: the finally puts every method back and releases it
        Function.apply = classmethod(apply)
        for name, method in reads.items():
            setattr(Tensor, name, _guarded_read(name, method))
        _ACTIVE = recorder
        yield
    finally:
        _ACTIVE = None
        Function.apply = original
        for name, method in reads.items():
            setattr(Tensor, name, method)
        _LOCK.release()


@contextlib.contextmanager
def _hooked_layers(model, recorder):
    """Put the recorder's wrappers on every layer of the model (instance attributes that
    shadow the class's methods), and take them off afterwards."""
    hooked = []   # (layer, attribute, the instance attribute it had, or _NONE)

    def hook(layer, attribute, wrapper):
        hooked.append((layer, attribute, layer.__dict__.get(attribute, _NONE)))
        layer.__dict__[attribute] = wrapper

    try:
        for layer in model._walk():
            invoke = layer._invoke_call
            hook(layer, "_invoke_call", lambda inputs, training, kwargs, layer=layer, invoke=invoke:
                 recorder.call_layer(layer, invoke, inputs, training, kwargs))
            if isinstance(layer, Embedding):
                convert = layer._convert_inputs
                hook(layer, "_convert_inputs",
                     lambda inputs, convert=convert: recorder.check_embedding_input(convert, inputs))
        yield
    finally:
        for layer, attribute, before in reversed(hooked):
            if before is _NONE:
                layer.__dict__.pop(attribute, None)
            else:
                layer.__dict__[attribute] = before


def trace(model, inputs: list, several: bool, opaque) -> Trace:
    """Run ``model`` once on ``inputs`` (tensors; a list of them when ``several``) in
    inference mode and record it. ``opaque(layer)`` says which layers are recorded whole."""
    recorder = _Recorder(inputs, opaque)
    with _recording_ops(recorder), _hooked_layers(model, recorder), enable_grad():
        out = model(list(inputs) if several else inputs[0], training=False)
    outputs = flat_tensors(out)
    return Trace(recorder.records, list(inputs), outputs)


__all__ = ["IntegerInputNeeded", "LayerRecord", "OpRecord", "Trace", "arrays_and_tensors", "flat_tensors", "trace"]
