"""A reproducible train/test split for the datasets that have no official one.

The split draws one permutation of ``range(n)`` from a Philox generator seeded with
``seed`` (``fastnn.random.Generator(seed).permutation``), so the same seed gives the
same split on every machine and every backend, independent of fastnn's global stream
(``fnn.manual_seed`` neither changes the split nor is advanced by it).

With ``n_test = ceil(test_size * n)`` for a fraction (as scikit-learn rounds) or
``n_test = test_size`` for an int, the first ``n_test`` indices of the permutation form
the test set and the rest the training set; both keep the permuted order.
"""

from __future__ import annotations

import math

import numpy as np

from ..random import Generator


def n_test_samples(test_size, n: int) -> int:
    """The number of test samples that ``test_size`` asks for out of ``n``.

    ``test_size`` is a fraction in [0, 1) or a count in [0, n).
    """
    if isinstance(test_size, bool) or not isinstance(test_size, (int, float, np.integer, np.floating)):
        raise TypeError(f"test_size must be a fraction in [0, 1) or an int count, "
                        f"got {type(test_size).__name__}")
    if isinstance(test_size, (int, np.integer)):
        if not 0 <= test_size < n:
            raise ValueError(f"test_size as a count must be in [0, {n}) for {n} samples, got {test_size}")
        return int(test_size)
    if not 0.0 <= test_size < 1.0:
        raise ValueError(f"test_size as a fraction must be in [0, 1), got {test_size}")
    return math.ceil(test_size * n)


def train_test_split(x: np.ndarray, y: np.ndarray, test_size=0.2, seed: int = 0):
    """Split ``x`` and ``y`` (same first dimension n) into ``(x_train, y_train), (x_test, y_test)``.

    Deterministic: the permutation comes from ``fastnn.random.Generator(seed)``. Arrays keep
    their dtypes and trailing shapes; the training part has ``n - n_test`` rows and the test
    part ``n_test`` rows (see the module docstring for ``n_test``).
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    n_test = n_test_samples(test_size, len(x))
    order = Generator(seed).permutation(len(x))
    test_index, train_index = order[:n_test], order[n_test:]
    return (x[train_index], y[train_index]), (x[test_index], y[test_index])


def standardize(x_train: np.ndarray, x_test: np.ndarray):
    """Z-score both parts with the training part's statistics: z = (x - mean) / std.

    mean and the population std are taken over the rows of ``x_train`` only, so the test
    set does not leak into the scaling; a constant column (std 0) is only centred.
    Returns float32 arrays of the input shapes.
    """
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std[std == 0] = 1.0
    return ((x_train - mean) / std).astype(np.float32), ((x_test - mean) / std).astype(np.float32)
