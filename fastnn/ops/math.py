"""Tensor arithmetic, shape ops and reductions, each a differentiable Function.

These general-purpose ops run through the backend's array module (NumPy or
CuPy) rather than named kernels: they are the glue between the fused kernels
of ``fastnn/ops`` (linear, conv, ...), where the time goes.

Gradients (g = dL/dy), with broadcasting undone by summing over the
broadcast axes (``unbroadcast``):
  y = a + b: da = g, db = g          y = a - b: da = g, db = -g
  y = a * b: da = g b, db = g a      y = a / b: da = g / b, db = -g a / b^2
  y = a ** b: da = g b a^(b-1), db = g y log a
  y = a @ b: da = g b^T, db = a^T g  (batched over leading axes)
  y = exp x: dx = g y   y = log x: dx = g / x   y = sqrt x: dx = g / (2 y)
  y = |x|: dx = g sign(x)   y = clip(x, lo, hi): dx = g [lo <= x <= hi]
  y = sum x: dx = broadcast g   y = mean x: dx = broadcast g / n
  y = max x: dx = g shared equally among the maximal entries
"""

from __future__ import annotations

import numpy as np

from .. import arguments
from ..function import Function


def unbroadcast(xp, g, shape):
    """Sum g over the axes along which an input of ``shape`` was broadcast."""
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if stretched:
        g = g.sum(axis=stretched, keepdims=True)
    return g.reshape(shape)


def _check_broadcast(op, a, b):
    sa, sb = np.shape(a), np.shape(b)
    try:
        np.broadcast_shapes(sa, sb)
    except ValueError:
        raise ValueError(f"{op}: shapes {sa} and {sb} do not broadcast together") from None


def _float_operands(a, b):
    """An integer or boolean array meeting a floating one takes the floating dtype, and
    meeting a Python float it becomes float32, the default (both as in PyTorch): NumPy
    alone would give float64 in both cases."""
    ka, kb = (getattr(getattr(v, "dtype", None), "kind", None) for v in (a, b))
    if ka == "f" and kb in ("i", "u", "b"):
        return a, b.astype(a.dtype)
    if kb == "f" and ka in ("i", "u", "b"):
        return a.astype(b.dtype), b
    if ka in ("i", "u", "b") and isinstance(b, float):
        return a.astype(np.float32), b
    if kb in ("i", "u", "b") and isinstance(a, float):
        return a, b.astype(np.float32)
    return a, b


class _Binary(Function):
    op_name = "op"

    def forward(self, a, b):
        shapes = (getattr(a, "shape", ()), getattr(b, "shape", ()))   # () for a Python number
        if shapes[0] != shapes[1]:                  # equal shapes (the usual case) broadcast
            _check_broadcast(self.op_name, a, b)
        if getattr(a, "dtype", None) != getattr(b, "dtype", None):   # equal dtypes need no promotion
            a, b = _float_operands(a, b)
        self.shapes = shapes
        return self.compute(a, b)

    def grads(self, g):
        raise NotImplementedError

    def backward(self, g):
        ga, gb = self.grads(g)
        xp = self.xp
        return (
            unbroadcast(xp, ga, self.shapes[0]) if self.needs_input_grad[0] and ga is not None else None,
            unbroadcast(xp, gb, self.shapes[1]) if self.needs_input_grad[1] and gb is not None else None,
        )


class Add(_Binary):
    op_name = "add"

    def compute(self, a, b):
        return a + b

    def grads(self, g):
        return g, g


class Sub(_Binary):
    op_name = "subtract"

    def compute(self, a, b):
        return a - b

    def grads(self, g):
        return g, -g


class Mul(_Binary):
    op_name = "multiply"

    def compute(self, a, b):
        self.a, self.b = a, b
        return a * b

    def grads(self, g):
        return (g * self.b if self.needs_input_grad[0] else None,
                g * self.a if self.needs_input_grad[1] else None)


class Div(_Binary):
    op_name = "divide"

    def compute(self, a, b):
        self.a, self.b = a, b
        return a / b

    def grads(self, g):
        ga = g / self.b if self.needs_input_grad[0] else None
        gb = -g * self.a / (self.b * self.b) if self.needs_input_grad[1] else None
        return ga, gb


class Pow(_Binary):
    op_name = "power"

    def compute(self, a, b):
        self.a, self.b = a, b
        self.y = a**b
        return self.y

    def grads(self, g):
        xp = self.xp
        ga = g * self.b * self.a ** (self.b - 1) if self.needs_input_grad[0] else None
        gb = g * self.y * xp.log(self.a) if self.needs_input_grad[1] else None
        return ga, gb


class MatMul(Function):
    """Matrix product with NumPy's rules: 1-D operands are promoted, leading axes broadcast."""

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul: operands must have at least 1 dimension; use * for scalars")
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align "
                             f"({a.shape[-1]} != {b.shape[-2 if b.ndim > 1 else 0]})")
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} have batch dimensions "
                             f"{a.shape[:-2]} and {b.shape[:-2]} that do not broadcast together") from None
        a, b = _float_operands(a, b)
        self.a, self.b = a, b
        return a @ b

    def backward(self, g):
        xp = self.xp
        a, b = self.a, self.b
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if b.ndim == 1:  # first: when both are 1-D, g is 0-d and becomes (1,) then (1, 1)
            g2 = xp.expand_dims(g2, -1)
        if a.ndim == 1:
            g2 = xp.expand_dims(g2, -2)
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = unbroadcast(xp, g2 @ xp.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            gb = unbroadcast(xp, xp.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(b.shape)
        return ga, gb


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, g):
        return (-g,)


class Exp(Function):
    def forward(self, x):
        self.y = self.xp.exp(x)
        return self.y

    def backward(self, g):
        return (g * self.y,)


class Log(Function):
    def forward(self, x):
        self.x = x
        return self.xp.log(x)

    def backward(self, g):
        return (g / self.x,)


class Sqrt(Function):
    def forward(self, x):
        self.y = self.xp.sqrt(x)
        return self.y

    def backward(self, g):
        return (g / (2 * self.y),)


class Abs(Function):
    def forward(self, x):
        self.x = x
        return self.xp.abs(x)

    def backward(self, g):
        return (g * self.xp.sign(self.x),)


class Clip(Function):
    def forward(self, x, low=None, high=None):
        if low is None and high is None:
            raise ValueError("clip: give at least one of min and max")
        self.x, self.low, self.high = x, low, high
        return self.xp.clip(x, low, high)

    def backward(self, g):
        inside = self.xp.ones(self.x.shape, dtype=bool)
        if self.low is not None:
            inside &= self.x >= self.low
        if self.high is not None:
            inside &= self.x <= self.high
        return (g * inside,)


class Where(Function):
    def forward(self, condition, a, b):
        self.condition = condition
        self.shapes = (np.shape(a), np.shape(b))
        return self.xp.where(condition, a, b)

    def backward(self, g):
        xp = self.xp
        zero = xp.zeros((), dtype=g.dtype)
        ga = unbroadcast(xp, xp.where(self.condition, g, zero), self.shapes[0]) if self.needs_input_grad[1] else None
        gb = unbroadcast(xp, xp.where(self.condition, zero, g), self.shapes[1]) if self.needs_input_grad[2] else None
        return None, ga, gb


def _expand_reduced(xp, g, shape, axis, keepdims):
    """Reshape a reduced gradient so it broadcasts against the input shape."""
    if axis is None:
        return g.reshape((1,) * len(shape))
    if not keepdims:
        g = xp.expand_dims(g, axis)
    return g


class Sum(Function):
    def forward(self, x, axis=None, keepdims=False):
        self.shape, self.axis, self.keepdims = x.shape, axis, keepdims
        return self.xp.asarray(x.sum(axis=axis, keepdims=keepdims))

    def backward(self, g):
        xp = self.xp
        return (xp.broadcast_to(_expand_reduced(xp, g, self.shape, self.axis, self.keepdims), self.shape).copy(),)


class Mean(Sum):
    def forward(self, x, axis=None, keepdims=False):
        out = super().forward(x, axis, keepdims)
        self.count = x.size if axis is None else int(np.prod([x.shape[a] for a in axis]))
        if self.count == 0:
            raise ValueError(f"mean: cannot average over an empty axis (shape {x.shape})")
        # integer and boolean tensors average to float64 (as NumPy), never to a truncated int
        return self.xp.asarray(out / self.count, dtype=x.dtype if x.dtype.kind == "f" else np.float64)

    def backward(self, g):
        return (super().backward(g)[0] / self.count,)


class Extreme(Function):
    """max / min over axes; ties share the gradient equally (as torch.amax)."""

    def forward(self, x, axis=None, keepdims=False, mode="max"):
        if x.size == 0:
            raise ValueError(f"{mode}: empty tensor (shape {x.shape})")
        self.x, self.axis, self.keepdims = x, axis, keepdims
        reduce = x.max if mode == "max" else x.min
        self.kept = reduce(axis=axis, keepdims=True)
        return self.xp.asarray(reduce(axis=axis, keepdims=keepdims))

    def backward(self, g):
        xp = self.xp
        hit = (self.x == self.kept).astype(g.dtype)
        share = hit / hit.sum(axis=self.axis, keepdims=True)
        return (share * _expand_reduced(xp, g, self.x.shape, self.axis, self.keepdims),)


class Reshape(Function):
    def forward(self, x, shape):
        self.shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            if shape.count(-1) > 1:
                arguments.shape(shape, "Tensor.reshape", "shape", allow_infer=True)   # raises
            raise ValueError(f"Tensor.reshape: shape must hold the {x.size} elements of a tensor of shape "
                             f"{tuple(x.shape)}, got {shape}") from None

    def backward(self, g):
        return (g.reshape(self.shape),)


def _transpose_axes(axes, ndim):
    """``axes`` of Tensor.transpose as non-negative ints, or the error: a TypeError for a
    float, a bool or a string, a ValueError for anything but a permutation of the axes."""
    if not all(arguments.is_int(a) for a in axes):
        arguments._fail(TypeError, "Tensor.transpose", "axes", "ints, a permutation of the axes", axes)
    normal = [int(a) % ndim if -ndim <= a < ndim else ndim for a in axes]
    if sorted(normal) != list(range(ndim)):
        arguments._fail(ValueError, "Tensor.transpose", "axes", f"a permutation of the {ndim} axes", axes)
    return tuple(normal)


class Transpose(Function):
    def forward(self, x, axes=None):
        if axes is not None:
            # non-negative ints in order (the usual case) pass the first test; NumPy refuses
            # floats and bools that would pass it; anything else goes to the full check
            try:
                in_order = sorted(axes) == list(range(x.ndim))
            except TypeError:   # a string among ints
                in_order = False
            if not in_order:
                axes = _transpose_axes(axes, x.ndim)
            try:
                y = x.transpose(axes)
            except TypeError:
                _transpose_axes(axes, x.ndim)   # raises for a float or a bool
                raise
        else:
            y = x.transpose()
        self.axes = axes
        return y

    def backward(self, g):
        if self.axes is None:
            return (g.transpose(),)
        return (g.transpose(np.argsort([a % g.ndim for a in self.axes])),)


def _is_basic_index(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer)) for i in items)


class GetItem(Function):
    def forward(self, x, index):
        self.shape, self.index, self.dtype = x.shape, index, x.dtype
        try:
            return x[index]
        except IndexError as exc:
            raise IndexError(f"indexing a tensor of shape {x.shape}: {exc}") from None

    def backward(self, g):
        full = self.xp.zeros(self.shape, dtype=g.dtype)
        if _is_basic_index(self.index):
            full[self.index] += g  # basic indexing never repeats an element
        else:
            self.backend.add_at(full, self.index, g)
        return (full,)


class Stack(Function):
    def forward(self, *arrays, axis=0):
        _same_shapes("stack", arrays)
        try:
            out = self.xp.stack(arrays, axis=axis)
        except ValueError:      # NumPy's AxisError
            ndim = arrays[0].ndim + 1
            raise ValueError(f"stack: axis must be an int in [{-ndim}, {ndim - 1}], got {axis}") from None
        self.axis = axis % out.ndim
        return out

    def backward(self, g):
        xp = self.xp
        return tuple(xp.take(g, i, axis=self.axis) if need else None
                     for i, need in enumerate(self.needs_input_grad))


class Unstack(Function):
    """Split along ``axis`` into its slices (the inverse of stack); one op, so the backward
    pass writes each slice's gradient once instead of one full-size array per slice."""

    def forward(self, x, axis=0):
        self.axis, self.shape = axis % x.ndim, x.shape
        xp = self.xp
        return tuple(xp.ascontiguousarray(xp.take(x, i, axis=self.axis)) for i in range(x.shape[self.axis]))

    def backward(self, *grads):
        xp = self.xp
        full = xp.zeros(self.shape, dtype=next(g for g in grads if g is not None).dtype)
        slices = xp.moveaxis(full, self.axis, 0)  # a view: slices[i] is slice i of full
        for i, g in enumerate(grads):
            if g is not None:
                slices[i] = g
        return (full,)


class Concatenate(Function):
    def forward(self, *arrays, axis=0):
        dtype = arrays[0].dtype
        for a in arrays:
            if a.dtype is not dtype:
                _same_dtypes("concatenate", arrays)
        try:
            out = self.xp.concatenate(arrays, axis=axis)
        except ValueError:
            ndim = arrays[0].ndim
            if ndim == 0:
                raise ValueError("concatenate: tensors must have at least 1 dimension, got 0-d tensors") from None
            if not -ndim <= axis < ndim:    # NumPy's AxisError
                raise ValueError(f"concatenate: axis must be an int in [{-ndim}, {ndim - 1}], got {axis}") from None
            raise ValueError(f"concatenate: shapes {[tuple(a.shape) for a in arrays]} do not match "
                             f"outside axis {axis}") from None
        self.axis = axis % out.ndim
        if True in self.needs_input_grad:   # where backward splits the gradient (in Python: np.cumsum
            ax, end, bounds = self.axis, 0, []   # of a short list costs more than the concatenation)
            for a in arrays[:-1]:
                end += a.shape[ax]
                bounds.append(end)
            self.bounds = bounds
        return out

    def backward(self, g):
        pieces = self.xp.split(g, self.bounds, axis=self.axis)
        return tuple(p if need else None for p, need in zip(pieces, self.needs_input_grad))


def _same_shapes(op, arrays):
    """Arrays to stack share one shape and one dtype."""
    shape, dtype = arrays[0].shape, arrays[0].dtype
    for a in arrays:
        if a.shape != shape:
            raise ValueError(f"{op}: all tensors need the same shape, got {[tuple(a.shape) for a in arrays]}")
        if a.dtype is not dtype:
            _same_dtypes(op, arrays)


def _same_dtypes(op, arrays):
    """Tensors joined must share one dtype: NumPy would promote them silently (float32 and
    float64 to float64, int64 and float32 to float64). None where the dtypes only look
    different (equal dtypes that are distinct objects)."""
    dtype = arrays[0].dtype
    for i, a in enumerate(arrays):
        if a.dtype != dtype:
            raise TypeError(f"{op}: tensors must share one dtype, got {dtype} (tensors[0]) and {a.dtype} "
                            f"(tensors[{i}]); convert one with .astype()")


class Cast(Function):
    def forward(self, x, dtype):
        self.source = x.dtype
        return x.astype(dtype)

    def backward(self, g):
        return (g.astype(self.source),)


class Move(Function):
    """Copy to another backend; the gradient is copied back."""

    def forward(self, x, target):
        self.source = self.backend
        self.backend = target  # the result lives on the target
        return target.xp.asarray(self.source.to_numpy(x)) if target is not self.source else x.copy()

    def backward(self, g):
        return (self.source.xp.asarray(self.backend.to_numpy(g)),)

    @classmethod
    def apply(cls, x, target):
        out = super().apply(x, target=target)
        out._backend = target
        if out._node is not None:
            out._node.xp = target.xp
        return out


class Compare(Function):
    differentiable = False

    def forward(self, a, b, ufunc):
        return getattr(self.xp, ufunc)(a, b)

