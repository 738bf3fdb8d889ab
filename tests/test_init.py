"""Weight initializers: shapes, dtypes, backend, and statistics against the documented
formulas, with the fans of the Dense (in, out) and Conv2D (out, in, kh, kw) layouts
worked out by hand here."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fastnn as fnn
from fastnn import init


pytestmark = pytest.mark.usefixtures("numpy_backend_and_rng_restored")


DENSE = (300, 200)          # fan_in 300, fan_out 200
CONV = (32, 16, 3, 5)       # fan_in 16*15 = 240, fan_out 32*15 = 480
FANS = {DENSE: (300, 200), CONV: (240, 480), (50_000,): (50_000, 50_000)}

ALL = ["zeros", "ones", "normal", "uniform", "glorot_normal", "glorot_uniform", "he_normal", "he_uniform",
       "xavier_normal", "xavier_uniform", "kaiming_normal", "kaiming_uniform", "orthogonal"]


def _check_normal(v, std):
    n = v.size
    v = v.astype(np.float64)
    assert abs(v.mean()) < 5 * std / math.sqrt(n)
    assert abs(v.std() / std - 1) < 5 / math.sqrt(2 * n)
    assert np.abs(v).max() > 3 * std   # not truncated (documented: truncation is not applied)


def _check_uniform(v, limit):
    n = v.size
    v = v.astype(np.float64)
    assert v.min() >= -limit and v.max() <= limit
    assert v.min() < -0.99 * limit and v.max() > 0.99 * limit   # fills the interval
    assert abs(v.mean()) < 5 * limit / math.sqrt(3 * n)
    # sd of a sample std, relative: sqrt((kurtosis - 1) / 4n), kurtosis of a uniform = 1.8
    assert abs(v.std() / (limit / math.sqrt(3)) - 1) < 5 * math.sqrt(0.8 / (4 * n))


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_shape_dtype_backend(name, dtype):
    fn = getattr(init, name)
    for shape in ((7, 5), (4, 3, 3, 2)):
        w = fn(shape, dtype=dtype, backend="numpy")
        assert isinstance(w, fnn.Tensor)
        assert w.shape == shape and w.dtype == np.dtype(dtype) and w.backend == "numpy"
        assert not w.requires_grad
        assert np.isfinite(w.numpy()).all()
    assert fn((7, 5)).dtype == np.float32          # default dtype
    assert fn((7, 5)).backend == fnn.get_backend()  # default backend: the current one


def test_constants():
    np.testing.assert_array_equal(init.zeros((2, 3)).numpy(), np.zeros((2, 3)))
    np.testing.assert_array_equal(init.ones(4).numpy(), np.ones(4))
    assert init.zeros(5).shape == (5,)
    with pytest.raises(ValueError, match="non-negative"):
        init.zeros((2, -1))


def test_normal_and_uniform_defaults_and_parameters():
    fnn.manual_seed(0)
    _check_normal(init.normal((400, 300)).numpy(), 0.05)
    _check_uniform(init.uniform((400, 300)).numpy(), 0.05)
    v = init.normal((200, 200), mean=2.0, std=3.0, dtype="float64").numpy()
    assert abs(v.mean() - 2.0) < 5 * 3.0 / 200 and abs(v.std() - 3.0) < 0.05
    u = init.uniform((200, 200), low=1.0, high=4.0, dtype="float64").numpy()
    assert u.min() >= 1.0 and u.max() <= 4.0 and abs(u.mean() - 2.5) < 0.03


@pytest.mark.parametrize("shape", [DENSE, CONV, (50_000,)])
def test_glorot_and_he_statistics(shape):
    fan_in, fan_out = FANS[shape]
    reps = max(1, 120_000 // math.prod(shape))
    fnn.manual_seed(3)

    def draw(fn):
        return np.concatenate([fn(shape, dtype="float64").numpy().reshape(-1) for _ in range(reps)])

    _check_normal(draw(init.glorot_normal), math.sqrt(2 / (fan_in + fan_out)))
    _check_uniform(draw(init.glorot_uniform), math.sqrt(6 / (fan_in + fan_out)))
    _check_normal(draw(init.he_normal), math.sqrt(2 / fan_in))
    _check_uniform(draw(init.he_uniform), math.sqrt(6 / fan_in))


def test_compute_fans_layouts():
    assert init.compute_fans(DENSE) == (300, 200)
    assert init.compute_fans(CONV) == (240, 480)
    assert init.compute_fans((7,)) == (7, 7)


@pytest.mark.parametrize("alias,original", [("xavier_normal", "glorot_normal"), ("xavier_uniform", "glorot_uniform"),
                                            ("kaiming_normal", "he_normal"), ("kaiming_uniform", "he_uniform")])
def test_aliases_draw_the_same_numbers(alias, original):
    for shape in (DENSE, CONV):
        fnn.manual_seed(11)
        a = getattr(init, alias)(shape).numpy()
        fnn.manual_seed(11)
        b = getattr(init, original)(shape).numpy()
        np.testing.assert_array_equal(a, b)
        fnn.manual_seed(11)
        np.testing.assert_array_equal(init.get(alias)(shape).numpy(), b)


def test_seeded_reproducibility_and_stream_advance():
    for name in ("normal", "uniform", "glorot_uniform", "he_normal", "orthogonal"):
        fn = getattr(init, name)
        shape = (30, 20)
        fnn.manual_seed(5)
        a = fn(shape).numpy()
        b = fn(shape).numpy()
        fnn.manual_seed(5)
        np.testing.assert_array_equal(fn(shape).numpy(), a)
        assert not np.array_equal(a, b), name
        fnn.manual_seed(6)
        assert not np.array_equal(fn(shape).numpy(), a), name


@pytest.mark.parametrize("shape", [(7, 4), (4, 7), (6, 6), (6, 2, 1, 3), (3, 2, 2, 2)])
def test_orthogonal(shape):
    fnn.manual_seed(8)
    w = init.orthogonal(shape, dtype="float64").numpy()
    assert w.shape == shape
    # stored C-ordered: parameters are updated in place through flat views
    assert init.orthogonal(shape, dtype="float64").data.flags.c_contiguous
    m = w.reshape(shape[0], -1)
    rows, cols = m.shape
    if rows >= cols:
        np.testing.assert_allclose(m.T @ m, np.eye(cols), atol=1e-12)
    else:
        np.testing.assert_allclose(m @ m.T, np.eye(rows), atol=1e-12)
    fnn.manual_seed(8)
    g = init.orthogonal(shape, gain=2.5, dtype="float64").numpy()
    np.testing.assert_allclose(g, 2.5 * w, rtol=1e-14)


def test_orthogonal_float32_and_rank_check():
    fnn.manual_seed(9)
    w = init.orthogonal((64, 32)).numpy()
    assert w.dtype == np.float32
    np.testing.assert_allclose(w.T @ w, np.eye(32), atol=1e-5)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.orthogonal((5,))


def test_orthogonal_is_not_biased_towards_one_sign():
    # the sign correction makes Q Haar-distributed: the diagonal has no preferred sign
    fnn.manual_seed(10)
    diag = np.concatenate([np.diag(init.orthogonal((4, 4), dtype="float64").numpy()) for _ in range(400)])
    assert abs(np.mean(diag > 0) - 0.5) < 5 * math.sqrt(0.25 / diag.size)


def test_get_and_initialize():
    assert init.get("he_uniform") is init.he_uniform
    assert init.get(init.zeros) is init.zeros
    assert set(ALL) <= set(init.NAMES)
    w = init.initialize("glorot_uniform", (3, 4), "float64", "numpy")
    assert w.shape == (3, 4) and w.dtype == np.float64
    # a plain callable (shape, dtype) -> array is wrapped into a Tensor
    c = init.initialize(lambda shape, dtype: np.full(shape, 0.5, dtype=dtype), (2, 2), "float32", None)
    assert isinstance(c, fnn.Tensor) and c.dtype == np.float32
    np.testing.assert_array_equal(c.numpy(), np.full((2, 2), 0.5))
    with pytest.raises(ValueError, match=r"returned shape \(3,\), expected \(2, 2\)"):
        init.initialize(lambda shape, dtype: np.zeros(3), (2, 2), "float32", None)


def test_every_exported_name_exists_and_every_registry_name_is_exported():
    import fastnn.init as init

    namespace = {}
    exec("from fastnn.init import *", namespace)
    assert set(init.__all__) <= set(namespace)
    for name in init.NAMES:
        assert init.get(name) is getattr(init, name), name
