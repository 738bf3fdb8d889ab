"""Made-up datasets: XOR, the smallest problem a linear model cannot solve."""

from __future__ import annotations

import numpy as np

from ..random import Generator

XOR_POINTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_LABELS = np.array([0, 1, 1, 0], dtype=np.int64)


def xor(n: int = 4, noise: float = 0.0, seed: int = 0, as_float: bool = False):
    """The XOR truth table, optionally repeated with Gaussian noise: returns ``(x, y)``.

        x  float32, shape (n, 2): sample i is the corner ``XOR_POINTS[i % 4]``
           ((0, 0), (0, 1), (1, 0), (1, 1)) plus ``noise * N(0, 1)`` on each coordinate
        y  the label of that corner, x0 XOR x1: int64 of shape (n,) (for
           ``sparse_categorical_crossentropy`` on two outputs), or with ``as_float=True``
           float32 of shape (n, 1) (for one sigmoid output and ``binary_crossentropy``)

    The defaults give exactly the four points. There is no train/test split: the truth
    table is the whole problem. The noise comes from ``fastnn.random.Generator(seed)``, so it
    is the same on every machine and does not move fastnn's global random stream.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if not noise >= 0.0:
        raise ValueError(f"noise must be a non-negative standard deviation, got {noise!r}")
    corners = np.arange(n) % len(XOR_POINTS)
    x = XOR_POINTS[corners].copy()
    if noise > 0:
        x += Generator(seed).normal((n, 2), std=float(noise), dtype="float32")
    y = XOR_LABELS[corners]
    if as_float:
        return x, y.astype(np.float32).reshape(n, 1)
    return x, y.copy()
