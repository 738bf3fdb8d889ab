"""Converters for fastnn's ops: one function per ``Function`` class, ``CONVERTERS[cls]``.

Each takes the ``Context`` and the op's record (fastnn/onnx/tracer.py: the exact
arguments it ran with, its output tensors) and binds every output tensor to an ONNX value.
Dtypes follow fastnn's rules: an operand whose dtype differs from the op's output (an
integer tensor meeting a float one, a mean of integers) is cast first, and a Python number
becomes a constant of the output's dtype.

Shapes: the batch axis is the one axis whose size is not fixed. A reshape keeps it by
writing 0 ("copy this axis from the input") where the traced target kept the input's first
size; other sizes are written as traced. Slices keep their Python bounds (negative,
open-ended), so ``x[:-1]`` stays right for any length. Whatever still depends on the
traced batch size is caught by comparing two traces (fastnn/onnx/exporter.py).

Images are NCHW in fastnn and in ONNX's Conv and pooling; padding (top, bottom, left,
right) becomes ONNX's pads [top, left, bottom, right].
"""

from __future__ import annotations

import numpy as np

from .. import backend as backends
from ..ops import math as M
from ..ops.activations import Activation, LogSoftmax, Softmax
from ..ops.conv import Conv2D
from ..ops.dropout import Dropout
from ..ops.embedding import Embedding
from ..ops.linear import Linear
from ..ops.normalization import BatchNorm
from ..ops.pooling import AvgPool2D, MaxPool2D
from . import activations
from .convert import dtype_of, is_scalar
from .graph import INT64_MAX, INT64_MIN

CONVERTERS: dict = {}


def converts(*functions):
    """Register the decorated converter for the Function classes ``functions``."""
    def register(converter):
        for function in functions:
            CONVERTERS[function] = converter
        return converter
    return register


def _output(record, i=0):
    return record.outputs[i]


# -- arithmetic --------------------------------------------------------------------------
_BINARY = {M.Add: "Add", M.Sub: "Sub", M.Mul: "Mul", M.Div: "Div", M.Pow: "Pow", M.MatMul: "MatMul"}


@converts(*_BINARY)
def binary(context, record):
    """a + b, a - b, a * b, a / b, a ** b, a @ b: both operands in the output's dtype."""
    out = _output(record)
    a, b = (context.operand(v, out.dtype) for v in record.args)
    context.bind(out, context.node(_BINARY[record.function], [a, b]))


_UNARY = {M.Neg: "Neg", M.Exp: "Exp", M.Log: "Log", M.Sqrt: "Sqrt", M.Abs: "Abs"}


@converts(*_UNARY)
def unary(context, record):
    """-x, exp x, log x, sqrt x, |x|."""
    out = _output(record)
    context.bind(out, context.node(_UNARY[record.function], [context.operand(record.args[0], out.dtype)]))


@converts(M.Clip)
def clip(context, record):
    """clip(x, low, high) = min(max(x, low), high); a missing bound is left out."""
    args, out = context.arguments(), _output(record)
    bounds = ["" if args[k] is None else context.constant(args[k], out.dtype) for k in ("low", "high")]
    context.bind(out, context.node("Clip", [context.operand(args["x"], out.dtype), *bounds]))


@converts(M.Where)
def where(context, record):
    """where(condition, a, b): a where the condition holds, else b."""
    condition, a, b = record.args
    out = _output(record)
    condition_value = context.operand(condition, np.bool_) if not is_scalar(condition) else \
        context.constant(bool(condition), np.bool_)
    context.bind(out, context.node("Where", [condition_value, context.operand(a, out.dtype),
                                             context.operand(b, out.dtype)]))


_COMPARISONS = {"less": "Less", "less_equal": "LessOrEqual", "greater": "Greater",
                "greater_equal": "GreaterOrEqual", "equal": "Equal"}


@converts(M.Compare)
def compare(context, record):
    """a < b, a <= b, a > b, a >= b (and ==, != where used): a bool tensor."""
    args = context.arguments()
    a, b, ufunc = args["a"], args["b"], args["ufunc"]
    common = np.result_type(*(v if is_scalar(v) else dtype_of(v) for v in (a, b)))
    operands = [context.operand(a, common), context.operand(b, common)]
    if ufunc == "not_equal":
        value = context.node("Not", [context.node("Equal", operands)])
    elif ufunc in _COMPARISONS:
        value = context.node(_COMPARISONS[ufunc], operands)
    else:
        raise context.fail(f"the comparison {ufunc!r} has no ONNX mapping")
    context.bind(_output(record), value)


# -- reductions --------------------------------------------------------------------------
@converts(M.Sum, M.Mean, M.Extreme)
def reduction(context, record):
    """sum, mean, max and min over ``axis`` (None: all), keepdims as given."""
    args, out = context.arguments(), _output(record)
    if record.function is M.Extreme:
        op_type = "ReduceMax" if args["mode"] == "max" else "ReduceMin"
    else:
        op_type = "ReduceSum" if record.function is M.Sum else "ReduceMean"
    x = context.operand(args["x"], out.dtype)
    context.bind(out, context.builder.reduce(op_type, x, args["axis"], args["keepdims"]))


# -- shapes --------------------------------------------------------------------------------
@converts(M.Reshape)
def reshape(context, record):
    """The traced output shape, with 0 (copy the input's size) where the first axis kept its size."""
    x, out = record.args[0], _output(record)
    shape = list(out.shape)
    if x.ndim and shape and shape[0] == x.shape[0]:
        shape[0] = 0
    context.bind(out, context.node("Reshape", [context.value(x), context.builder.int64s(shape)]))


@converts(M.Transpose)
def transpose(context, record):
    """x.transpose(axes): the axes permuted (reversed without axes)."""
    args = context.arguments()
    ndim = args["x"].ndim
    axes = args["axes"]
    perm = list(range(ndim))[::-1] if axes is None else [int(a) % ndim for a in axes]
    context.bind(_output(record), context.node("Transpose", [context.value(args["x"])], perm=perm))


@converts(M.Stack)
def stack(context, record):
    """stack(tensors, axis): each gets a new axis, then they are joined along it."""
    args, out = context.arguments(), _output(record)
    axis = args["axis"] % out.ndim
    pieces = [context.builder.unsqueeze(context.value(t), [axis]) for t in args["arrays"]]
    context.bind(out, context.node("Concat", pieces, axis=axis))


@converts(M.Unstack)
def unstack(context, record):
    """unstack(x, axis): x split into its slices along the axis, the axis dropped."""
    args = context.arguments()
    x = args["x"]
    axis = args["axis"] % x.ndim
    pieces = context.builder.split(context.value(x), axis, [1] * x.shape[axis])
    for t, piece in zip(record.outputs, pieces):
        context.bind(t, context.builder.squeeze(piece, [axis]))


@converts(M.Concatenate)
def concatenate(context, record):
    """concatenate(tensors, axis): joined along an existing axis."""
    args, out = context.arguments(), _output(record)
    context.bind(out, context.node("Concat", [context.value(t) for t in args["arrays"]],
                                   axis=args["axis"] % out.ndim))


@converts(M.Cast)
def cast(context, record):
    """x.astype(dtype)."""
    out = _output(record)
    context.bind(out, context.cast(context.value(record.args[0]), out.dtype))


@converts(M.Move)
def move(context, record):
    """A copy to another backend: the identity in a graph."""
    context.bind(_output(record), context.node("Identity", [context.value(record.args[0])]))


@converts(M.GetItem)
def get_item(context, record):
    """x[index] for basic indexing (ints, slices, None, ...) and one integer index array:
    Slice for the slices, Gather for ints and the array, Unsqueeze for None."""
    args, out = context.arguments(), _output(record)
    x, index = args["x"], args["index"]
    items = list(index) if isinstance(index, tuple) else [index]
    items = [int(i) if isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_))
             else np.asarray(i) if isinstance(i, list) else i for i in items]
    arrays = [i for i in items if backends.is_array(i)]
    if any(a.dtype.kind not in "iu" for a in arrays) or len(arrays) > 1 or \
            any(isinstance(i, (bool, np.bool_)) for i in items):
        raise context.fail(f"indexing with {_describe_index(items)} has no ONNX mapping here; basic indexing "
                           f"(ints, slices, None, ...) and one integer index array have")
    if sum(i is Ellipsis for i in items) > 1:
        raise context.fail("an index can hold one Ellipsis (...)")
    consuming = sum(1 for i in items if i is not None and i is not Ellipsis)
    fill = [slice(None)] * (x.ndim - consuming)
    at = next((k for k, i in enumerate(items) if i is Ellipsis), None)
    if at is not None:
        items = items[:at] + fill + items[at + 1:]
    else:
        items = items + fill

    value = context.value(x)
    starts, ends, axes, steps = [], [], [], []
    gathers, new_axes = [], []
    axis = out_axis = 0
    for item in items:
        if item is None:
            new_axes.append(out_axis)
            out_axis += 1
            continue
        if isinstance(item, slice):
            step = 1 if item.step is None else int(item.step)
            if not (item.start is None and item.stop is None and step == 1):
                starts.append((0 if step > 0 else INT64_MAX) if item.start is None else int(item.start))
                ends.append((INT64_MAX if step > 0 else INT64_MIN) if item.stop is None else int(item.stop))
                axes.append(axis)
                steps.append(step)
            out_axis += 1
        else:   # an int (the axis goes) or an index array (its axes replace this one)
            gathers.append((axis, item))
            out_axis += 0 if isinstance(item, int) else item.ndim
        axis += 1
    if axes:
        builder = context.builder
        value = context.node("Slice", [value, builder.int64s(starts), builder.int64s(ends), builder.int64s(axes),
                                       builder.int64s(steps)])
    for axis, item in reversed(gathers):   # the last axis first: the earlier ones keep their numbers
        indices = context.constant(item, np.int64) if isinstance(item, int) else context.operand(item, np.int64)
        value = context.node("Gather", [value, indices], axis=axis)
    if new_axes:
        value = context.builder.unsqueeze(value, new_axes)
    if value == context.value(x):
        value = context.node("Identity", [value])
    context.bind(out, value)


def _describe_index(items) -> str:
    return "[" + ", ".join(f"an array of {i.dtype}" if backends.is_array(i) else repr(i) for i in items) + "]"


# -- activations ---------------------------------------------------------------------------
@converts(Activation)
def activation(context, record):
    """An element-wise activation (fastnn/onnx/activations.py)."""
    args, out = context.arguments(), _output(record)
    context.bind(out, activations.apply(context, context.value(args["x"]), args["name"], args["alpha"], out.dtype))


@converts(Softmax, LogSoftmax)
def softmax(context, record):
    """softmax / log_softmax along one axis."""
    args, out = context.arguments(), _output(record)
    op_type = "Softmax" if record.function is Softmax else "LogSoftmax"
    context.bind(out, context.node(op_type, [context.value(args["x"])], axis=int(args["axis"])))


# -- layers' ops ---------------------------------------------------------------------------
@converts(Linear)
def linear(context, record):
    """act(x W + b): Gemm for a 2-D x, MatMul (and Add) for more axes."""
    args, out = context.arguments(), _output(record)
    x, w, b = args["x"], args["w"], args["b"]
    inputs = [context.value(x), context.value(w)]
    if x.ndim == 2:
        value = context.node("Gemm", inputs + ([context.value(b)] if b is not None else []))
    else:
        value = context.node("MatMul", inputs)
        if b is not None:
            value = context.node("Add", [value, context.value(b)])
    context.bind(out, activations.apply(context, value, args["activation"], args["alpha"], out.dtype))


@converts(Conv2D)
def conv2d(context, record):
    """act(conv(x, W) + b), NCHW."""
    args, out = context.arguments(), _output(record)
    w, b = args["w"], args["b"]
    top, bottom, left, right = args["pad"]
    inputs = [context.value(args["x"]), context.value(w)] + ([context.value(b)] if b is not None else [])
    value = context.node("Conv", inputs, kernel_shape=list(w.shape[2:]), strides=list(args["stride"]),
                         pads=[top, left, bottom, right])
    context.bind(out, activations.apply(context, value, args["activation"], args["alpha"], out.dtype))


@converts(MaxPool2D, AvgPool2D)
def pool2d(context, record):
    """Max or average over windows; padding never wins a max, and counts in a mean only
    where fastnn counts it (count_include_pad)."""
    args, out = context.arguments(), _output(record)
    top, bottom, left, right = args["pad"]
    geometry = dict(kernel_shape=list(args["kernel"]), strides=list(args["stride"]), pads=[top, left, bottom, right])
    if record.function is MaxPool2D:
        value = context.node("MaxPool", [context.value(args["x"])], **geometry)
    else:
        value = context.node("AveragePool", [context.value(args["x"])],
                             count_include_pad=int(args["count_include_pad"]), **geometry)
    context.bind(out, value)


@converts(BatchNorm)
def batch_norm(context, record):
    """Inference batch norm: gamma (x - running_mean) / sqrt(running_var + eps) + beta."""
    args, out = context.arguments(), _output(record)
    if args["training"] or args["running_mean"] is None:
        raise context.fail("batch norm runs on batch statistics (training mode); only the inference form, "
                           "on the running statistics, has an ONNX form")
    channels = args["x"].shape[1]
    gamma = context.value(args["gamma"]) if args["gamma"] is not None else context.constant(np.ones(channels),
                                                                                             out.dtype)
    beta = context.value(args["beta"]) if args["beta"] is not None else context.constant(np.zeros(channels),
                                                                                          out.dtype)
    value = context.node("BatchNormalization", [context.value(args["x"]), gamma, beta,
                                                context.value(args["running_mean"]),
                                                context.value(args["running_var"])], epsilon=float(args["eps"]))
    context.bind(out, value)


@converts(Embedding)
def embedding(context, record):
    """Rows of the table picked by integer ids: Gather on axis 0."""
    args = context.arguments()
    ids = context.operand(args["indices"], np.int64)
    context.bind(_output(record), context.node("Gather", [context.value(args["weight"]), ids], axis=0))


@converts(Dropout)
def dropout(context, record):
    """Dropout is recorded only in training mode, which has no ONNX form here."""
    raise context.fail("dropout runs in training mode (training=True reached F.dropout); in inference it is "
                       "the identity and needs no op")


__all__ = ["CONVERTERS", "converts"]
