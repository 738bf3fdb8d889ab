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

from . import backend as backends
from .function import register_tensor_class
from .grad_mode import is_grad_enabled, no_grad
from .ops.checks import run_deferred_checks

FLOAT_DTYPES = (np.dtype("float32"), np.dtype("float64"))


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
    raise TypeError(f"tensor: cannot make a tensor of dtype {data.dtype}; use numbers or arrays of floats, ints or bools")


def _check_dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind == "f" and dtype not in FLOAT_DTYPES:
        raise TypeError(f"tensor: floating dtype must be float32 or float64, got {dtype}")
    if dtype.kind not in "fiub":
        raise TypeError(f"tensor: unsupported dtype {dtype}; use float32, float64, an integer type or bool")
    return dtype


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
        if flag and self.dtype.kind != "f":
            raise TypeError(f"requires_grad: only floating tensors can need gradients, this one is {self.dtype}")
        if not flag and self._node is not None:
            raise ValueError("requires_grad: cannot switch off on a non-leaf tensor; use .detach()")
        self._requires_grad = bool(flag)

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
        dtype = _check_dtype(dtype)
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
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return M.Reshape.apply(self, shape=tuple(int(s) for s in shape))

    def flatten(self, start_axis=0):
        return self.reshape(self.shape[:start_axis] + (-1,))

    def transpose(self, *axes):
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        return M.Transpose.apply(self, axes=tuple(axes) if axes else None)

    @property
    def T(self):
        return self.transpose()

    # -- reductions --------------------------------------------------------------
    def sum(self, axis=None, keepdims=False):
        return M.Sum.apply(self, axis=_axes(axis, self.ndim), keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return M.Mean.apply(self, axis=_axes(axis, self.ndim), keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return M.Extreme.apply(self, axis=_axes(axis, self.ndim), keepdims=keepdims, mode="max")

    def min(self, axis=None, keepdims=False):
        return M.Extreme.apply(self, axis=_axes(axis, self.ndim), keepdims=keepdims, mode="min")

    def argmax(self, axis=None):
        return Tensor._make(self.data.argmax(axis=axis), self._backend)

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
        return M.Clip.apply(self, low=min, high=max)


def _axes(axis, ndim):
    """Normalise an axis argument to a sorted tuple of non-negative axes (or None)."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(int(a) % ndim)
    return tuple(sorted(set(out)))


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
    if isinstance(data, Tensor):
        target = backends.resolve(backend or data.backend)
        raw = data._backend.to_numpy(data.data) if target is not data._backend else data.data
    else:
        target = backends.resolve(backend)
        raw = data
    source = backends.of_array(raw)
    if not source.host_memory and not target.owns(raw):
        raw = source.to_numpy(raw)
    host_view = raw if target.owns(raw) else np.asarray(raw)
    dtype = _check_dtype(dtype if dtype is not None else _default_dtype(raw, host_view))
    if host_view.dtype.kind == "f" and dtype.kind in "iub":
        raise TypeError(f"tensor: refusing to cast floating data ({host_view.dtype}) to {dtype}; round it explicitly")
    array = target.xp.array(host_view, dtype=dtype, copy=True)
    t = Tensor._make(array, target)
    t.requires_grad = requires_grad
    return t


register_tensor_class(Tensor)
from .ops import math as M  # noqa: E402  (the ops module needs the Tensor class defined above)
