"""DataLoader: batches, drop_last, dtypes, shuffling from fastnn's Philox generator (the
same order on every backend, reproducible with seeds), and its errors."""

import numpy as np
import pytest

import fastnn as fnn
from fastnn.data import DataLoader
from backend_params import BACKENDS, require

pytestmark = pytest.mark.usefixtures("rng_restored")


def arrays(n=10):
    x = np.arange(n * 3, dtype=np.float64).reshape(n, 3)
    y = np.arange(n, dtype=np.int32)
    return x, y


def test_batches_in_order_with_their_sizes_and_dtypes():
    x, y = arrays()
    loader = DataLoader(x, y, batch_size=4, backend="numpy")
    assert len(loader) == 3 and loader.num_samples == 10 and loader.batch_size == 4
    batches = list(loader)
    assert [xb.shape for xb, _ in batches] == [(4, 3), (4, 3), (2, 3)]
    assert all(xb.dtype == np.float32 and yb.dtype == np.int64 for xb, yb in batches)
    np.testing.assert_array_equal(np.concatenate([xb.numpy() for xb, _ in batches]), x.astype(np.float32))
    np.testing.assert_array_equal(np.concatenate([yb.numpy() for _, yb in batches]), y)
    assert loader.x.dtype == np.float32 and loader.y.dtype == np.int64


def test_drop_last_and_float64():
    x, y = arrays()
    loader = DataLoader(x, y, batch_size=4, drop_last=True, dtype="float64", backend="numpy")
    assert len(loader) == 2
    assert [xb.shape[0] for xb, _ in loader] == [4, 4]
    assert next(iter(loader))[0].dtype == np.float64
    assert len(DataLoader(x, batch_size=20, drop_last=True)) == 0
    assert len(DataLoader(x, batch_size=20)) == 1


def test_features_alone_yield_single_tensors():
    x, _ = arrays()
    batches = list(DataLoader(x, batch_size=3, backend="numpy"))
    assert len(batches) == 4 and all(isinstance(b, fnn.Tensor) for b in batches)


def _order(loader, backend=None):
    return np.concatenate([yb.numpy() for _, yb in loader.iterate(backend)])


def test_shuffle_with_a_seed_is_reproducible_and_changes_every_epoch():
    x, y = arrays(50)
    a = DataLoader(x, y, batch_size=8, shuffle=True, seed=7, backend="numpy")
    b = DataLoader(x, y, batch_size=8, shuffle=True, seed=7, backend="numpy")
    state = fnn.get_rng_state()
    first, second = _order(a), _order(a)
    assert fnn.get_rng_state() == state  # its own generator: the global stream is untouched
    assert sorted(first) == list(range(50)) and sorted(second) == list(range(50))
    assert not np.array_equal(first, second) and not np.array_equal(first, np.arange(50))
    np.testing.assert_array_equal(_order(b), first)
    np.testing.assert_array_equal(_order(b), second)
    expected = fnn.random.Generator(7).permutation(50)
    np.testing.assert_array_equal(first, expected)


def test_shuffle_without_a_seed_draws_from_the_global_generator():
    x, y = arrays(30)
    loader = DataLoader(x, y, batch_size=8, shuffle=True, backend="numpy")
    fnn.manual_seed(3)
    order = _order(loader)
    fnn.manual_seed(3)
    np.testing.assert_array_equal(order, fnn.random.default_generator.permutation(30))


def test_the_permutation_is_drawn_when_iteration_starts():
    x, y = arrays(30)
    loader = DataLoader(x, y, batch_size=8, shuffle=True, backend="numpy")
    fnn.manual_seed(3)
    batches = loader.iterate()
    fnn.manual_seed(99)  # a later reseed does not change the epoch already begun
    order = np.concatenate([yb.numpy() for _, yb in batches])
    fnn.manual_seed(3)
    np.testing.assert_array_equal(order, fnn.random.default_generator.permutation(30))


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_batches_on_every_backend(backend):
    require(backend)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((37, 2, 3)).astype(np.float32)
    y = rng.integers(0, 5, 37)
    for seed in (None, 12):
        fnn.manual_seed(1)
        expected = [(xb.numpy(), yb.numpy()) for xb, yb in
                    DataLoader(x, y, batch_size=5, shuffle=True, seed=seed).iterate("numpy")]
        fnn.manual_seed(1)
        actual = list(DataLoader(x, y, batch_size=5, shuffle=True, seed=seed).iterate(backend))
        assert all(xb.backend == backend and yb.backend == backend for xb, yb in actual)
        assert len(actual) == len(expected) == 8
        for (xb, yb), (ex, ey) in zip(actual, expected):
            np.testing.assert_array_equal(xb.numpy(), ex)
            np.testing.assert_array_equal(yb.numpy(), ey)


def test_backend_none_follows_the_current_backend_at_iteration_time():
    x, y = arrays()
    loader = DataLoader(x, y, batch_size=4)
    with fnn.use_backend("numpy"):
        assert next(iter(loader))[0].backend == "numpy"
    with fnn.use_backend("cpu"):
        assert next(iter(loader))[0].backend == "cpu"
    assert next(iter(DataLoader(x, y, backend="cpu").iterate("numpy")))[0].backend == "numpy"


def test_inputs_may_be_lists_and_tensors():
    loader = DataLoader([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], [0, 1, 0], batch_size=2, backend="numpy")
    assert loader.x.dtype == np.float32 and loader.y.dtype == np.int64
    t = fnn.tensor(np.ones((4, 2), np.float32), backend="numpy")
    assert DataLoader(t, batch_size=3).num_samples == 4


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(x=np.zeros((4, 2)), y=np.zeros(3)), ValueError, r"same number of samples, got 4 samples in x and 3 in y"),
    (dict(x=np.zeros((4, 2)), batch_size=0), ValueError, r"DataLoader: batch_size must be an int >= 1, got 0"),
    (dict(x=np.zeros((4, 2)), batch_size=2.0), TypeError, r"DataLoader: batch_size must be an int, got 2.0"),
    (dict(x=np.zeros((4, 2)), batch_size=True), TypeError, r"DataLoader: batch_size must be an int, got True"),
    (dict(x=np.array(["a", "b"])), TypeError, r"DataLoader: x must hold numbers .* got dtype <U1"),
    (dict(x=np.zeros((4, 2)), y=np.array([None] * 4)), TypeError, r"DataLoader: y must hold numbers .* object"),
    (dict(x=np.float32(3.0)), ValueError, r"x needs a sample axis"),
    (dict(x=np.zeros((4, 2)), dtype="int32"), TypeError, r"DataLoader: dtype must be float32 or float64 .*got 'int32'"),
    (dict(x=np.zeros((4, 2)), seed=-1), ValueError, r"DataLoader: seed must be an int in \[0, .*got -1"),
    (dict(x=np.zeros((4, 2)), backend="tpu"), ValueError, r"tpu"),
])
def test_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        DataLoader(**kwargs)
