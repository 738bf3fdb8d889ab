"""The ONNX graph under construction, as plain Python data: nodes, initializers, inputs and
outputs, made into an ``onnx.ModelProto`` only at the end (``to_model``).

Plain data until the end lets the exporter build the graph twice, from two traces of the
model (fastnn/onnx/exporter.py), and compare them (``first_difference``) before any onnx
object exists; and it keeps the one ``import onnx`` in ``require_onnx``, so that
``import fastnn.onnx`` works where the onnx package is missing.

The helpers for ops whose form changed between opsets (``reduce``: the axes of ReduceMean,
ReduceMax and ReduceMin are an attribute before opset 18 and an input from 18) take the
target opset into account, so converters never branch on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._version import __version__

#: Slice bounds meaning "to the end" and "to the start" on an axis of any length (ONNX's convention).
INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min

#: The opsets export writes: from 13 (axes of Squeeze, Unsqueeze, Split and ReduceSum are
#: inputs, Softmax works on one axis) to the newest the installed onnx package knows.
MIN_OPSET = 13
DEFAULT_OPSET = 17

INSTALL_HINT = 'pip install onnx (or pip install "fastnn[onnx]")'

#: ONNX's element types (TensorProto.DataType; fixed by the ONNX spec) of the NumPy dtypes
#: fastnn tensors hold: what Cast's ``to`` attribute takes.
_ELEMENT_TYPES = {"float32": 1, "uint8": 2, "int8": 3, "uint16": 4, "int16": 5, "int32": 6, "int64": 7,
                  "bool": 9, "float16": 10, "float64": 11, "uint32": 12, "uint64": 13}


def element_type(dtype) -> int:
    """The ONNX element type of a NumPy dtype."""
    return _ELEMENT_TYPES[np.dtype(dtype).name]


def require_onnx():
    """The onnx package, or an ImportError that says how to install it."""
    try:
        import onnx
    except ImportError as error:
        raise ImportError(f"fastnn.onnx.export needs the onnx package: {INSTALL_HINT}") from error
    return onnx


@dataclass
class Node:
    """One ONNX node. ``origin`` says which layer and fastnn op it was made for, for errors."""

    op_type: str
    inputs: list
    outputs: list
    attributes: dict
    name: str
    origin: str


@dataclass
class ValueSpec:
    """A graph input or output: name, NumPy dtype and shape (ints, or "batch" for the batch axis)."""

    name: str
    dtype: np.dtype
    shape: tuple


@dataclass
class GraphBuilder:
    """Nodes and initializers in the order they are made, with unique names.

    ``scope`` prefixes node names (the path of layer names, "model/dense_1"), ``origin`` is
    copied into each node for error messages; the converters set both before they add nodes.
    """

    opset: int
    nodes: list = field(default_factory=list)
    initializers: dict = field(default_factory=dict)
    scope: str = ""
    origin: str = ""
    _taken: set = field(default_factory=set)
    _constants: dict = field(default_factory=dict)

    def unique(self, base: str) -> str:
        """``base``, or ``base_1``, ``base_2``... when taken: every value and node name is unique."""
        name, count = base, 0
        while name in self._taken:
            count += 1
            name = f"{base}_{count}"
        self._taken.add(name)
        return name

    def reserve(self, names) -> None:
        """Keep ``names`` (the graph's inputs and outputs) from being given to anything else."""
        self._taken.update(names)

    def node(self, op_type: str, inputs, outputs: int = 1, unused=(), **attributes):
        """Add a node; returns its output name (a list of names when ``outputs`` is not 1).
        An input named "" is an optional input left out; the outputs at the positions in
        ``unused`` are left out the same way (named "")."""
        name = self.unique(f"{self.scope}/{op_type}" if self.scope else op_type)
        names = [name] if outputs == 1 else ["" if i in unused else self.unique(f"{name}:{i}") for i in range(outputs)]
        attributes = {key: _attribute(value) for key, value in attributes.items() if value is not None}
        self.nodes.append(Node(op_type, list(inputs), names, attributes, name, self.origin))
        return names[0] if outputs == 1 else names

    def initializer(self, base: str, array) -> str:
        """A named initializer holding a copy of ``array`` (a weight)."""
        name = self.unique(base)
        self.initializers[name] = np.array(array, copy=True, order="C")
        return name

    def constant(self, array) -> str:
        """An initializer for a constant value; equal constants share one."""
        array = np.asarray(array)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self._constants:
            self._constants[key] = self.initializer("const", array)
        return self._constants[key]

    def int64s(self, values) -> str:
        """A constant 1-D int64 tensor (axes, shapes, split sizes)."""
        return self.constant(np.asarray(values, dtype=np.int64).reshape(-1))

    # -- ops whose form depends on the opset ------------------------------------------
    def reduce(self, op_type: str, x: str, axes, keepdims: bool) -> str:
        """ReduceSum / ReduceMean / ReduceMax / ReduceMin over ``axes`` (None: every axis)."""
        if axes is None:
            return self.node(op_type, [x], keepdims=int(keepdims))
        axes = [int(a) for a in axes]
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.node(op_type, [x, self.int64s(axes)], keepdims=int(keepdims))
        return self.node(op_type, [x], axes=axes, keepdims=int(keepdims))

    def squeeze(self, x: str, axes) -> str:
        """Drop the size-1 ``axes`` of ``x``."""
        return self.node("Squeeze", [x, self.int64s(axes)])

    def unsqueeze(self, x: str, axes) -> str:
        """Insert size-1 axes at ``axes`` (positions in the result)."""
        return self.node("Unsqueeze", [x, self.int64s(axes)])

    def split(self, x: str, axis: int, sizes) -> list:
        """Pieces of ``x`` along ``axis``, of ``sizes``; a list of value names."""
        names = self.node("Split", [x, self.int64s(sizes)], outputs=len(sizes), axis=int(axis))
        return [names] if len(sizes) == 1 else names


def _attribute(value):
    """Python ints, floats and lists of them: what onnx.helper.make_attribute takes."""
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_attribute(v) for v in value]
    return value


def first_difference(first: GraphBuilder, second: GraphBuilder) -> str | None:
    """Where two builds of one model differ (a sentence naming the layer and op), or None."""
    for a, b in zip(first.nodes, second.nodes):
        if a.op_type != b.op_type:
            return f"{a.origin}: the first trace made a {a.op_type} node where the second made a {b.op_type}"
        for what in ("inputs", "outputs", "attributes"):
            if getattr(a, what) != getattr(b, what):
                return (f"{a.origin}: the {a.op_type} node's {what} are {getattr(a, what)} in the first trace "
                        f"and {getattr(b, what)} in the second")
    if len(first.nodes) != len(second.nodes):
        longer = first.nodes if len(first.nodes) > len(second.nodes) else second.nodes
        extra = longer[min(len(first.nodes), len(second.nodes))]
        return f"{extra.origin}: one trace has {len(first.nodes)} nodes, the other {len(second.nodes)}"
    for name, a in first.initializers.items():
        b = second.initializers.get(name)
        if b is not None and a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True):
            continue
        users = [n.origin for n in first.nodes if name in n.inputs]
        where = users[0] if users else name
        if b is None:
            return f"{where}: the constant {name!r} exists in the first trace only"
        if a.shape != b.shape:
            return f"{where}: a constant of shape {a.shape} in the first trace has shape {b.shape} in the second"
        return f"{where}: a constant of shape {a.shape} holds other values in the second trace"
    return None


def to_model(builder: GraphBuilder, inputs, outputs, graph_name: str, doc: str):
    """The ``onnx.ModelProto``: the nodes, the initializers, typed inputs and outputs (a
    string dim is symbolic), the opset, and the lowest IR version that opset needs, so
    that older runtimes read the file too."""
    onnx = require_onnx()
    helper = onnx.helper

    def value_info(spec: ValueSpec):
        return helper.make_tensor_value_info(spec.name, helper.np_dtype_to_tensor_dtype(np.dtype(spec.dtype)),
                                             list(spec.shape))

    nodes = [helper.make_node(n.op_type, n.inputs, n.outputs, name=n.name, **n.attributes) for n in builder.nodes]
    initializers = [onnx.numpy_helper.from_array(array, name) for name, array in builder.initializers.items()]
    graph = helper.make_graph(nodes, graph_name, [value_info(s) for s in inputs], [value_info(s) for s in outputs],
                              initializer=initializers)
    opsets = [helper.make_opsetid("", builder.opset)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="fastnn", producer_version=__version__,
                              ir_version=helper.find_min_ir_version_for(opsets))
    model.doc_string = doc
    return model


__all__ = ["DEFAULT_OPSET", "GraphBuilder", "INSTALL_HINT", "INT64_MAX", "INT64_MIN", "MIN_OPSET", "Node", "ValueSpec",
           "element_type", "first_difference", "require_onnx", "to_model"]
