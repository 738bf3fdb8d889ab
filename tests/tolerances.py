"""Tolerances of the test suite. The parity tolerances (RTOL, LARGE_RTOL and the rule of
``assert_close``: max |actual - expected| <= rtol * max(1, max |expected|), NaN and
infinities exact) live in the package, ``fastnn/testing/tolerances.py``, where
``fastnn.testing.check_parity`` uses them; they are re-exported here for the tests.
"""

from fastnn.testing.tolerances import LARGE_RTOL, RTOL, assert_close  # noqa: F401  (re-exported)

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
