"""Made-up sequence tasks for recurrent networks: each is a few lines of numpy, seeded, with
a known answer and a known trivial baseline, so a learner can see what a recurrent layer
learns and how far back it can remember.

    generator                        x (N, T, F)                              y (N, 1)
    sine_waves(n, length, seed)      F = 1: a sine wave                       its next value
    adding_problem(n, length, seed)  F = 2: values in [0, 1), two markers     the sum of the marked values
    delayed_recall(n, length, seed)  F = 2: values in [-1, 1), one marker     the marked value

Every generator returns float32 arrays ``x`` of shape (n, length, features) (the layout of
``fastnn.layers.SimpleRNN``, ``LSTM`` and ``GRU``) and ``y`` of shape (n, 1). The
randomness comes from ``numpy.random.default_rng(seed)``: the same seed gives the same data
on every machine, and fastnn's global random stream is neither used nor advanced.
"""

from __future__ import annotations

import numpy as np

from .arguments import count, finite_real
from .arguments import seed as check_seed


# -- the tasks ------------------------------------------------------------------------
def sine_waves(n: int, length: int, seed: int = 0, min_period: float = 8.0, max_period: float = 24.0,
               noise: float = 0.0):
    """Windows of sine waves and the value that comes next: returns ``(x, y)``.

    Sample i is a unit sine wave with its own period P_i and phase phi_i,

        s_i(t) = sin(2 pi t / P_i + phi_i),   P_i ~ U[min_period, max_period),  phi_i ~ U[0, 2 pi)

        x[i, t, 0] = s_i(t) + noise * e_it   for t = 0, ..., length - 1   (e_it ~ N(0, 1))
        y[i, 0]    = s_i(length)             the clean next value

    x is float32 (n, length, 1), y float32 (n, 1). Because the period differs from sample to
    sample, a model has to read it off the window: a sine obeys
    s(t+1) = 2 cos(2 pi / P) s(t) - s(t-1), so two past values and the period fix the next one.
    Two trivial baselines to beat: predicting 0 (the mean) has a mean squared error of 1/2;
    repeating the last value has E[(s(T) - s(T-1))^2] = E[1 - cos(2 pi / P)], small for long
    periods.
    """
    n, length, seed = count(n, "n"), count(length, "length"), check_seed(seed)
    min_period, max_period = finite_real(min_period, "min_period"), finite_real(max_period, "max_period")
    noise = finite_real(noise, "noise")
    if not 2.0 < min_period <= max_period:
        raise ValueError(f"periods must satisfy 2 < min_period <= max_period (a period of 2 steps or less "
                         f"aliases), got min_period={min_period}, max_period={max_period}")
    if noise < 0:
        raise ValueError(f"noise must be a non-negative standard deviation, got {noise}")
    rng = np.random.default_rng(seed)
    period = rng.uniform(min_period, max_period, size=(n, 1))
    phase = rng.uniform(0.0, 2.0 * np.pi, size=(n, 1))
    steps = np.arange(length + 1)
    waves = np.sin(2.0 * np.pi * steps / period + phase)           # (n, length + 1): the window and the next value
    x = waves[:, :length] + noise * rng.standard_normal((n, length))
    return x[:, :, None].astype(np.float32), waves[:, length:].astype(np.float32)


def adding_problem(n: int, length: int, seed: int = 0):
    """The adding problem (Hochreiter & Schmidhuber, 1997): add two numbers seen far apart.

    Each step t carries two channels,

        x[i, t, 0] = v_it ~ U[0, 1)         a random value
        x[i, t, 1] = 1 if t in {a_i, b_i}   a marker: exactly two 1s per sequence, else 0
        y[i, 0]    = v_{i a_i} + v_{i b_i}  the sum of the two marked values

    with the first marker a_i uniform in the first half, [0, length // 2), and the second
    b_i uniform in the second half, [length // 2, length) (the form of Le, Jaitly and
    Hinton, 2015), so the model must keep the first value for about length / 2 steps on
    average, ignoring the unmarked ones in between. x is float32 (n, length, 2), y float32
    (n, 1). The trivial baseline predicts the mean sum, 1.0, whatever the input; its mean
    squared error is the variance of a sum of two U[0, 1) values, 2 / 12 = 0.1667.
    ``length`` must be at least 2.
    """
    n, length, seed = count(n, "n"), count(length, "length", minimum=2), check_seed(seed)
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.0, 1.0, size=(n, length))
    half = length // 2
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, length, size=n)
    markers = np.zeros((n, length))
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=2).astype(np.float32)
    # The target from the float32 values the model sees, so y is exactly their (float32) sum.
    y = x[rows, first, 0] + x[rows, second, 0]
    return x, y[:, None].astype(np.float32)


def delayed_recall(n: int, length: int, seed: int = 0, window: int | None = None):
    """Recall, at the end of a sequence, the one value that was marked near its start.

    Every step shows a random value; one of the first ``window`` steps is marked:

        x[i, t, 0] = v_it ~ U[-1, 1)          a value at every step
        x[i, t, 1] = 1 if t == p_i else 0     the marker: exactly one 1 per sequence
        y[i, 0]    = v_{i p_i}                the marked value
        p_i ~ uniform on {0, 1, ..., window - 1}      (default window = ceil(length / 4))

    x is float32 (n, length, 2), y float32 (n, 1). The answer lies between
    ``length - window`` and ``length - 1`` steps back, and all the unmarked values in
    between look just like it: a model has to let the marked value in, shut out the others,
    and hold on to it, so ``length`` sets how long it has to remember. Because the marked
    step varies, the value cannot be read off a fixed position of the state either. The
    trivial baseline predicts 0, the mean of v; its mean squared error is
    Var(v) = (1 - (-1))^2 / 12 = 1/3.
    """
    n, length, seed = count(n, "n"), count(length, "length"), check_seed(seed)
    window = -(-length // 4) if window is None else count(window, "window")
    if window > length:
        raise ValueError(f"window must be at most length ({length}): the marked step is one of the first "
                         f"window steps, got window={window}")
    rng = np.random.default_rng(seed)
    values = rng.uniform(-1.0, 1.0, size=(n, length))
    marked = rng.integers(0, window, size=n)
    rows = np.arange(n)
    x = np.zeros((n, length, 2), dtype=np.float32)
    x[:, :, 0] = values
    x[rows, marked, 1] = 1.0
    return x, x[rows, marked, 0][:, None].copy()
