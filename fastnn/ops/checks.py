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


def pair(value, name: str) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, (int, np.integer)) for v in value):
        return int(value[0]), int(value[1])
    raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
