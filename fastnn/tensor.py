"""Tensor and define-by-run autograd.

Every op on tensors that need a gradient records a node (a ``Function``) on the
result: the graph is the tape, built as the program runs. ``loss.backward()``
orders the nodes topologically from the loss back to the leaves and applies the
chain rule once per node:

    dL/dinput = sum over uses of  backward(node)(dL/doutput)

Gradients of leaves (tensors made by the user or layers with
``requires_grad=True``) accumulate in ``.grad`` across calls until zeroed.
Intermediate gradients are kept only for tensors marked ``retain_grad()``.
"""

from __future__ import annotations

import numpy as np

from . import arguments
from . import backend as backends
from .function import register_tensor_class
from .grad_mode import is_grad_enabled, no_grad
from .ops.checks import run_deferred_checks

FLOAT_DTYPES = (np.dtype("float32"), np.dtype("float64"))

#: ``FLAG_CHANGES[0]``: how many times a training flag changed in this process, a tensor's
#: ``requires_grad`` (by hand, by ``requires_grad_`` or by freezing a layer) or a layer's
#: ``trainable`` (fastnn/layers/base.py counts those here too). fit compares it once a step
#: with the count it planned at and plans again (its direct step; what data-parallel fit
#: reduces and averages), so a callback that freezes a layer or a weight acts from the next
#: step. A one-item list, so that modules importing it see every change (an int attribute of
#: Tensor would do, but setting a class attribute costs a type-cache flush).
FLAG_CHANGES = [0]


def _default_dtype(raw, data) -> np.dtype:
    """float32 for Python floats and lists; an array keeps its dtype (as torch.tensor does)."""
    if data.dtype.kind == "f":
        if not hasattr(raw, "dtype") and data.dtype == np.float64:
            return np.dtype("float32")
        return data.dtype
    if data.dtype.kind in "iu":
        return np.dtype("int64")
    if data.dtype.kind == "b":
        return np.dtype("bool")
    if data.dtype.kind == "O" and data.size and all(arguments.is_int(v) for v in data.reshape(-1)):
        # Python ints beyond 64 bits: say which one does not fit (int64, the default)
        arguments.fits_integer_dtype(data, np.int64, "tensor", "data")
    raise TypeError(f"tensor: data must be numbers or arrays of floats, ints or bools, "
                    f"got an array of dtype {data.dtype}")


#: dtype arguments already checked (as given: a name, a NumPy type or a dtype) -> their dtype
_CHECKED_DTYPES: dict = {}


def _check_dtype(dtype, where="tensor", name="dtype") -> np.dtype:
    """``dtype`` as a np.dtype: float32, float64, an integer type or bool; a TypeError
    naming ``where`` and ``name`` for anything else (float16, complex, a bad name, None)."""
    try:
        return _CHECKED_DTYPES[dtype]
    except (KeyError, TypeError):   # not seen yet, or unhashable
        pass
    try:
        checked = None if dtype is None else np.dtype(dtype)
    except (TypeError, ValueError):
        checked = None
    if checked is None or checked.kind not in "fiub" or (checked.kind == "f" and checked not in FLOAT_DTYPES):
        arguments._fail(TypeError, where, name, "float32 or float64, an integer type or bool",
                        dtype if checked is None else str(checked))
    if len(_CHECKED_DTYPES) < 256:
        try:
            _CHECKED_DTYPES[dtype] = checked
        except TypeError:
            pass
    return checked


class Tensor:
    """An n-dimensional array on one backend, with autograd."""

    __array_priority__ = 1000  # numpy scalars/arrays on the left defer to Tensor operators

    def __init__(self, data, dtype=None, requires_grad=False, backend=None):
        made = tensor(data, dtype=dtype, requires_grad=requires_grad, backend=backend)
        self.__dict__.update(made.__dict__)

    @classmethod
    def _make(cls, data, backend, requires_grad=False):
        """Wrap an array of ``backend`` without copying (internal fast path)."""
        t = cls.__new__(cls)
        if isinstance(data, np.generic):
            # NumPy ufuncs return a scalar, not a 0-d array, for 0-d inputs; a tensor always
            # holds an array (flags, in-place updates and the kernels' contract rely on it).
            data = np.asarray(data)
        t.data = data
        t._backend = backend
        t._requires_grad = requires_grad
        t.grad = None
        t._node = None
        t._retain = False
        t.name = None
        return t

    # -- properties ----------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return tuple(self.data.shape)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.data.dtype)

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return int(self.data.size)

    @property
    def backend(self) -> str:
        return self._backend.name

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool):
        if flag is not False and flag is not True:
            flag = arguments.boolean(flag, "Tensor.requires_grad", "requires_grad")
        if flag and self.dtype.kind != "f":
            raise TypeError(f"requires_grad: only floating tensors can need gradients, this one is {self.dtype}")
        if not flag and self._node is not None:
            raise ValueError("requires_grad: cannot switch off on a non-leaf tensor; use .detach()")
        if flag != self._requires_grad:
            FLAG_CHANGES[0] += 1   # fit plans its step again
            self._requires_grad = bool(flag)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set ``requires_grad`` in place and return this tensor (PyTorch's spelling), so
        ``w = fnn.randn(3, 3).requires_grad_()`` reads as one expression. The rules are the
        attribute's: a bool (a TypeError otherwise), True only on a floating tensor (a
        TypeError on integer or bool data), and False only on a leaf (a ValueError on a
        tensor an op produced while recording; ``detach()`` gives one cut from the graph)."""
        if requires_grad is not False and requires_grad is not True:
            requires_grad = arguments.boolean(requires_grad, "Tensor.requires_grad_", "requires_grad")
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(")
        return f"tensor({body}, dtype={self.dtype}, backend={self.backend!r}{grad})"

    def __array__(self, dtype=None, copy=None):
        if not self._backend.host_memory:
            raise TypeError("a gpu tensor does not convert implicitly to numpy; call .numpy() to copy it to the host")
        return self.data if dtype is None else self.data.astype(dtype)

    def __dlpack__(self, **kwargs):
        """DLPack capsule of the data, zero-copy (``torch.from_dlpack(t)``, ``cupy.from_dlpack(t)``,
        ``numpy.from_dlpack(t)``); keywords (stream, max_version, ...) go to the array's own."""
        return self.data.__dlpack__(**{k: v for k, v in kwargs.items() if v is not None})

    def __dlpack_device__(self):
        return self.data.__dlpack_device__()

    def __bool__(self):
        if self.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.item())

    # -- conversions ---------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """A host numpy copy of the data, on any backend."""
        host = self._backend.to_numpy(self.data)
        run_deferred_checks()  # checks a kernel recorded on the device (ops/checks.py)
        return np.array(host, copy=True)

    def item(self):
        if self.size != 1:
            raise ValueError(f"item(): only one-element tensors convert to a Python number, shape is {self.shape}")
        return self.numpy().reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def detach(self) -> "Tensor":
        """The same data, cut from the graph."""
        return Tensor._make(self.data, self._backend, requires_grad=False)

    def to(self, backend: str) -> "Tensor":
        """This tensor on another backend (differentiable: gradients move back)."""
        return M.Move.apply(self, target=backends.get(backend))

    def astype(self, dtype) -> "Tensor":
        dtype = _check_dtype(dtype, "Tensor.astype")
        if dtype == self.dtype:
            return self
        return M.Cast.apply(self, dtype=dtype)

    def float(self) -> "Tensor":
        return self.astype("float32")

    def double(self) -> "Tensor":
        return self.astype("float64")

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this intermediate tensor after backward."""
        self._retain = True

    def zero_grad(self) -> None:
        self.grad = None

    # -- autograd ------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=False) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that needs it.

        ``gradient`` is dL/d(self); it may be omitted for a one-element tensor (then 1).
        """
        if not self.requires_grad:
            raise RuntimeError("backward(): this tensor does not require grad (no input of it has requires_grad=True)")
        xp = self._backend.xp
        if gradient is None:
            if self.size != 1:
                raise ValueError(
                    f"backward(): a gradient argument is needed for a non-scalar output of shape {self.shape}"
                )
            seed = xp.ones(self.shape, dtype=self.dtype)
        else:
            seed = gradient.data if isinstance(gradient, Tensor) else xp.asarray(gradient, dtype=self.dtype)
            if tuple(seed.shape) != self.shape:
                raise ValueError(f"backward(): gradient has shape {tuple(seed.shape)}, expected {self.shape}")
        _run_backward(self, seed, retain_graph)

    # -- operators -----------------------------------------------------------
    def __add__(self, other):
        if type(other) is Tensor and _plain_pair(self, other):
            return Tensor._make(self.data + other.data, self._backend)
        return M.Add.apply(self, _operand(other, self, "+"))

    def __radd__(self, other):
        return M.Add.apply(_operand(other, self, "+"), self)

    def __sub__(self, other):
        if type(other) is Tensor and _plain_pair(self, other):
            return Tensor._make(self.data - other.data, self._backend)
        return M.Sub.apply(self, _operand(other, self, "-"))

    def __rsub__(self, other):
        return M.Sub.apply(_operand(other, self, "-"), self)

    def __mul__(self, other):
        if type(other) is Tensor and _plain_pair(self, other):
            return Tensor._make(self.data * other.data, self._backend)
        return M.Mul.apply(self, _operand(other, self, "*"))

    def __rmul__(self, other):
        return M.Mul.apply(_operand(other, self, "*"), self)

    def __truediv__(self, other):
        if type(other) is Tensor and _plain_pair(self, other):
            return Tensor._make(self.data / other.data, self._backend)
        return M.Div.apply(self, _operand(other, self, "/"))

    def __rtruediv__(self, other):
        return M.Div.apply(_operand(other, self, "/"), self)

    def __pow__(self, other):
        return M.Pow.apply(self, _operand(other, self, "**"))

    def __rpow__(self, other):
        return M.Pow.apply(_operand(other, self, "**"), self)

    def __matmul__(self, other):
        return M.MatMul.apply(self, _operand(other, self, "@", scalars=False))

    def __rmatmul__(self, other):
        return M.MatMul.apply(_operand(other, self, "@", scalars=False), self)

    def __neg__(self):
        return M.Neg.apply(self)

    def __pos__(self):
        return self

    def __getitem__(self, index):
        return M.GetItem.apply(self, index=_index_arrays(index, self))

    # Comparisons give boolean tensors without gradient.
    def __lt__(self, other):
        return M.Compare.apply(self, _operand(other, self, "less"), ufunc="less")

    def __le__(self, other):
        return M.Compare.apply(self, _operand(other, self, "less_equal"), ufunc="less_equal")

    def __gt__(self, other):
        return M.Compare.apply(self, _operand(other, self, "greater"), ufunc="greater")

    def __ge__(self, other):
        return M.Compare.apply(self, _operand(other, self, "greater_equal"), ufunc="greater_equal")

    __hash__ = object.__hash__

    # -- shape -----------------------------------------------------------------
    def reshape(self, *shape):
        if len(shape) == 1 and type(shape[0]) is not int:
            shape = shape[0]        # reshape((2, 3)) or reshape([2, 3]); anything else fails below
        if type(shape) is not tuple:
            shape = tuple(shape) if type(shape) is list else (shape,)
        for s in shape:             # ints >= -1: the usual case, checked without a call
            if type(s) is not int or s < -1:
                shape = arguments.shape(shape, "Tensor.reshape", "shape", allow_infer=True)
                break
        return M.Reshape.apply(self, shape=shape)

    def flatten(self, start_axis=0):
        if type(start_axis) is not int or not -self.ndim <= start_axis <= self.ndim:
            start_axis = arguments.integer(start_axis, "Tensor.flatten", "start_axis", -self.ndim, self.ndim)
        return self.reshape(self.shape[:start_axis] + (-1,))

    def transpose(self, *axes):
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        return M.Transpose.apply(self, axes=tuple(axes) if axes else None)   # the op checks the axes

    @property
    def T(self):
        return self.transpose()

    # -- reductions --------------------------------------------------------------
    def sum(self, axis=None, keepdims=False):
        if keepdims is not False and keepdims is not True:
            keepdims = arguments.boolean(keepdims, "Tensor.sum", "keepdims")
        return M.Sum.apply(self, axis=_axes(axis, self.ndim, "Tensor.sum"), keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        if keepdims is not False and keepdims is not True:
            keepdims = arguments.boolean(keepdims, "Tensor.mean", "keepdims")
        return M.Mean.apply(self, axis=_axes(axis, self.ndim, "Tensor.mean"), keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        if keepdims is not False and keepdims is not True:
            keepdims = arguments.boolean(keepdims, "Tensor.max", "keepdims")
        return M.Extreme.apply(self, axis=_axes(axis, self.ndim, "Tensor.max"), keepdims=keepdims, mode="max")

    def min(self, axis=None, keepdims=False):
        if keepdims is not False and keepdims is not True:
            keepdims = arguments.boolean(keepdims, "Tensor.min", "keepdims")
        return M.Extreme.apply(self, axis=_axes(axis, self.ndim, "Tensor.min"), keepdims=keepdims, mode="min")

    def argmax(self, axis=None):
        if axis is not None and type(axis) is not int:
            axis = _axis(axis, self.ndim, "Tensor.argmax")
        try:
            return Tensor._make(self.data.argmax(axis=axis), self._backend)
        except ValueError:          # an axis out of range (AxisError), or an empty tensor
            if axis is not None:
                axis = _axis(axis, self.ndim, "Tensor.argmax")
            raise ValueError(f"Tensor.argmax: {'the tensor' if axis is None else f'axis {axis}'} must not be "
                             f"empty, got a tensor of shape {self.shape}") from None

    # -- elementwise math ------------------------------------------------------
    def exp(self):
        return M.Exp.apply(self)

    def log(self):
        return M.Log.apply(self)

    def sqrt(self):
        return M.Sqrt.apply(self)

    def abs(self):
        return M.Abs.apply(self)

    def clip(self, min=None, max=None):
        low, high = min, max
        for name, bound in (("min", low), ("max", high)):
            if bound is not None and (not arguments.is_real(bound) or bound != bound):
                arguments._fail(TypeError if not arguments.is_real(bound) else ValueError, "Tensor.clip", name,
                                "a number (not NaN) or None", bound)
        if low is not None and high is not None and low > high:
            raise ValueError(f"Tensor.clip: min must be <= max, got min={low!r} and max={high!r}")
        return M.Clip.apply(self, low=low, high=high)


def _axes(axis, ndim, where):
    """An axis argument as a sorted tuple of non-negative axes (or None); a TypeError or
    ValueError naming ``where`` for a float, a string, an axis out of range or a repeat."""
    if axis is None:
        return None
    if type(axis) is int and -ndim <= axis < ndim:
        return (axis % ndim,)
    return arguments.axes(axis, ndim, where)


def _axis(axis, ndim, where, name="axis"):
    """One axis of an ndim-dimensional tensor, as a non-negative int."""
    if type(axis) is int and -ndim <= axis < ndim:
        return axis % ndim
    if not arguments.is_int(axis):
        arguments._fail(TypeError, where, name, "an int", axis)
    if ndim == 0:
        arguments._fail(ValueError, where, name, "None for a 0-d tensor (it has no axes)", axis)
    return arguments.integer(axis, where, name, -ndim, ndim - 1) % ndim


def _plain_pair(a: Tensor, b: Tensor) -> bool:
    """True when ``a <op> b`` needs no graph node, no broadcast and no dtype promotion, so
    the array operator alone gives what the op would: the lean path of + - * /, which
    otherwise spend most of a small tensor's time in Function.apply."""
    da, db = a.data, b.data
    return (a._backend is b._backend and da.shape == db.shape and da.dtype == db.dtype
            and not ((a._requires_grad or b._requires_grad) and is_grad_enabled()))


def _operand(other, like: Tensor, op: str, scalars=True):
    """The other operand of a binary op: a Python number stays a scalar, arrays become tensors."""
    if isinstance(other, Tensor):
        mine, theirs = like.data.dtype, other.data.dtype
        if theirs != mine and mine.kind == "f" and theirs.kind == "f":
            raise TypeError(
                f"operator {op}: operands have different dtypes, {like.dtype} and {other.dtype}; "
                f"convert one with .astype()"
            )
        return other
    if scalars and isinstance(other, (int, float, bool, np.number)) and np.ndim(other) == 0:
        # NumPy scalars act as Python numbers: np.float64(2) * float32 tensor stays float32
        return other.item() if isinstance(other, np.generic) else other
    if backends.is_array(other):
        return tensor(other, dtype=like.dtype if np.asarray(other).dtype.kind == "f" or like.dtype.kind == "f" else None,
                      backend=like.backend)
    raise TypeError(f"operator {op}: unsupported operand of type {type(other).__name__}")


def _index_arrays(index, like):
    """Replace tensors inside an index by their arrays (integer or boolean indexing)."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


def _topological_nodes(root: Tensor):
    """The nodes that lead to root, each after every node that produced one of its inputs."""
    order, visited = [], set()
    stack = [(root._node, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        if node.released:
            raise RuntimeError(
                "backward(): this part of the graph was already freed by an earlier backward(); "
                "call backward(retain_graph=True) the first time to go through it twice"
            )
        stack.append((node, True))
        for parent in node.parents:
            if parent is not None and parent._node is not None and id(parent._node) not in visited:
                stack.append((parent._node, False))
    return order


def _accumulate_leaf(t: Tensor, g, fresh=False):
    if t.grad is None:
        # a copy unless the op vouches that g is its own new array: g may be shared (a + b
        # hands the same array to both inputs) or be the caller's seed
        t.grad = Tensor._make(g if fresh else g.copy(), t._backend)
    else:
        t.grad = Tensor._make(t.grad.data + g, t._backend)


def _run_backward(root: Tensor, seed, retain_graph: bool):
    """Reverse-mode sweep: nodes in reverse topological order, so a node runs once all the
    gradients of its outputs are summed. Gradients of leaves accumulate as they arrive."""
    run_deferred_checks()  # an input error a kernel recorded on the device raises before any gradient
    if root._node is None:
        _accumulate_leaf(root, seed)
        return
    # id(tensor) -> (tensor, summed gradient). Holding the tensor keeps it alive while its
    # gradient is pending, even after release() of the consumer dropped its reference.
    pending = {id(root): (root, seed)}
    with no_grad():
        for node in reversed(_topological_nodes(root)):
            # An output that no longer exists has no pending gradient (it would be held above).
            outputs = [ref() for ref in node.output_refs]
            out_grads = [None if t is None else pending.pop(id(t), (None, None))[1] for t in outputs]
            if all(g is None for g in out_grads):
                continue
            for t, g in zip(outputs, out_grads):
                if g is not None and t._retain:
                    _accumulate_leaf(t, g)
            contiguous = [None if g is None else node.backend.contiguous(g) for g in out_grads]
            in_grads = node.backward(*contiguous)
            for parent, pg in zip(node.parents, in_grads):
                if parent is None or pg is None or not parent.requires_grad:
                    continue
                if tuple(pg.shape) != parent.shape:  # a Function bug, never a user error
                    raise AssertionError(
                        f"{type(node).__name__}.backward returned shape {tuple(pg.shape)} for input {parent.shape}"
                    )
                if parent._node is None:
                    _accumulate_leaf(parent, pg, node.grads_are_fresh)
                    continue
                key = id(parent)
                pending[key] = (parent, pg if key not in pending else pending[key][1] + pg)
            if not retain_graph:
                node.release()


def tensor(data, dtype=None, requires_grad=False, backend=None) -> Tensor:
    """Make a tensor (a copy of ``data``) on ``backend`` (default: the current backend).

    dtype: float32 for Python numbers and lists of floats; a NumPy/CuPy array keeps its dtype.
    """
    if requires_grad is not False and requires_grad is not True:
        requires_grad = arguments.boolean(requires_grad, "tensor", "requires_grad")
    if isinstance(data, Tensor):
        target = backends.resolve(backend or data.backend)
        raw = data._backend.to_numpy(data.data) if target is not data._backend else data.data
    else:
        target = backends.resolve(backend)
        raw = data
    source = backends.of_array(raw)
    if not source.host_memory and not target.owns(raw):
        raw = source.to_numpy(raw)
    if type(raw) is str or type(raw) is bytes or raw is None:
        arguments._fail(TypeError, "tensor", "data", "a number, a (nested) list of numbers or an array", raw)
    try:
        host_view = raw if target.owns(raw) else np.asarray(raw)
    except ValueError as exc:    # ragged nested lists
        raise ValueError(f"tensor: data must be a rectangular (nested) list of numbers or an array, "
                         f"got {arguments._show(raw)} ({exc})") from None
    kind = host_view.dtype.kind
    if dtype is None:
        dtype = _check_dtype(_default_dtype(raw, host_view), "tensor", "data dtype")
    else:
        dtype = _check_dtype(dtype)
        if kind not in "fiub" and not (kind == "O" and all(arguments.is_real(v) or isinstance(v, (bool, np.bool_))
                                                           for v in host_view.reshape(-1))):
            # strings, complex numbers, objects: NumPy would parse, drop the imaginary part or fail deep inside
            raise TypeError(f"tensor: data must be numbers or arrays of floats, ints or bools, "
                            f"got an array of dtype {host_view.dtype}")
    if kind == "f" and dtype.kind in "iub":
        raise TypeError(f"tensor: dtype must be a floating dtype for floating data ({host_view.dtype}), "
                        f"got {dtype}; refusing to cast it, round it explicitly")
    if dtype.kind in "iub" and kind in "iuO" and dtype != host_view.dtype and host_view.size:
        _check_integers_fit(host_view, dtype)
    array = target.xp.array(host_view, dtype=dtype, copy=True)
    t = Tensor._make(array, target)
    t.requires_grad = requires_grad
    return t


def _check_integers_fit(values, dtype) -> None:
    """Integer data cast to a narrower integer dtype (or to bool) must fit it: 300 does not
    become 44 in uint8, nor 2**63 a negative int64. One min and one max over the data (on
    its device), only when the data's dtype does not cast safely to ``dtype``."""
    if dtype.kind != "b":
        if values.dtype.kind == "O":       # Python ints beyond 64 bits
            arguments.fits_integer_dtype(values, dtype, "tensor", "data")
            return
        if np.can_cast(values.dtype, dtype):
            return
    low, high = values.min().item(), values.max().item()
    if dtype.kind == "b":
        if low < 0 or high > 1:
            arguments._fail(ValueError, "tensor", "data", "0s and 1s to make a bool tensor", low if low < 0 else high)
        return
    info = np.iinfo(dtype)
    if low < info.min or high > info.max:
        arguments._fail(ValueError, "tensor", "data", f"integers that {dtype} holds, in [{info.min}, {info.max}]",
                        low if low < info.min else high)


register_tensor_class(Tensor)
from .ops import math as M  # noqa: E402  (the ops module needs the Tensor class defined above)
