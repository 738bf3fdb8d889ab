"""The vector values of kernels/cpu/_simd.py, checked against NumPy in both widths and both
float dtypes: loads and stores at unaligned offsets, broadcast, multiply-add by a vector
and by a scalar, the lane sum and the lane count; the masked loads and stores of a run's
first lanes, addition, ReLU and ReLU's gradient, NaN and infinity included."""

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


MASKED = {
    64: (S.vload_first64, S.vstore_first64, S.vadd64, S.vrelu64, S.vrelu_grad64, S.lanes64),
    128: (S.vload_first128, S.vstore_first128, S.vadd128, S.vrelu128, S.vrelu_grad128, S.lanes128),
}


def _masked_relu_kernel(width):
    """out[o : o + count] = relu(g) + relu_grad(y, g), with g, y the first ``count`` values
    of gy, ys from ``start`` (masked loads: zeros past count, which the store leaves out)."""
    vload_first, vstore_first, vadd, vrelu, vrelu_grad, lanes = MASKED[width]

    @numba.njit
    def kernel(gy, ys, start, out, o, count):
        g = vload_first(gy, start, count)
        vstore_first(out, o, vadd(vrelu(g), vrelu_grad(vload_first(ys, start, count), g)), count)
        return lanes(gy)
    return kernel


@pytest.mark.parametrize("width", sorted(MASKED))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_masked_first_lanes_and_relu_match_numpy(width, dtype):
    kernel = _masked_relu_kernel(width)
    lanes = width // np.dtype(dtype).itemsize
    rng = np.random.default_rng(lanes)
    gy = rng.standard_normal(3 * lanes).astype(dtype)
    ys = rng.standard_normal(3 * lanes).astype(dtype)
    gy[lanes + 1], gy[lanes + 2], ys[lanes + 2] = np.nan, np.inf, -1.0      # NaN passes; inf * 0 is NaN
    ys[lanes + 3] = np.nan                                                  # NaN > 0 is false: gradient 0
    for count in (0, 1, lanes - 3, lanes):
        for start in (lanes, 3 * lanes - count):                         # a run ending at the array's end
            out = np.full(2 * lanes + 5, -7.0, dtype=dtype)
            assert kernel(gy, ys, start, out, 5, count) == lanes
            g, y = gy[start:start + count], ys[start:start + count]
            with np.errstate(invalid="ignore"):
                expected = np.where(g <= 0, 0, g) + g * (y > 0)
            np.testing.assert_array_equal(out[5:5 + count], expected.astype(dtype))
            assert (out[:5] == -7).all() and (out[5 + count:] == -7).all(), "only the first count lanes are stored"
