"""``export``: a fastnn model as an ONNX file.

The steps:

1. Check the arguments; find the input shapes (the model's own, or ``input_shape``).
2. Trace the model twice (fastnn/onnx/tracer.py), in inference mode, on random inputs:
   a batch of 2 and a batch of 3, with other values. An input that reaches an Embedding
   as floats is traced again as int64 ids. A model not yet built is run once before, to
   build it (with the layers its layers make as they build).
3. Convert each trace to a graph (fastnn/onnx/convert.py with the op converters of
   fastnn/onnx/ops.py and the layer converters of fastnn/onnx/recurrent.py) and compare
   the two. A graph is static, so they must be equal; where they differ, the model's
   computation depends on the batch size or on the input values in a way the trace saw
   only once (a Python branch on values, a tensor made from ``x.shape[0]``, arithmetic
   through NumPy), and export says where. Output axes whose size followed the batch are
   the batch axis; any other size that moved is an error.
4. Make the ``onnx.ModelProto``, check it with ``onnx.checker.check_model(full_check=True)``
   and write it atomically (fastnn.io.write_atomically): after an error no file, not even
   a partial one, exists.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import arguments
from .. import random as fnn_random
from ..layers.base import FASTNN_CLASSES, normalize_shape
from ..layers.embedding import Embedding
from ..tensor import tensor as make_tensor
from . import convert, ops, recurrent, tracer
from .errors import ExportError
from .graph import DEFAULT_OPSET, MIN_OPSET, GraphBuilder, ValueSpec, first_difference, require_onnx, to_model

#: The batch sizes of the two traces (small: the trace runs the model).
TRACE_BATCHES = (2, 3)
BATCH = "batch"   # the name of the symbolic batch dimension


@dataclass
class _Build:
    builder: GraphBuilder
    trace: tracer.Trace
    dtypes: list


def export(model, path, input_shape=None, opset=None) -> Path:
    """Write ``model`` as an ONNX file at ``path`` and return the path.

    model: a ``fastnn.Sequential`` or ``fastnn.Model`` subclass (its ``call`` is traced,
        layer calls and the ops between them). Inputs and outputs get a symbolic batch
        axis "batch"; the other sizes are fixed. Weights are initializers in the model's
        dtype (float32 or float64). An input that feeds an Embedding is int64.
    path: where to write (str or path-like); written atomically, nothing on error.
    input_shape: the feature shape of the input without the batch axis, e.g. (1, 8, 8),
        or a list of them for a model taking a list of inputs. Needed only when the model
        was never built or called (or was built with unknown sizes, None).
    opset: the ONNX opset, 13 up to what the installed onnx knows; default 17.

    Raises ``ExportError`` (a ValueError) naming the layer (name and class) or op that has
    no ONNX form, or the part of ``call`` the graph cannot follow; ``ImportError`` when the
    onnx package is missing (``pip install onnx``).
    """
    model_class = FASTNN_CLASSES["Model"]
    if not isinstance(model, model_class):
        arguments._fail(TypeError, "export", "model", "a fastnn model (a Sequential or a Model subclass)", model)
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        arguments._fail(TypeError if not isinstance(path, (str, os.PathLike)) else ValueError, "export", "path",
                        "a file path (a non-empty str or path-like)", path)
    onnx = require_onnx()
    opset = _check_opset(opset, onnx.defs.onnx_opset_version())
    shapes, several = _input_shapes(model, input_shape)

    # A built model's export leaves fastnn's random stream as it was (a forward pass that draws
    # from it fails below anyway); an unbuilt one draws its weights, as any first call would.
    built = _fully_built(model)
    state = fnn_random.get_rng_state() if built else None
    try:
        dtypes = [None] * len(shapes)
        if not built:
            # This first call builds the model. Layers that building makes (a residual block's
            # projection) were not there to be hooked, so its graph is not the one kept.
            dtypes = _build(model, shapes, several, dtypes, TRACE_BATCHES[0], 0, opset).dtypes
        first = _build(model, shapes, several, dtypes, TRACE_BATCHES[0], 0, opset)
        second = _build(model, shapes, several, first.dtypes, TRACE_BATCHES[1], 1, opset)
    finally:
        if state is not None:
            fnn_random.set_rng_state(state)
    difference = first_difference(first.builder, second.builder)
    if difference is not None:
        raise ExportError(
            f"export: {difference}. The model's computation changed between a trace on a batch of "
            f"{TRACE_BATCHES[0]} and one on a batch of {TRACE_BATCHES[1]} (with other values), so one static "
            f"graph cannot hold it: a Python branch on tensor values, a tensor made from the batch size "
            f"(zeros(x.shape[0], ...)), values computed through NumPy, or a shape that depends on the batch "
            f"other than through the batch axis")

    inputs = [ValueSpec(name, dtype, (BATCH,) + shape)
              for name, dtype, shape in zip(_names("input", len(shapes)), first.dtypes, shapes)]
    outputs = [ValueSpec(name, t.dtype, _output_shape(i, t.shape, u.shape))
               for i, (name, t, u) in enumerate(zip(_names("output", len(first.trace.outputs)),
                                                     first.trace.outputs, second.trace.outputs))]
    proto = to_model(first.builder, inputs, outputs, model.name,
                     f"{model._label()}, exported by fastnn.onnx.export")
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as error:   # ValidationError, InferenceError: a fastnn.onnx bug, never the user's
        raise ExportError(f"export: the ONNX graph made for {model._label()} fails onnx.checker (a bug of "
                          f"fastnn.onnx, please report it): {error}") from error
    from .. import io   # safetensors and hashing: loaded on first use, as Model.save does

    io.write_atomically(path, proto.SerializeToString())
    return Path(os.fspath(path))


def _fully_built(model) -> bool:
    return all(layer.built for layer in model._walk())


def _check_opset(opset, newest: int) -> int:
    if opset is None:
        return DEFAULT_OPSET
    return arguments.integer(opset, "export", "opset", low=MIN_OPSET, high=newest)


def _input_shapes(model, input_shape):
    """The inputs' feature shapes (a list), and whether the model takes a list of inputs."""
    if input_shape is None:
        if not model.built or model.input_shape is None:
            raise ExportError(f"export: input_shape is needed: {model._label()} was never built or called, so the "
                              f"shape of its input is unknown; pass input_shape=, the feature shape without the "
                              f"batch axis, e.g. input_shape=(1, 8, 8)")
        declared, source = model.input_shape, "the model was built for inputs of feature shape"
    else:
        declared = normalize_shape(input_shape, "export", "input_shape")
        source = "input_shape is"
    several = isinstance(declared, list)
    shapes = [tuple(s) for s in (declared if several else [declared])]
    for shape in shapes:
        if any(size is None or size < 1 for size in shape):
            raise ExportError(f"export: {source} {declared}, with a size that is unknown (None) or 0; a graph "
                              f"fixes every size but the batch: pass input_shape= with every size known, "
                              f"without the batch axis")
    return shapes, several


def _names(base: str, count: int) -> list:
    return [base] if count == 1 else [f"{base}_{i}" for i in range(count)]


def _output_shape(index: int, first: tuple, second: tuple) -> tuple:
    """An output's ONNX shape from its shapes in the two traces: sizes that followed the
    batch size are the batch axis, the others must not move."""
    if len(first) != len(second):
        raise ExportError(f"export: output {index} has {len(first)} axes for a batch of {TRACE_BATCHES[0]} and "
                          f"{len(second)} for a batch of {TRACE_BATCHES[1]}")
    shape = []
    for a, b in zip(first, second):
        if a == b:
            shape.append(a)
        elif (a, b) == TRACE_BATCHES:
            shape.append(BATCH)
        else:
            raise ExportError(f"export: output {index} has shape {first} for a batch of {TRACE_BATCHES[0]} and "
                              f"{second} for a batch of {TRACE_BATCHES[1]}: only the batch axis may follow the "
                              f"batch size")
    return tuple(shape)


def _trace_inputs(model, shapes, dtypes, batch, seed):
    """Random inputs: normal floats in the model's dtype, or int64 ids every Embedding accepts."""
    rng = np.random.default_rng(seed)
    float_dtype = model._input_dtype()
    id_limit = min((layer.input_dim for layer in model._walk() if isinstance(layer, Embedding)), default=1)
    made = []
    for shape, dtype in zip(shapes, dtypes):
        if dtype is not None and np.dtype(dtype).kind == "i":
            made.append(make_tensor(rng.integers(0, id_limit, (batch,) + shape), dtype="int64",
                                    backend=model._backend))
        else:
            t = make_tensor(rng.standard_normal((batch,) + shape), dtype=float_dtype, backend=model._backend)
            t.requires_grad = True   # so that every op on it is recorded (see fastnn/onnx/tracer.py)
            made.append(t)
    return made


def _build(model, shapes, several, dtypes, batch, seed, opset) -> _Build:
    """Trace the model on a batch of ``batch`` and convert the trace."""
    dtypes = list(dtypes)
    while True:
        inputs = _trace_inputs(model, shapes, dtypes, batch, seed)
        try:
            trace = tracer.trace(model, inputs, several, recurrent.is_whole)
        except tracer.IntegerInputNeeded as need:
            if dtypes[need.index] is not None:   # cannot happen: ids are traced as ints once found
                raise
            dtypes[need.index] = np.dtype("int64")
            continue
        except ExportError:
            raise
        except Exception as error:
            shown = shapes if several else shapes[0]
            raise ExportError(f"export: {model._label()} failed on a batch of inputs of feature shape {shown}: "
                              f"{type(error).__name__}: {error}") from error
        break
    dtypes = [np.dtype(t.dtype) for t in inputs]
    if not trace.outputs:
        raise ExportError(f"export: {model._label()} returned no tensor")
    builder = GraphBuilder(opset)
    convert.build(trace, model, builder, _names("input", len(inputs)), _names("output", len(trace.outputs)),
                  ops.CONVERTERS, recurrent.converter_for)
    return _Build(builder, trace, dtypes)


__all__ = ["export"]
