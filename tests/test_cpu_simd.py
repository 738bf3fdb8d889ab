"""The vector values of kernels/cpu/_simd.py, checked against NumPy in both widths and both
float dtypes: loads and stores at unaligned offsets, broadcast, multiply-add by a vector
and by a scalar, the lane sum and the lane count."""

import numba
import numpy as np
import pytest

from fastnn.kernels.cpu import _simd as S


def _axpy_then_dot(width):
    """A kernel over ``width``-byte vectors: y[start + k] += a * x[start + k] vector by
    vector; returns sum(x[start:] * y[start:]) after, and the lane count."""
    vload, vstore, vfill, vmuladd, vsum, lanes = WIDTHS[width]

    @numba.njit
    def kernel(x, y, a, start):
        count = lanes(x)
        acc = vfill(x, 0)
        for i in range(start, x.size - count + 1, count):
            updated = vmuladd(vload(y, i), vload(x, i), a)
            vstore(y, i, updated)
            acc = vmuladd(acc, vload(x, i), updated)
        return vsum(acc), count
    return kernel


WIDTHS = {
    64: (S.vload64, S.vstore64, S.vfill64, S.vmuladd64, S.vsum64, S.lanes64),
    128: (S.vload128, S.vstore128, S.vfill128, S.vmuladd128, S.vsum128, S.lanes128),
}


@numba.njit
def _fill128(out, value):
    S.vstore128(out, 0, S.vfill128(out, value))


@pytest.mark.parametrize("width", sorted(WIDTHS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_vector_operations_match_numpy(width, dtype):
    kernel = _axpy_then_dot(width)
    itemsize = np.dtype(dtype).itemsize
    lanes = width // itemsize
    rng = np.random.default_rng(width + itemsize)
    start = 3                                   # unaligned loads and stores
    size = start + 5 * lanes
    x = rng.standard_normal(size).astype(dtype)
    y = rng.standard_normal(size).astype(dtype)
    a = 0.37
    expected_y = y.copy()
    expected_y[start:] += np.asarray(a, dtype) * x[start:]
    total, got_lanes = kernel(x, y, a, start)
    assert got_lanes == lanes
    rtol = 1e-5 if dtype == "float32" else 1e-13
    np.testing.assert_allclose(y, expected_y, rtol=rtol, atol=rtol)
    assert y[:start].tolist() == expected_y[:start].tolist(), "nothing before the first vector is written"
    np.testing.assert_allclose(total, np.dot(x[start:].astype(np.float64), expected_y[start:]), rtol=rtol * 10)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fill_writes_exactly_one_vector(dtype):
    lanes = 128 // np.dtype(dtype).itemsize
    out = np.full(lanes + 2, -1.0, dtype=dtype)
    _fill128(out, 2.5)
    assert out[:lanes].tolist() == [2.5] * lanes
    assert out[lanes:].tolist() == [-1.0, -1.0]
