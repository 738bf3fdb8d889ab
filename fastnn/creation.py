"""Tensor constructors and n-ary ops: zeros, ones, rand, randn, stack, unstack, concatenate, where."""

from __future__ import annotations

import numpy as np

from . import arguments
from . import backend as backends
from .ops import math as M
from .random import default_generator
from .tensor import Tensor, _axis, _check_dtype, _operand

FLOAT32 = np.dtype("float32")


def _shape(shape, where):
    """The shape of a creation function: ints >= 0 given as ``f(2, 3)`` or ``f((2, 3))``.
    A float, a string or a negative size is an error (NumPy would truncate 2.5 to 2, and
    one creation function gave an empty tensor for -1 where another raised)."""
    if len(shape) == 1 and type(shape[0]) is not int:
        shape = shape[0] if type(shape[0]) is tuple or type(shape[0]) is list else shape
    for s in shape:             # ints >= 0: the usual case, checked without a call
        if type(s) is not int or s < 0:
            return arguments.shape(shape[0] if len(shape) == 1 else tuple(shape), where, "shape")
    return shape


def _flag(requires_grad, where):
    if requires_grad is not False and requires_grad is not True:
        requires_grad = arguments.boolean(requires_grad, where, "requires_grad")
    return requires_grad


def _filled(shape, value, dtype, requires_grad, backend, where):
    shape = _shape(shape, where)
    dtype = FLOAT32 if dtype is None else _check_dtype(dtype, where)
    if requires_grad is not False and requires_grad is not True:
        requires_grad = arguments.boolean(requires_grad, where, "requires_grad")
    if requires_grad and dtype.kind != "f":
        raise TypeError(f"{where}: requires_grad needs a floating dtype (only floating tensors can need "
                        f"gradients), got dtype {dtype}")
    b = backends.resolve(backend)
    t = Tensor._make(b.xp.full(shape, value, dtype=dtype), b)
    t._requires_grad = requires_grad
    return t


def zeros(*shape, dtype="float32", requires_grad=False, backend=None) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))`` (sizes are ints >= 0)."""
    return _filled(shape, 0, dtype, requires_grad, backend, "zeros")


def ones(*shape, dtype="float32", requires_grad=False, backend=None) -> Tensor:
    """A tensor of ones: ``ones(2, 3)`` or ``ones((2, 3))`` (sizes are ints >= 0)."""
    return _filled(shape, 1, dtype, requires_grad, backend, "ones")


def _like(t, where):
    if not isinstance(t, Tensor):
        arguments._fail(TypeError, where, "t", "a Tensor", t)
    return t


def zeros_like(t: Tensor, requires_grad=False) -> Tensor:
    _like(t, "zeros_like")
    return _filled((t.shape,), 0, t.dtype, requires_grad, t._backend, "zeros_like")


def ones_like(t: Tensor, requires_grad=False) -> Tensor:
    _like(t, "ones_like")
    return _filled((t.shape,), 1, t.dtype, requires_grad, t._backend, "ones_like")


def _drawn(draw, shape, dtype, requires_grad, backend, where):
    shape = _shape(shape, where)
    dtype = FLOAT32 if dtype is None else _check_dtype(dtype, where)
    if dtype.kind != "f":
        raise TypeError(f"{where}: dtype must be float32 or float64 (random draws are floats), got {dtype}")
    requires_grad = _flag(requires_grad, where)
    b = backends.resolve(backend)
    t = Tensor._make(b.xp.asarray(draw(shape, dtype=dtype)), b)
    t._requires_grad = requires_grad
    return t


def rand(*shape, dtype="float32", requires_grad=False, backend=None) -> Tensor:
    """Uniform [0, 1) from fastnn's seeded Philox stream."""
    return _drawn(default_generator.uniform, shape, dtype, requires_grad, backend, "rand")


def randn(*shape, dtype="float32", requires_grad=False, backend=None) -> Tensor:
    """Standard normal from fastnn's seeded Philox stream."""
    return _drawn(default_generator.normal, shape, dtype, requires_grad, backend, "randn")


def _tensors(tensors, where) -> list:
    """The tensors to join, from an iterable that is not a list or tuple (a generator)."""
    if isinstance(tensors, (Tensor, str, bytes)) or not hasattr(tensors, "__iter__"):
        arguments._fail(TypeError, where, "tensors", "a list or tuple of tensors", tensors)
    return list(tensors)


def _check_tensors(tensors, where):
    """The error for an empty ``tensors`` or for its first element that is not a Tensor
    (subclasses pass: then None). The ops check that the tensors share one dtype."""
    if not tensors:
        raise ValueError(f"{where}: tensors must hold at least one tensor, got an empty sequence")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            arguments._fail(TypeError, where, f"tensors[{i}]", "a Tensor", t)


def stack(tensors, axis=0) -> Tensor:
    """Join same-shaped tensors of one dtype along a new axis (``axis`` in [-ndim - 1, ndim])."""
    if type(tensors) is not list and type(tensors) is not tuple:
        tensors = _tensors(tensors, "stack")
    for t in tensors:           # Tensors: the usual case, checked without a call
        if type(t) is not Tensor:
            _check_tensors(tensors, "stack")
    if not tensors:
        _check_tensors(tensors, "stack")
    if type(axis) is not int:   # an int out of range: the op says so
        axis = _axis(axis, tensors[0].ndim + 1, "stack")
    return M.Stack.apply(*tensors, axis=axis)


def unstack(x: Tensor, axis=0) -> tuple:
    """The slices of x along ``axis``, as a tuple of tensors (torch.unbind); inverse of stack."""
    if not isinstance(x, Tensor):
        arguments._fail(TypeError, "unstack", "x", "a Tensor", x)
    axis = _axis(axis, x.ndim, "unstack")
    if x.shape[axis] == 0:
        return ()
    return M.Unstack.apply(x, axis=axis)


def concatenate(tensors, axis=0) -> Tensor:
    """Join tensors of one dtype along an existing axis."""
    if type(tensors) is not list and type(tensors) is not tuple:
        tensors = _tensors(tensors, "concatenate")
    for t in tensors:           # Tensors: the usual case, checked without a call
        if type(t) is not Tensor:
            _check_tensors(tensors, "concatenate")
    if not tensors:
        _check_tensors(tensors, "concatenate")
    if type(axis) is not int:   # an int out of range: the op says so
        ndim = tensors[0].ndim
        if ndim == 0:
            raise ValueError("concatenate: tensors must have at least 1 dimension, got 0-d tensors")
        axis = _axis(axis, ndim, "concatenate")
    return M.Concatenate.apply(*tensors, axis=axis)


def where(condition, a, b) -> Tensor:
    """Elementwise a where condition holds, else b (differentiable in a and b)."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        arguments._fail(TypeError, "where", "a", "a Tensor (a or b must be one)", a)
    like = a if isinstance(a, Tensor) else b
    cond = condition.data if isinstance(condition, Tensor) else like._backend.asarray(np.asarray(condition))
    if cond.dtype != bool:
        raise TypeError(f"where: condition must be boolean, got {cond.dtype}")
    return M.Where.apply(cond, _operand(a, like, "where"), _operand(b, like, "where"))


_DLPACK_CUDA = (2, 13)  # DLPack device types kDLCUDA and kDLCUDAManaged


def from_dlpack(obj, backend=None, requires_grad=False) -> Tensor:
    """A tensor sharing the memory of ``obj`` (a torch tensor, a cupy or numpy array, a fastnn
    tensor: anything with ``__dlpack__``), without a copy.

    CUDA memory becomes a ``gpu`` tensor; host memory a tensor on the current backend when
    that keeps its arrays on the host (numpy or cpu), else on ``cpu`` (or ``numpy`` where
    numba is missing). ``backend=`` names the backend instead; one on another device than
    the data receives a copy.
    """
    if not hasattr(obj, "__dlpack__"):
        arguments._fail(TypeError, "from_dlpack", "obj", "an object with __dlpack__ (a torch tensor, a cupy or "
                        "numpy array, a fastnn tensor)", obj)
    requires_grad = _flag(requires_grad, "from_dlpack")
    device_type = int(obj.__dlpack_device__()[0]) if hasattr(obj, "__dlpack_device__") else 1
    if device_type in _DLPACK_CUDA:
        import cupy

        data, home = cupy.from_dlpack(obj), backends.get("gpu")
    else:
        data, home = np.from_dlpack(obj), backends.current()
        if not home.host_memory:
            home = backends.get("cpu" if "cpu" in backends.available_backends() else "numpy")
    target = home if backend is None else backends.resolve(backend)
    if target.host_memory != home.host_memory:
        from .tensor import tensor

        return tensor(data, dtype=data.dtype, requires_grad=requires_grad, backend=target.name)
    _check_dtype(data.dtype, "from_dlpack", "obj dtype")
    t = Tensor._make(data, target)
    t.requires_grad = requires_grad
    return t
