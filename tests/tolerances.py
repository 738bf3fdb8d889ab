"""Parity tolerances against the reference backend, in one place (DESIGN.md "Numerics").

A result passes when max |actual - expected| <= rtol * max(1, max |expected|), i.e. the
error is measured relative to the size of the output (not elementwise). NaN must sit
exactly where the reference has NaN, and infinities must match exactly.
"""

import numpy as np

#: dtype name -> relative tolerance (relative to the output's largest magnitude).
RTOL = {"float32": 1e-5, "float64": 1e-10}


def assert_close(actual, expected, dtype=None, rtol=None, what="result"):
    """Assert ``actual`` matches ``expected`` within ``rtol`` (default ``RTOL[dtype]``)."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    dtype = np.dtype(dtype if dtype is not None else expected.dtype).name
    rtol = RTOL[dtype] if rtol is None else rtol
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    nan_a, nan_e = np.isnan(actual), np.isnan(expected)
    assert np.array_equal(nan_a, nan_e), \
        f"{what}: NaN positions differ, first at {np.argwhere(nan_a != nan_e)[:3].tolist()}"
    inf_e = np.isinf(expected)
    assert np.array_equal(actual[inf_e], expected[inf_e]) and np.array_equal(np.isinf(actual), inf_e), \
        f"{what}: infinities differ"
    finite = np.isfinite(expected)
    if not finite.any():
        return
    a = actual[finite].astype(np.float64)
    e = expected[finite].astype(np.float64)
    err = float(np.max(np.abs(a - e)))
    scale = max(1.0, float(np.max(np.abs(e))))
    assert err <= rtol * scale, f"{what}: max abs error {err:.3g} > {rtol:g} * {scale:.3g} ({dtype})"
