"""Parity tolerances against the reference backend, in one place (docs/design.md,
"Parity tolerances").

A result passes when max |actual - expected| <= rtol * max(1, max |expected|), i.e. the
error is measured relative to the size of the output (not elementwise). NaN must sit
exactly where the reference has NaN, and infinities must match exactly.
"""

import numpy as np

#: dtype name -> relative tolerance (relative to the output's largest magnitude).
RTOL = {"float32": 1e-5, "float64": 1e-10}

# At benchmark size (test_parity.py's large rows) a float32 result sums thousands of
# products (1024-long dot products, 9*64-long convolution windows, 10^4-element
# batch-norm channels), so rounding differs between summation orders by a few hundred
# ulps of the result's scale.
LARGE_RTOL = {"float32": 2e-4, "float64": 1e-9}

#: The cpu backend's Winograd convolutions (kernels/cpu/winograd.py), float32: bound on the
#: error against the float64 result, relative to the output's largest magnitude, for
#: F(2x2, 3x3) and F(4x4, 3x3), output and both gradients. Their transforms add and scale
#: tiles before the products (F(4, 3)'s points +-2 scale by up to 8, and its G holds
#: 1/6 and 1/24), so the rounding grows: measured on 64->64 32x32 batch 32, 32->64 14x14
#: batch 64 and 256->64 14x14 batch 16, im2col and the reference stay at 2-7e-7,
#: F(2, 3) at 3-10e-7 and F(4, 3) at 3-11e-6 (bench/RESULTS.md). Both sit well inside the
#: parity tolerances at benchmark size (test_parity.py's 2e-4); on shapes of a few
#: thousand outputs F(4, 3) can pass RTOL's 1e-5, so tests of it on such shapes allow
#: twice this bound (the float32 reference is off the exact result too).
WINOGRAD_FLOAT32_ERROR = {2: 2e-6, 4: 3e-5}


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
