"""fastnn.datasets.sequences: the sequence tasks for recurrent networks (shapes, dtypes, the
targets recomputed independently, determinism per seed, clear errors)."""

import numpy as np
import pytest

import fastnn as fnn
from fastnn.datasets.sequences import adding_problem, delayed_recall, sine_waves

GENERATORS = [sine_waves, adding_problem, delayed_recall]
FEATURES = {sine_waves: 1, adding_problem: 2, delayed_recall: 2}


@pytest.mark.parametrize("make", GENERATORS, ids=lambda f: f.__name__)
def test_shapes_and_dtypes(make):
    x, y = make(7, 9, seed=3)
    assert x.shape == (7, 9, FEATURES[make]) and x.dtype == np.float32
    assert y.shape == (7, 1) and y.dtype == np.float32
    assert np.isfinite(x).all() and np.isfinite(y).all()


@pytest.mark.parametrize("make", GENERATORS, ids=lambda f: f.__name__)
def test_same_seed_same_data_other_seed_other_data(make):
    x1, y1 = make(20, 8, seed=5)
    x2, y2 = make(20, 8, seed=5)
    x3, y3 = make(20, 8, seed=6)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(x1, x3) and not np.array_equal(y1, y3)


@pytest.mark.parametrize("make", GENERATORS, ids=lambda f: f.__name__)
def test_fastnn_global_random_stream_is_neither_used_nor_moved(make, rng_restored):
    fnn.manual_seed(123)
    before = fnn.get_rng_state()
    x1, _ = make(10, 6, seed=1)
    assert fnn.get_rng_state() == before
    fnn.manual_seed(999)
    x2, _ = make(10, 6, seed=1)
    np.testing.assert_array_equal(x1, x2)


# -- sine_waves ------------------------------------------------------------------------
def test_sine_waves_follow_the_sine_recurrence_and_the_target_continues_the_window():
    x, y = sine_waves(200, 12, seed=0, min_period=5.0, max_period=30.0)
    wave = np.concatenate([x[:, :, 0], y], axis=1).astype(np.float64)   # (200, 13): window + next value
    # Every sine of period P obeys s(t+1) + s(t-1) = 2 cos(2 pi / P) s(t): recover cos(2 pi / P)
    # from the window by least squares, then check the next value against the recurrence.
    two_cos = np.array([np.linalg.lstsq(w[1:-2, None], w[2:-1] + w[:-3], rcond=None)[0][0] for w in wave])
    predicted_next = two_cos * wave[:, -2] - wave[:, -3]
    np.testing.assert_allclose(predicted_next, wave[:, -1], atol=1e-4)
    period = 2 * np.pi / np.arccos(np.clip(two_cos / 2, -1, 1))
    assert (period > 5.0 - 1e-3).all() and (period < 30.0 + 1e-3).all()
    assert np.abs(wave).max() <= 1.0


def test_sine_waves_noise_is_added_to_the_inputs_only():
    clean_x, clean_y = sine_waves(50, 10, seed=2)
    noisy_x, noisy_y = sine_waves(50, 10, seed=2, noise=0.1)
    np.testing.assert_array_equal(clean_y, noisy_y)
    residual = (noisy_x - clean_x).ravel()
    assert 0.07 < residual.std() < 0.13


def test_sine_waves_last_value_baseline_matches_its_formula():
    # E[(s(T) - s(T-1))^2] = E[1 - cos(2 pi / P)] with P ~ U[10, 20), computed by quadrature.
    periods = np.linspace(10.0, 20.0, 100001)
    expected = np.mean(1 - np.cos(2 * np.pi / periods))
    x, y = sine_waves(20000, 5, seed=0, min_period=10.0, max_period=20.0)
    measured = np.mean((y[:, 0] - x[:, -1, 0]) ** 2)
    assert measured == pytest.approx(expected, rel=0.03)


# -- adding_problem ----------------------------------------------------------------------
def test_adding_problem_has_exactly_two_markers_one_in_each_half():
    length = 11
    x, _ = adding_problem(300, length, seed=1)
    markers = x[:, :, 1]
    assert set(np.unique(markers)) == {0.0, 1.0}
    assert (markers.sum(axis=1) == 2).all()
    half = length // 2
    assert (markers[:, :half].sum(axis=1) == 1).all() and (markers[:, half:].sum(axis=1) == 1).all()
    values = x[:, :, 0]
    assert values.min() >= 0.0 and values.max() < 1.0


def test_adding_problem_target_is_the_sum_of_the_marked_values():
    x, y = adding_problem(100, 15, seed=4)
    expected = np.array([sum(v for v, m in zip(row[:, 0], row[:, 1]) if m == 1.0) for row in x])
    np.testing.assert_allclose(y[:, 0], expected, rtol=1e-6)


def test_adding_problem_constant_baseline_is_one_sixth():
    _, y = adding_problem(50000, 10, seed=0)
    assert np.mean((y - 1.0) ** 2) == pytest.approx(1 / 6, rel=0.03)


def test_adding_problem_of_length_two_marks_both_steps():
    x, y = adding_problem(5, 2, seed=0)
    np.testing.assert_array_equal(x[:, :, 1], np.ones((5, 2), dtype=np.float32))
    np.testing.assert_allclose(y[:, 0], x[:, 0, 0] + x[:, 1, 0], rtol=1e-6)


# -- delayed_recall ----------------------------------------------------------------------
def test_delayed_recall_marks_one_early_step_and_asks_for_its_value():
    x, y = delayed_recall(400, 20, seed=0, window=5)
    markers = x[:, :, 1]
    assert (markers.sum(axis=1) == 1).all() and set(np.unique(markers)) == {0.0, 1.0}
    position = markers.argmax(axis=1)
    assert position.max() <= 4 and set(position) == {0, 1, 2, 3, 4}
    np.testing.assert_array_equal(y[:, 0], x[np.arange(400), position, 0])
    values = x[:, :, 0]
    assert values.min() >= -1.0 and values.max() < 1.0


def test_delayed_recall_default_window_is_a_quarter_of_the_length_rounded_up():
    x, _ = delayed_recall(2000, 10, seed=0)          # ceil(10 / 4) = 3
    assert set(x[:, :, 1].argmax(axis=1)) == {0, 1, 2}


def test_delayed_recall_zero_baseline_is_one_third():
    _, y = delayed_recall(50000, 4, seed=0)
    assert np.mean(y ** 2) == pytest.approx(1 / 3, rel=0.03)


# -- errors ------------------------------------------------------------------------------
@pytest.mark.parametrize("make", GENERATORS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("argument,kwargs,error,message", [
    ("n", dict(n=0, length=5), ValueError, r"n must be an int >= 1, got 0"),
    ("n", dict(n=2.5, length=5), TypeError, r"n must be an int, got float 2.5"),
    ("n", dict(n=True, length=5), TypeError, r"n must be an int, got bool"),
    ("length", dict(n=3, length=0), ValueError, r"length must be an int >= \d, got 0"),
    ("length", dict(n=3, length="5"), TypeError, r"length must be an int, got str '5'"),
    ("seed", dict(n=3, length=5, seed=-1), ValueError, r"seed must be a non-negative int, got -1"),
    ("seed", dict(n=3, length=5, seed=1.0), TypeError, r"seed must be an int, got float 1.0"),
])
def test_bad_common_arguments_are_refused_by_name(make, argument, kwargs, error, message):
    with pytest.raises(error, match=message):
        make(**kwargs)


def test_adding_problem_needs_room_for_two_markers():
    with pytest.raises(ValueError, match=r"length must be an int >= 2, got 1"):
        adding_problem(3, 1)


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(min_period=2.0), ValueError, r"2 < min_period <= max_period .* got min_period=2.0, max_period=24.0"),
    (dict(min_period=30.0), ValueError, r"min_period=30.0, max_period=24.0"),
    (dict(max_period=float("inf")), ValueError, r"max_period must be finite, got inf"),
    (dict(min_period="8"), TypeError, r"min_period must be a real number, got str '8'"),
    (dict(noise=-0.1), ValueError, r"noise must be a non-negative standard deviation, got -0.1"),
    (dict(noise=None), TypeError, r"noise must be a real number, got NoneType None"),
])
def test_sine_waves_bad_options(kwargs, error, message):
    with pytest.raises(error, match=message):
        sine_waves(3, 5, **kwargs)


@pytest.mark.parametrize("window,error,message", [
    (0, ValueError, r"window must be an int >= 1, got 0"),
    (6, ValueError, r"window must be at most length \(5\).* got window=6"),
    (2.0, TypeError, r"window must be an int, got float 2.0"),
])
def test_delayed_recall_bad_window(window, error, message):
    with pytest.raises(error, match=message):
        delayed_recall(3, 5, window=window)
