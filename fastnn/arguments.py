"""Argument validators shared by the public API: one rule for each kind of argument, and
one form of error for all of them.

Every validator takes the value, then ``where`` (the function or class the user called,
as the user spells it: ``"zeros"``, ``"Tensor.reshape"``, ``"Adam"``) and ``name`` (the
argument), and returns the value in the form the caller works with (an ``int``, a tuple
of ints, a float). A bad value raises

    TypeError   for a value of the wrong kind (a float or a string where an int goes)
    ValueError  for a value of the right kind out of its range

with the message ``"<where>: <name> must be <what is expected>, got <the value>"``.
Nothing is coerced on the way: ``2.5`` is not a size and ``True`` is not a number, where
NumPy would truncate the one and count the other as 1.
"""

from __future__ import annotations

import math
import numbers

import numpy as np


def _fail(error, where, name, expected, value):
    raise error(f"{where}: {name} must be {expected}, got {_show(value)}")


def _show(value) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return text if isinstance(value, (numbers.Number, str, tuple, list, type(None))) else \
        f"{text} ({type(value).__name__})"


def is_int(value) -> bool:
    """An int or NumPy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real(value) -> bool:
    """A real number (int, float or their NumPy kinds), not a bool."""
    return isinstance(value, (numbers.Real, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def integer(value, where, name, low=None, high=None) -> int:
    """An int in [low, high] (either bound may be None)."""
    if not is_int(value):
        _fail(TypeError, where, name, "an int", value)
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = (f"in [{low}, {high}]" if low is not None and high is not None
                  else f">= {low}" if low is not None else f"<= {high}")
        _fail(ValueError, where, name, f"an int {bounds}", value)
    return value


def size(value, where, name, low=0) -> int:
    """A count of elements or a dimension: an int >= low (0 by default)."""
    return integer(value, where, name, low=low)


def shape(value, where, name, allow_infer=False) -> tuple:
    """A shape: an int or a sequence of ints >= 0. ``allow_infer``: one entry may be -1
    (``reshape``'s "whatever is left")."""
    entries = (value,) if is_int(value) else value
    if not isinstance(entries, (tuple, list)) or not all(is_int(s) for s in entries):
        _fail(TypeError, where, name, "an int or a tuple of ints", value)
    entries = tuple(int(s) for s in entries)
    inferred = [s for s in entries if s == -1] if allow_infer else []
    if len(inferred) > 1 or any(s < 0 and not (allow_infer and s == -1) for s in entries):
        expected = "ints >= 0, with at most one -1" if allow_infer else "ints >= 0"
        _fail(ValueError, where, name, expected, value)
    return entries


def axes(value, ndim, where, name="axis", allow_none=True) -> tuple | None:
    """An axis or a tuple of distinct axes of an ndim-dimensional array, each in
    [-ndim, ndim): returns the sorted non-negative axes (None stays None where allowed)."""
    if value is None and allow_none:
        return None
    entries = (value,) if is_int(value) else value
    if not isinstance(entries, (tuple, list)) or not all(is_int(a) for a in entries):
        _fail(TypeError, where, name, "an int or a tuple of ints" + (" or None" if allow_none else ""), value)
    normal = []
    for a in entries:
        if not -ndim <= a < ndim:
            _fail(ValueError, where, name, f"in [{-ndim}, {ndim - 1}] for a tensor of {ndim} dimensions", value)
        normal.append(int(a) % ndim if ndim else 0)
    if len(set(normal)) != len(normal):
        _fail(ValueError, where, name, "distinct axes", value)
    return tuple(sorted(normal))


def real(value, where, name, low=None, high=None, low_open=False, high_open=False) -> float:
    """A finite real number in the interval the bounds give (open where ``*_open``)."""
    if not is_real(value):
        _fail(TypeError, where, name, "a real number", value)
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if not math.isfinite(value) or too_low or too_high:
        left = "" if low is None else ("(" if low_open else "[") + f"{low:g}"
        right = "" if high is None else f"{high:g}" + (")" if high_open else "]")
        if low is not None and high is not None:
            expected = f"a finite number in {left}, {right}"
        elif low is not None:
            expected = f"a finite number {'>' if low_open else '>='} {low:g}"
        elif high is not None:
            expected = f"a finite number {'<' if high_open else '<='} {high:g}"
        else:
            expected = "a finite number"
        _fail(ValueError, where, name, expected, value)
    return value


def positive(value, where, name) -> float:
    """A finite real > 0 (a learning rate, an epsilon)."""
    return real(value, where, name, low=0.0, low_open=True)


def non_negative(value, where, name) -> float:
    """A finite real >= 0 (a weight decay, a momentum)."""
    return real(value, where, name, low=0.0)


def probability(value, where, name, include_one=True) -> float:
    """A probability in [0, 1] ([0, 1) without ``include_one``)."""
    return real(value, where, name, low=0.0, high=1.0, high_open=not include_one)


def choice(value, options, where, name) -> str:
    """One of the names in ``options`` (any iterable of strings)."""
    options = sorted(options)
    if not isinstance(value, str):
        _fail(TypeError, where, name, f"a name, one of {', '.join(map(repr, options))}", value)
    if value not in options:
        _fail(ValueError, where, name, f"one of {', '.join(map(repr, options))}", value)
    return value


def mapping(value, where, name) -> dict:
    """A dict (or other mapping)."""
    from collections.abc import Mapping

    if not isinstance(value, Mapping):
        _fail(TypeError, where, name, "a dict", value)
    return value


def fits_integer_dtype(values, dtype, where, name) -> None:
    """Every value of ``values`` (an array or nested lists of numbers) is an integer that
    ``dtype`` (an integer dtype) holds: no silent wrap-around or truncation on creation."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "iu":
        return
    info = np.iinfo(dtype)
    array = values if isinstance(values, np.ndarray) else np.asarray(values)
    if array.size == 0 or array.dtype.kind == "b":
        return
    expected = f"integers that {dtype} holds, in [{info.min}, {info.max}]"
    if array.dtype.kind == "O":     # Python ints beyond 64 bits, or mixed objects
        for v in array.reshape(-1):
            if not (is_int(v) or (is_real(v) and float(v).is_integer())) or not info.min <= int(v) <= info.max:
                _fail(ValueError, where, name, expected, v)
        return
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array) | (array != np.floor(array))
        if bad.any():
            _fail(ValueError, where, name, expected, array[bad].reshape(-1)[0].item())
    if array.dtype.kind in "iuf":
        low, high = array.min(), array.max()
        if low < info.min or high > info.max:
            _fail(ValueError, where, name, expected, (low if low < info.min else high).item())


def boolean(value, where, name) -> bool:
    """A bool (or NumPy bool): no truthiness, so the string ``"False"`` is not taken for True."""
    if not isinstance(value, (bool, np.bool_)):
        _fail(TypeError, where, name, "True or False", value)
    return bool(value)
