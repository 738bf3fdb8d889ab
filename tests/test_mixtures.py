"""fastnn.datasets.mixtures: the ring of Gaussians (centres, spread, balance, seeding) and
nearest-mode scoring, with clear errors for bad arguments."""

import numpy as np
import pytest

import fastnn as fnn
from fastnn.datasets.mixtures import gaussian_mixture_2d, nearest_mode, ring_centres


def test_shapes_and_dtypes():
    points, centres = gaussian_mixture_2d(100, modes=5, radius=3.0, std=0.1, seed=1)
    assert points.shape == (100, 2) and points.dtype == np.float32
    assert centres.shape == (5, 2) and centres.dtype == np.float32


@pytest.mark.parametrize("modes", [1, 4, 8])
def test_centres_lie_on_the_ring_at_equal_angles(modes):
    _, centres = gaussian_mixture_2d(10, modes=modes, radius=2.5, std=0.0)
    k = np.arange(modes)
    expected = 2.5 * np.stack([np.cos(2 * np.pi * k / modes), np.sin(2 * np.pi * k / modes)], axis=1)
    np.testing.assert_allclose(centres, expected, atol=1e-6)
    np.testing.assert_allclose(ring_centres(modes, 2.5), expected, atol=1e-6)


def test_zero_std_puts_every_point_on_a_centre():
    points, centres = gaussian_mixture_2d(50, modes=6, radius=1.0, std=0.0)
    distance = np.linalg.norm(points[:, None] - centres[None], axis=2).min(axis=1)
    assert np.all(distance < 1e-6)


def test_spread_around_the_centres_is_std():
    std = 0.05
    points, centres = gaussian_mixture_2d(40000, modes=8, radius=2.0, std=std, seed=3)
    index = np.linalg.norm(points[:, None] - centres[None], axis=2).argmin(axis=1)
    offsets = points - centres[index]
    np.testing.assert_allclose(offsets.mean(axis=0), 0.0, atol=3e-3)
    np.testing.assert_allclose(offsets.std(axis=0), std, rtol=0.02)
    # 2-D Gaussian: P(|offset| <= 3 std) = 1 - exp(-9/2) = 0.9889
    assert np.mean(np.linalg.norm(offsets, axis=1) <= 3 * std) == pytest.approx(1 - np.exp(-4.5), abs=0.005)


def test_modes_are_equally_likely():
    points, centres = gaussian_mixture_2d(40000, modes=4, radius=1.0, std=0.01, seed=2)
    index = np.linalg.norm(points[:, None] - centres[None], axis=2).argmin(axis=1)
    np.testing.assert_allclose(np.bincount(index, minlength=4) / len(points), 0.25, atol=0.01)


def test_seeded_and_independent_of_the_global_stream():
    fnn.manual_seed(123)
    state = fnn.get_rng_state()
    a, _ = gaussian_mixture_2d(64, seed=7)
    assert fnn.get_rng_state() == state            # the global stream is not advanced
    fnn.manual_seed(999)
    b, _ = gaussian_mixture_2d(64, seed=7)
    c, _ = gaussian_mixture_2d(64, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_nearest_mode_index_and_distance():
    centres = np.array([[1.0, 0.0], [-1.0, 0.0]])
    points = np.array([[0.9, 0.1], [-2.0, 0.0], [0.1, 0.0]])
    index, distance = nearest_mode(points, centres)
    np.testing.assert_array_equal(index, [0, 1, 0])
    np.testing.assert_allclose(distance, [np.hypot(0.1, 0.1), 1.0, 0.9])


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(n=0), ValueError, ["n", "int >= 1", "0"]),
    (dict(n=2.5), TypeError, ["n", "int", "2.5"]),
    (dict(n=True), TypeError, ["n", "bool"]),
    (dict(n=10, modes=0), ValueError, ["modes", "int >= 1", "0"]),
    (dict(n=10, modes=3.0), TypeError, ["modes", "int", "float"]),
    (dict(n=10, radius=0.0), ValueError, ["radius", "> 0", "0.0"]),
    (dict(n=10, radius=float("inf")), ValueError, ["radius", "finite", "inf"]),
    (dict(n=10, radius="1"), TypeError, ["radius", "real", "str"]),
    (dict(n=10, std=-0.1), ValueError, ["std", ">= 0", "-0.1"]),
    (dict(n=10, std=float("nan")), ValueError, ["std", "nan"]),
    (dict(n=10, seed=1.5), TypeError, ["seed", "int", "1.5"]),
])
def test_bad_arguments_are_named(kwargs, error, words):
    with pytest.raises(error) as raised:
        gaussian_mixture_2d(**kwargs)
    for word in words:
        assert word in str(raised.value)


@pytest.mark.parametrize("points, centres, name", [
    (np.zeros((5, 3)), np.zeros((2, 2)), "points"),
    (np.zeros(4), np.zeros((2, 2)), "points"),
    (np.zeros((5, 2)), np.zeros((0, 2)), "centres"),
    (np.zeros((5, 2)), np.zeros((2, 3)), "centres"),
])
def test_nearest_mode_checks_shapes(points, centres, name):
    with pytest.raises(ValueError, match=name) as raised:
        nearest_mode(points, centres)
    assert str(np.shape(points if name == "points" else centres)) in str(raised.value)
