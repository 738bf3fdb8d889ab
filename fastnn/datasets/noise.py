"""Label noise: a share of class labels replaced by a wrong class, to study overfitting.

A network big enough to memorise its training set learns the wrong labels too, so its
training accuracy climbs past the share of correct labels while its test accuracy falls:
the clearest picture of overfitting, and of what dropout and L2 do against it.
"""

from __future__ import annotations

import numbers

import numpy as np


def corrupt_labels(labels, fraction: float, num_classes: int | None = None, seed: int = 0):
    """A copy of ``labels`` with about ``fraction`` of them made wrong: ``(noisy, flipped)``.

        flipped_i  ~ Bernoulli(fraction), independently for every label
        noisy_i    = (y_i + k_i) mod C  where flipped_i,  k_i uniform in {1, ..., C - 1}
                   = y_i                elsewhere

    Adding 1 to C - 1 modulo C always gives another class, so every flipped label is really
    wrong, and uniformly so. ``C = num_classes`` (default ``labels.max() + 1``). The draws
    come from ``numpy.random.default_rng(seed)``; fastnn's global random stream is untouched.
    Returns the int64 labels and the boolean mask of the flipped ones.
    """
    y = np.asarray(labels)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"corrupt_labels: labels must be integer class labels of shape (N,), "
                         f"got {y.dtype} of shape {y.shape}")
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not 0.0 <= fraction <= 1.0:
        raise ValueError(f"corrupt_labels: fraction must be a number in [0, 1], got {fraction!r}")
    classes = int(y.max()) + 1 if num_classes is None and y.size else num_classes
    if isinstance(classes, bool) or not isinstance(classes, numbers.Integral) or classes < 2:
        raise ValueError(f"corrupt_labels: num_classes must be an int >= 2 (a wrong class must exist), "
                         f"got {classes!r}")
    if y.size and (y.min() < 0 or y.max() >= classes):
        raise ValueError(f"corrupt_labels: labels must lie in [0, {classes - 1}], "
                         f"got values in [{y.min()}, {y.max()}]")
    rng = np.random.default_rng(seed)
    flipped = rng.random(y.shape[0]) < fraction
    noisy = y.astype(np.int64)  # a copy: the caller's labels stay as they were
    noisy[flipped] = (noisy[flipped] + rng.integers(1, classes, int(flipped.sum()))) % classes
    return noisy, flipped
