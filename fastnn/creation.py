"""Tensor constructors and n-ary ops: zeros, ones, rand, randn, stack, unstack, concatenate, where."""

from __future__ import annotations

import numpy as np

from . import backend as backends
from .ops import math as M
from .random import default_generator
from .tensor import Tensor, _check_dtype


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def _filled(shape, value, dtype, requires_grad, backend):
    b = backends.resolve(backend)
    t = Tensor._make(b.xp.full(_shape(shape), value, dtype=_check_dtype(dtype)), b)
    t.requires_grad = requires_grad
    return t


def zeros(*shape, dtype="float32", requires_grad=False, backend=None) -> Tensor:
    return _filled(shape, 0, dtype, requires_grad, backend)


def ones(*shape, dtype="float32", requires_grad=False, backend=None) -> Tensor:
    return _filled(shape, 1, dtype, requires_grad, backend)


def zeros_like(t: Tensor, requires_grad=False) -> Tensor:
    return zeros(t.shape, dtype=t.dtype, requires_grad=requires_grad, backend=t.backend)


def ones_like(t: Tensor, requires_grad=False) -> Tensor:
    return ones(t.shape, dtype=t.dtype, requires_grad=requires_grad, backend=t.backend)


def _drawn(values, requires_grad, backend):
    b = backends.resolve(backend)
    t = Tensor._make(b.xp.asarray(values), b)
    t.requires_grad = requires_grad
    return t


def rand(*shape, dtype="float32", requires_grad=False, backend=None) -> Tensor:
    """Uniform [0, 1) from fastnn's seeded Philox stream."""
    return _drawn(default_generator.uniform(_shape(shape), dtype=_check_dtype(dtype)), requires_grad, backend)


def randn(*shape, dtype="float32", requires_grad=False, backend=None) -> Tensor:
    """Standard normal from fastnn's seeded Philox stream."""
    return _drawn(default_generator.normal(_shape(shape), dtype=_check_dtype(dtype)), requires_grad, backend)


def stack(tensors, axis=0) -> Tensor:
    """Join same-shaped tensors along a new axis."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    return M.Stack.apply(*tensors, axis=axis)


def unstack(x: Tensor, axis=0) -> tuple:
    """The slices of x along ``axis``, as a tuple of tensors (torch.unbind); inverse of stack."""
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"unstack: axis {axis} is out of range for shape {x.shape}")
    if x.shape[axis] == 0:
        return ()
    return M.Unstack.apply(x, axis=axis)


def concatenate(tensors, axis=0) -> Tensor:
    """Join tensors along an existing axis."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("concatenate: needs at least one tensor")
    return M.Concatenate.apply(*tensors, axis=axis)


def where(condition, a, b) -> Tensor:
    """Elementwise a where condition holds, else b (differentiable in a and b)."""
    from .tensor import _operand

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
    _check_dtype(data.dtype)
    t = Tensor._make(data, target)
    t.requires_grad = requires_grad
    return t
