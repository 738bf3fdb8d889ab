"""Argument checks shared by the ops: clear errors that name the argument and the shapes."""

from __future__ import annotations

import numpy as np

from .. import arguments, function


def _dtype_of(op: str, name: str, array) -> np.dtype:
    """The dtype of an array or tensor; a TypeError for anything else (a list, a number, or
    the memoryview that ``.data`` gives when a NumPy array stands where a tensor goes)."""
    dtype = getattr(array, "dtype", None)
    if not isinstance(dtype, np.dtype) or not hasattr(array, "shape"):
        hint = (" (a NumPy array where a tensor goes? pass fnn.tensor(array))" if isinstance(array, memoryview)
                else "")
        raise TypeError(f"{op}: {name} must be a tensor, got {type(array).__name__}{hint}")
    return dtype


def require_tensor(op: str, name: str, value):
    """``value`` is a fastnn Tensor (an op that reads a tensor's backend, or updates it in
    place, cannot take a NumPy array or a list there): a TypeError naming the argument.
    Callers test ``type(value) is Tensor`` first and call this only when that fails."""
    if isinstance(value, function._Tensor):
        return value
    hint = " (pass fnn.tensor(array))" if isinstance(value, (np.ndarray, list, tuple, memoryview)) else ""
    raise TypeError(f"{op}: {name} must be a tensor, got {type(value).__name__}{hint}")


def require_float(op: str, **arrays) -> np.dtype:
    """All given arrays (None skipped) are float32 or all float64; returns that dtype."""
    dtypes = {name: a.dtype if type(a) is np.ndarray else _dtype_of(op, name, a)   # NumPy arrays: no call
              for name, a in arrays.items() if a is not None}
    for name, dt in dtypes.items():
        if dt not in (np.float32, np.float64):
            raise TypeError(f"{op}: {name} must be float32 or float64, got {dt}")
    if len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{n}={d}" for n, d in dtypes.items())
        raise TypeError(f"{op}: inputs must share one dtype, got {listed}")
    return next(iter(dtypes.values()))


def require_ndim(op: str, name: str, array, ndims) -> None:
    ndims = (ndims,) if isinstance(ndims, int) else tuple(ndims)
    _dtype_of(op, name, array)
    if array.ndim not in ndims:
        want = " or ".join(f"{n}-D" for n in ndims)
        raise ValueError(f"{op}: {name} must be {want}, got shape {tuple(array.shape)}")


def require_integer(op: str, name: str, array) -> None:
    if _dtype_of(op, name, array).kind not in "iu":
        raise TypeError(f"{op}: {name} must hold integers, got dtype {array.dtype}; convert with .astype('int64')")


def require_in_range(op: str, name: str, array, high: int, xp) -> None:
    """Every entry of an integer array lies in [0, high); else name the first bad position."""
    if array.size == 0:
        return
    bad = (array < 0) | (array >= high)
    if bool(bad.any()):
        flat = int(xp.argmax(bad.reshape(-1)))
        position = tuple(int(i) for i in np.unravel_index(flat, tuple(array.shape)))
        value = int(array.reshape(-1)[flat])
        where = f"{name}[{', '.join(map(str, position))}]" if position else name   # a 0-d array: no index
        raise ValueError(f"{op}: {where} = {value} is outside [0, {high})")


# Range checks that a kernel performs on the device (recording the first bad row in a
# device word) instead of the op checking before the launch, which would synchronise.
# They are settled at the next point that reads results anyway: the start of a backward
# pass and a tensor's copy to the host (Tensor.numpy / item), and at once for a forward
# whose result no backward will follow. Entries: (op, name, array, high, xp, recorder).
_deferred: list = []
_MAX_DEFERRED = 64  # settled in the forward beyond this many (one synchronisation each)


def defer_range_check(op: str, name: str, array, high: int, xp, recorder) -> None:
    """``require_in_range(op, name, array, high, xp)``, settled later: ``recorder.take()``
    gives the first bad row the kernel met since its last call (-1: none)."""
    _deferred.append((op, name, array, high, xp, recorder))
    if len(_deferred) > _MAX_DEFERRED:
        run_deferred_checks()


def run_deferred_checks() -> None:
    """Settle the deferred range checks: a ValueError naming the first bad entry, as
    ``require_in_range`` gives, when a kernel met one. Free when none is pending."""
    if not _deferred:
        return
    pending = list(_deferred)
    _deferred.clear()
    rows = {}
    for entry in pending:
        recorder = entry[5]
        if id(recorder) not in rows:
            rows[id(recorder)] = recorder.take()
    if all(row < 0 for row in rows.values()):
        return
    for op, name, array, high, xp, recorder in pending:
        if rows[id(recorder)] >= 0:
            require_in_range(op, name, array, high, xp)
    op, name, _, high, _, recorder = next(e for e in pending if rows[id(e[5])] >= 0)
    # the array was changed in place after the kernel read it: name what is still known
    raise ValueError(f"{op}: {name} held an entry outside [0, {high}) when the kernel ran "
                     f"(flat position {rows[id(recorder)]})")


def pair(value, name: str) -> tuple[int, int]:
    """An int or a pair of ints (bools are not ints): a TypeError for another kind (1.5,
    "2", a tuple holding a float), a ValueError for a tuple of ints of another length."""
    if arguments.is_int(value):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and all(arguments.is_int(v) for v in value):
        if len(value) == 2:
            return int(value[0]), int(value[1])
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
