"""Inverted dropout driven by the Philox stream.

Element k of x (C order) is kept when u_k >= round(rate * 2^32), where u_k is word
lane + k of the Philox stream of (seed, offset) (lane in 0..3: a mask may start inside a
block, which is how a data-parallel rank draws the words of its own rows of a batch);
then y = x * scale with scale = dtype(1 / (1 - rate)), and y = 0 where dropped. The integer comparison makes the mask bit-identical on every
backend. rate = 1 drops everything (scale 0). Backward: dx = dy * scale where kept, else 0.
"""

import numpy as np

from .philox import philox_uint32


def keep_threshold(rate):
    return min(int(round(rate * 2.0**32)), 2**32)


def scale_for(rate, dtype):
    return np.dtype(dtype).type(0.0 if rate >= 1 else 1.0 / (1.0 - rate))


def dropout_fwd(x, rate, seed, offset, lane=0):
    u = philox_uint32(seed, offset, lane + x.size)[lane:].reshape(x.shape)
    mask = (u.astype(np.uint64) >= keep_threshold(rate)).astype(np.uint8)
    return dropout_bwd(x, mask, rate), mask


def dropout_bwd(gy, mask, rate):
    return np.where(mask != 0, gy * scale_for(rate, gy.dtype), gy.dtype.type(0))
