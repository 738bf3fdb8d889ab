"""The vector values of kernels/cpu/_simd.py, checked against NumPy in both widths and both
float dtypes: loads and stores at unaligned offsets, broadcast, multiply-add by a vector
and by a scalar, the lane sum and the lane count."""

import numba
import numpy as np
import pytest

from fastnn.kernels.cpu import _simd as S


@numba.njit
def _axpy_then_dot64(x, y, a, start):
    # y[start + k] += a * x[start + k] vector by vector; returns sum(x[start:] * y[start:]) after.
    lanes = S.lanes64(x)
    acc = S.vfill64(x, 0)
    for i in range(start, x.size - lanes + 1, lanes):
        updated = S.vmuladd64(S.vload64(y, i), S.vload64(x, i), a)
        S.vstore64(y, i, updated)
        acc = S.vmuladd64(acc, S.vload64(x, i), updated)
    return S.vsum64(acc), lanes


@numba.njit
def _axpy_then_dot128(x, y, a, start):
    lanes = S.lanes128(x)
    acc = S.vfill128(x, 0)
    for i in range(start, x.size - lanes + 1, lanes):
        updated = S.vmuladd128(S.vload128(y, i), S.vload128(x, i), a)
        S.vstore128(y, i, updated)
        acc = S.vmuladd128(acc, S.vload128(x, i), updated)
    return S.vsum128(acc), lanes


@numba.njit
def _fill128(out, value):
    S.vstore128(out, 0, S.vfill128(out, value))


@pytest.mark.parametrize("width,kernel", [(64, _axpy_then_dot64), (128, _axpy_then_dot128)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_vector_operations_match_numpy(width, kernel, dtype):
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
