"""A 2-D Gaussian mixture with its modes on a ring: the classic toy target of a GAN.

The mixture has ``modes`` equally weighted components. Component k is centred at

    c_k = radius * (cos(2 pi k / modes), sin(2 pi k / modes)),   k = 0 .. modes - 1

and has the isotropic covariance std^2 I, so its density is

    p(x) = (1 / modes) sum_k N(x; c_k, std^2 I).

Because every mode is known, a generator's samples can be scored directly: assign each
sample to its nearest centre and count how many modes get samples (mode coverage) and
how many samples lie within a few std of their centre (sample quality). A generator
that collapses onto one or two modes ("mode collapse") is visible at once.
"""

from __future__ import annotations

import numpy as np

from ..random import Generator
from .arguments import count, finite_real
from .arguments import seed as check_seed


def ring_centres(modes: int, radius: float) -> np.ndarray:
    """The ``modes`` centres c_k = radius (cos(2 pi k / modes), sin(2 pi k / modes)), float32 (modes, 2)."""
    angles = 2.0 * np.pi * np.arange(modes) / modes
    return (radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)).astype(np.float32)


def gaussian_mixture_2d(n: int, modes: int = 8, radius: float = 2.0, std: float = 0.05, seed: int = 0):
    """``n`` samples of the ring mixture above: returns ``(points, centres)``.

        points   float32 (n, 2): x_i = c_{k_i} + std * N(0, I), with the mode k_i drawn
                 uniformly from 0 .. modes - 1 for every sample
        centres  float32 (modes, 2): the centres c_k, in order of angle from (radius, 0)

    The draws come from ``fastnn.random.Generator(seed)``: the same on every machine, and
    fastnn's global random stream is neither used nor advanced. ``std=0`` puts every
    sample exactly on its centre.
    """
    n = count(n, "gaussian_mixture_2d: n")
    modes = count(modes, "gaussian_mixture_2d: modes")
    radius = finite_real(radius, "gaussian_mixture_2d: radius", minimum=0, inclusive=False)
    std = finite_real(std, "gaussian_mixture_2d: std", minimum=0)
    generator = Generator(check_seed(seed, "gaussian_mixture_2d: seed"))
    centres = ring_centres(modes, radius)
    chosen = generator.integers(0, modes, (n,))
    noise = generator.normal((n, 2), std=std, dtype="float64") if std > 0 else np.zeros((n, 2))
    points = (centres[chosen].astype(np.float64) + noise).astype(np.float32)
    return points, centres


def nearest_mode(points, centres):
    """For each point, the index of its nearest centre and the distance to it: ``(index, distance)``.

    index int64 (n,), distance float64 (n,), with distance_i = min_k ||x_i - c_k||_2.
    """
    points = np.asarray(points, dtype=np.float64)
    centres = np.asarray(centres, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"nearest_mode: points must have shape (n, 2), got {points.shape}")
    if centres.ndim != 2 or centres.shape[1] != 2 or len(centres) < 1:
        raise ValueError(f"nearest_mode: centres must have shape (modes, 2) with modes >= 1, got {centres.shape}")
    distances = np.linalg.norm(points[:, None, :] - centres[None, :, :], axis=2)
    index = distances.argmin(axis=1)
    return index, distances[np.arange(len(points)), index]
