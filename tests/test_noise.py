"""fastnn.datasets.corrupt_labels: label noise for the overfitting lessons."""

import numpy as np
import pytest

from fastnn.datasets import corrupt_labels


def test_flipped_labels_are_all_wrong_and_the_rest_untouched():
    labels = np.arange(10_000) % 10
    noisy, flipped = corrupt_labels(labels, 0.3, seed=1)
    assert noisy.dtype == np.int64 and flipped.dtype == bool
    assert np.all(noisy[flipped] != labels[flipped])
    np.testing.assert_array_equal(noisy[~flipped], labels[~flipped])
    assert noisy.min() >= 0 and noisy.max() <= 9
    assert abs(flipped.mean() - 0.3) < 0.02          # Bernoulli(0.3): sd of the mean 0.0046


def test_wrong_classes_are_uniform_over_the_other_classes():
    labels = np.zeros(90_000, dtype=np.int64)
    noisy, flipped = corrupt_labels(labels, 1.0, num_classes=10, seed=2)
    assert flipped.all()
    counts = np.bincount(noisy, minlength=10)
    assert counts[0] == 0
    np.testing.assert_allclose(counts[1:] / len(labels), 1 / 9, atol=0.005)


def test_seeded_and_the_input_is_not_changed():
    labels = np.arange(500) % 7
    before = labels.copy()
    first = corrupt_labels(labels, 0.5, seed=3)
    again = corrupt_labels(labels, 0.5, seed=3)
    other = corrupt_labels(labels, 0.5, seed=4)
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(first[1], other[1])
    np.testing.assert_array_equal(labels, before)
    noisy, flipped = corrupt_labels(labels, 0.0)
    np.testing.assert_array_equal(noisy, labels)
    assert not flipped.any()


@pytest.mark.parametrize("labels,kwargs,match", [
    (np.zeros((3, 2), dtype=np.int64), {}, r"shape \(N,\).*\(3, 2\)"),
    (np.array([0.0, 1.0]), {}, "integer class labels.*float64"),
    (np.array([0, 1]), {"fraction": 1.5}, r"fraction must be a number in \[0, 1\], got 1.5"),
    (np.array([0, 0]), {}, "num_classes must be an int >= 2.*got 1"),
    (np.array([0, 5]), {"num_classes": 3}, r"labels must lie in \[0, 2\], got values in \[0, 5\]"),
])
def test_bad_input_is_refused(labels, kwargs, match):
    with pytest.raises(ValueError, match=match):
        corrupt_labels(labels, **{"fraction": 0.2, **kwargs})
