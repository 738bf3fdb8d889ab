"""Argument checks shared by the ops: clear errors that name the argument and the shapes."""

from __future__ import annotations

import numpy as np


def require_float(op: str, **arrays) -> np.dtype:
    """All given arrays (None skipped) are float32 or all float64; returns that dtype."""
    dtypes = {name: np.dtype(a.dtype) for name, a in arrays.items() if a is not None}
    for name, dt in dtypes.items():
        if dt not in (np.float32, np.float64):
            raise TypeError(f"{op}: {name} must be float32 or float64, got {dt}")
    if len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{n}={d}" for n, d in dtypes.items())
        raise TypeError(f"{op}: inputs must share one dtype, got {listed}")
    return next(iter(dtypes.values()))


def require_ndim(op: str, name: str, array, ndims) -> None:
    ndims = (ndims,) if isinstance(ndims, int) else tuple(ndims)
    if array.ndim not in ndims:
        want = " or ".join(f"{n}-D" for n in ndims)
        raise ValueError(f"{op}: {name} must be {want}, got shape {tuple(array.shape)}")


def require_integer(op: str, name: str, array) -> None:
    if np.dtype(array.dtype).kind not in "iu":
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
        raise ValueError(f"{op}: {name}[{', '.join(map(str, position))}] = {value} is outside [0, {high})")


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
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, (int, np.integer)) for v in value):
        return int(value[0]), int(value[1])
    raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
