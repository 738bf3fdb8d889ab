"""Parity tolerances against the reference backend, in one place (docs/design.md,
"Parity tolerances"): ``fastnn.testing.check_parity`` and fastnn's own parity tests use them.

A floating result passes when

    max |actual - expected| <= rtol * max(1, max |expected|)

over the positions where the reference is finite: the error is measured relative to the
size of the output, not elementwise. NaN must sit exactly where the reference has NaN,
and infinities must match exactly. Integer and boolean results must be equal, and in a
parity comparison the dtypes must be equal too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: dtype name -> relative tolerance (relative to the output's largest magnitude), for the
#: small, odd shapes of the case table and for a user's own checks. Compiled kernels sum in
#: other orders (BLAS blocking, per-thread partial sums, vectorised reductions), so bit
#: equality cannot be asked for; 1e-5 is about 80 float32 epsilons of the output's scale.
RTOL = {"float32": 1e-5, "float64": 1e-10}

# At benchmark size (test_parity.py's large rows) a float32 result sums thousands of
# products (1024-long dot products, 9*64-long convolution windows, 10^4-element
# batch-norm channels), so rounding differs between summation orders by a few hundred
# ulps of the result's scale.
LARGE_RTOL = {"float32": 2e-4, "float64": 1e-9}


@dataclass(frozen=True)
class Comparison:
    """How far ``actual`` is from ``expected``: ``error`` = max |actual - expected| over the
    reference's finite positions (inf when the two cannot be compared number by number),
    ``scale`` = max(1, max |expected|), ``rtol`` (0: must be exact) and ``problem``, a
    sentence when they differ whatever the numbers (shape, dtype, NaN or inf positions)."""

    error: float
    scale: float
    rtol: float
    problem: str | None = None

    @property
    def tolerance(self) -> float:
        """The largest error allowed: rtol * scale (0 for an exact comparison)."""
        return self.rtol * self.scale

    @property
    def passed(self) -> bool:
        return self.problem is None and self.error <= self.tolerance


def compare(actual, expected, rtol: float, same_dtype: bool = True) -> Comparison:
    """Compare two host arrays by the parity rule (module docstring). Integer and boolean
    ``expected`` arrays are compared exactly (``rtol`` is then 0); ``same_dtype`` also
    requires equal dtypes."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape:
        return Comparison(math.inf, 1.0, rtol, f"shape {actual.shape}, the reference's is {expected.shape}")
    if same_dtype and actual.dtype != expected.dtype:
        return Comparison(math.inf, 1.0, rtol, f"dtype {actual.dtype}, the reference's is {expected.dtype}")
    if expected.dtype.kind in "iub":
        # exact: the difference in float64 only says how far off (int64 subtraction may wrap)
        error = float(np.max(np.abs(actual.astype(np.float64) - expected.astype(np.float64)), initial=0.0))
        if error == 0.0 and not np.array_equal(actual, expected):  # beyond float64's 2^53
            error = 1.0
        return Comparison(error, 1.0, 0.0)
    finite = np.isfinite(expected)
    if not (finite.all() and np.isfinite(actual).all()):
        nan_a, nan_e = np.isnan(actual), np.isnan(expected)
        if not np.array_equal(nan_a, nan_e):
            first = np.argwhere(nan_a != nan_e)[:3].tolist()
            return Comparison(math.inf, 1.0, rtol, f"NaN positions differ, first at {first}")
        inf_e = np.isinf(expected)
        if not (np.array_equal(np.isinf(actual), inf_e) and np.array_equal(actual[inf_e], expected[inf_e])):
            return Comparison(math.inf, 1.0, rtol, "infinities differ")
        actual, expected = actual[finite], expected[finite]
    if expected.size == 0:
        return Comparison(0.0, 1.0, rtol)
    a, e = actual.astype(np.float64), expected.astype(np.float64)
    error = float(np.max(np.abs(a - e)))
    scale = max(1.0, float(np.max(np.abs(e))))
    return Comparison(error, scale, rtol)


def assert_close(actual, expected, dtype=None, rtol=None, what="result"):
    """Assert ``actual`` matches ``expected`` within ``rtol`` (default ``RTOL[dtype]``, dtype
    defaulting to expected's) by the parity rule; dtypes may differ here (a float32 kernel's
    result against a float64 reference), integer results must be equal."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    dtype = np.dtype(dtype if dtype is not None else expected.dtype).name
    if rtol is None:
        rtol = RTOL[dtype] if dtype in RTOL else 0.0
    result = compare(actual, expected, rtol, same_dtype=False)
    assert result.problem is None, f"{what}: {result.problem}"
    assert result.passed, f"{what}: max abs error {result.error:.3g} > {rtol:g} * {result.scale:.3g} ({dtype})"
