"""The argument checks the made-up datasets share: each returns the value in its plain
Python type, or raises a TypeError (wrong type) or ValueError (wrong value) that names
the argument, what it must be and what it got."""

from __future__ import annotations

import math
import numbers


def count(value, what: str, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum`` (booleans are not counts)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{what} must be an int >= {minimum}, got {value}")
    return int(value)


def finite_real(value, what: str, minimum: float | None = None, inclusive: bool = True) -> float:
    """``value`` as a finite float; with ``minimum``, also >= it (``inclusive``) or > it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if minimum is None:
        if not math.isfinite(value):
            raise ValueError(f"{what} must be finite, got {value}")
        return value
    above = value >= minimum if inclusive else value > minimum
    if not (math.isfinite(value) and above):
        raise ValueError(f"{what} must be a finite number {'>=' if inclusive else '>'} {minimum:g}, got {value!r}")
    return value


def seed(value, what: str = "seed") -> int:
    """``value`` as a non-negative int, the seeds numpy's and fastnn's generators take."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be an int, got {type(value).__name__} {value!r}")
    if value < 0:
        raise ValueError(f"{what} must be a non-negative int, got {value}")
    return int(value)
