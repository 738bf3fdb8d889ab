"""Inverted dropout: while training, each element is kept with probability 1 - rate
and scaled by 1 / (1 - rate), so the expected activation is unchanged and inference
is the identity. Masks come from fastnn's Philox stream: the same seed gives the same
mask on every backend. Gradient: dx = dy * mask / (1 - rate).

Element k of x takes word k of the words reserved for x. In a data-parallel step
(``fastnn.random.sample_share``) x is a rank's rows of the global batch, and the
words reserved are the whole batch's: its element k takes word start * F + k (F values a
sample, start its first row), exactly the word one process gives that element.
"""

from __future__ import annotations

import numbers

from .. import arguments
from ..function import Function
from ..random import default_generator
from .checks import require_float


class Dropout(Function):
    def forward(self, x, rate, seed, offset, lane=0):
        require_float("dropout", x=x)
        self.rate = rate
        y, self.mask = self.k.dropout_fwd(x, rate, seed, offset, lane)
        return y

    def backward(self, g):
        return (self.k.dropout_bwd(g, self.mask, self.rate),)


def dropout(x, rate, training):
    """Zero each element with probability ``rate`` while training; identity otherwise."""
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0.0 <= rate <= 1.0:
        raise ValueError(f"dropout: rate must be a number in [0, 1], got {rate!r}")
    if training is not True and training is not False:
        training = arguments.boolean(training, "dropout", "training")
    if not training or rate == 0.0:
        return x
    seed, offset, lane = default_generator.take_sample_words(x.shape)
    return Dropout.apply(x, rate=float(rate), seed=seed, offset=offset, lane=lane)
