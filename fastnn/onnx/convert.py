"""From a trace to ONNX nodes: which records are needed, in which order they are converted,
and the ``Context`` every converter works through.

A traced tensor becomes an ONNX value the first time something asks for it
(``Context.value``): a model input or a tensor a converted record produced has a name
already; a weight of the model becomes an initializer named ``layer/weight``; any other
tensor -- one the model's ``call`` made without an op, a constant -- becomes a constant
initializer with its traced value (if that value depends on the batch or on the inputs,
the two traces differ and the exporter says so). Arrays given to ops as keyword arguments
(batch-norm statistics, embedding ids) are found through the tensor that holds them.

Only the records the outputs depend on are converted, so an op whose result the model
throws away needs no ONNX form.
"""

from __future__ import annotations

import inspect

import numpy as np

from .. import backend as backends
from ..tensor import Tensor
from .errors import ExportError
from .graph import GraphBuilder, element_type
from .tracer import LayerRecord, OpRecord, Trace, arrays_and_tensors


def is_scalar(value) -> bool:
    """A Python or NumPy number (an op's operand that is no tensor)."""
    return isinstance(value, (bool, int, float, np.number, np.bool_))


def dtype_of(value) -> np.dtype:
    """The NumPy dtype of a tensor or array."""
    return np.dtype(value.dtype)


class Context:
    """What a converter works with: the graph builder, the values made so far, and the
    record being converted (``record``, ``origin`` for errors)."""

    def __init__(self, builder: GraphBuilder, model):
        self.builder = builder
        self.values: dict = {}            # id(tensor) -> value name
        self.tensors_by_array: dict = {}  # id(array) -> the tensor holding it
        self.weight_names = {}            # id(weight) -> its initializer's name, "layer/weight"
        for owner, spec, t in model._weight_entries():
            self.weight_names[id(t)] = f"{owner.name}/{spec.name}"
            self.tensors_by_array[id(t.data)] = t
        self.keep: list = []              # tensors turned into constants: alive, so ids stay unique
        self.record = None
        self.origin = ""

    # -- values -----------------------------------------------------------------------
    def bind(self, tensor: Tensor, name: str) -> None:
        """``tensor`` is the value ``name`` from now on."""
        self.values[id(tensor)] = name
        self.tensors_by_array.setdefault(id(tensor.data), tensor)

    def value(self, obj) -> str:
        """The value name of a tensor or array (an initializer or constant if need be)."""
        if isinstance(obj, Tensor):
            name = self.values.get(id(obj))
            if name is not None:
                return name
            holder = self.tensors_by_array.get(id(obj.data))
            if holder is not None and holder is not obj:   # x.detach(): the same data, no op between
                return self.value(holder)
            weight = self.weight_names.get(id(obj))
            name = (self.builder.initializer(weight, obj.numpy()) if weight is not None
                    else self.builder.constant(obj.numpy()))
            self.values[id(obj)] = name
            self.keep.append(obj)
            return name
        if backends.is_array(obj):
            holder = self.tensors_by_array.get(id(obj))
            if holder is not None:
                return self.value(holder)
            return self.builder.constant(backends.to_host(obj))
        raise self.fail(f"an argument of type {type(obj).__name__} has no ONNX form")

    def operand(self, obj, dtype) -> str:
        """The value of a tensor, array or number as ``dtype``: a number becomes a constant
        of that dtype, a tensor of another dtype gets a Cast (fastnn's promotions: an integer
        tensor meeting a float one takes its dtype)."""
        dtype = np.dtype(dtype)
        if is_scalar(obj):
            return self.builder.constant(np.asarray(obj, dtype=dtype))
        name = self.value(obj)
        return name if dtype_of(obj) == dtype else self.cast(name, dtype)

    def cast(self, name: str, dtype) -> str:
        """A Cast of value ``name`` to ``dtype``."""
        return self.node("Cast", [name], to=element_type(dtype))

    def constant(self, value, dtype) -> str:
        """A constant holding ``value`` as ``dtype``."""
        return self.builder.constant(np.asarray(value, dtype=dtype))

    def node(self, op_type, inputs, outputs=1, **attributes):
        """Add a node (``GraphBuilder.node``) in the scope of the record being converted."""
        return self.builder.node(op_type, inputs, outputs, **attributes)

    # -- the record -----------------------------------------------------------------------
    def arguments(self) -> dict:
        """The op's arguments by the parameter names of its ``forward``, defaults filled in."""
        record = self.record
        bound = inspect.signature(record.function.forward).bind(None, *record.args, **record.kwargs)
        bound.apply_defaults()
        return dict(bound.arguments)

    def fail(self, reason: str) -> ExportError:
        """The error to raise: the layer and op being converted, and ``reason``."""
        return ExportError(f"export: {self.origin}: {reason}")


def describe(record) -> str:
    """Which layer and op a record is, for errors: "Dense 'dense_1' (op Linear)"."""
    if isinstance(record, LayerRecord):
        return record.layer._label()
    where = record.layer._label() if record.layer is not None else "the model's call"
    return f"{where} (op {record.function.__name__})"


def record_inputs(record) -> list:
    """The tensors and arrays a record reads."""
    if isinstance(record, LayerRecord):
        return list(record.inputs)
    return arrays_and_tensors((record.args, record.kwargs), [])


def needed_records(trace: Trace) -> set:
    """ids of the records the outputs depend on."""
    producer, by_array = {}, {}
    for record in trace.records:
        for t in record.outputs:
            producer[id(t)] = record
            by_array[id(t.data)] = t
    needed, stack = set(), list(trace.outputs)
    while stack:
        item = stack.pop()
        tensor = item if isinstance(item, Tensor) else by_array.get(id(item))
        record = producer.get(id(tensor)) if tensor is not None else None
        if record is None and tensor is not None:
            holder = by_array.get(id(tensor.data))   # the same data as a produced tensor (detach)
            record = producer.get(id(holder)) if holder is not None else None
        if record is None or id(record) in needed:
            continue
        needed.add(id(record))
        stack.extend(record_inputs(record))
    return needed


def build(trace: Trace, model, builder: GraphBuilder, input_names, output_names, op_converters,
          layer_converters) -> None:
    """Add the nodes of ``trace`` to ``builder``: the inputs are named ``input_names``, the
    outputs ``output_names``. ``op_converters`` maps Function classes to converters,
    ``layer_converters(layer)`` gives the converter of a layer recorded whole."""
    context = Context(builder, model)
    builder.reserve([*input_names, *output_names])
    for t, name in zip(trace.inputs, input_names):
        context.bind(t, name)
    needed = needed_records(trace)
    for record in trace.records:
        if id(record) not in needed:
            continue
        context.record, context.origin = record, describe(record)
        builder.scope, builder.origin = record.scope, context.origin
        if isinstance(record, OpRecord):
            convert = op_converters.get(record.function)
            if convert is None:
                raise context.fail(f"the op {record.function.__name__} has no ONNX mapping in fastnn.onnx")
        else:
            convert = layer_converters(record.layer)
        convert(context, record)
        if any(id(t) not in context.values for t in record.outputs):   # a converter bug, never a user error
            raise AssertionError(f"{context.origin}: the converter left an output without a value")
    builder.scope, builder.origin = model.name, model._label()
    _name_outputs(context, builder, trace, input_names, output_names)


def _name_outputs(context, builder, trace, input_names, output_names) -> None:
    """Give the model's outputs their names: the node that makes one gets it as its output
    name; an output that is an input, a constant or another output passes an Identity."""
    renamed: dict = {}
    for t, name in zip(trace.outputs, output_names):
        value = context.value(t)
        producer = next((n for n in builder.nodes if value in n.outputs), None)
        if producer is None or value in renamed or value in input_names:
            builder.node("Identity", [renamed.get(value, value)])
            builder.nodes[-1].outputs = [name]
            continue
        renamed[value] = name
        producer.outputs = [name if o == value else o for o in producer.outputs]
        for n in builder.nodes:
            n.inputs = [name if i == value else i for i in n.inputs]


__all__ = ["Context", "build", "describe", "dtype_of", "is_scalar", "needed_records", "record_inputs"]
