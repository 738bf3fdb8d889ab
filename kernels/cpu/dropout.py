"""Inverted dropout (Numba) driven by the Philox stream, bit-identical to the reference.

Element k of x (C order) is kept when u_k >= round(rate * 2^32), u_k being word
lane + k of the Philox stream of (seed, offset) (lane 0..3); y = x * scale where kept, 0 where dropped, with
scale = dtype(1 / (1 - rate)) (0 when rate >= 1: everything is dropped).
Backward: dx = dy * scale where kept, else 0.

The forward pass generates the Philox words CHUNK blocks at a time into a 16 KB array
(philox.philox_words, which vectorises) and uses them at once, so the stream is never
materialised whole; chunks run in parallel. The
threshold is an integer compared with the integer word (no float rounding), which is
what makes the mask identical on every backend. Dropped elements are 0 even where x
is NaN or inf, as in the reference (a select, not a multiplication by the mask).
"""

import numpy as np

from ._jit import dual, jit, prange
from ..reference.dropout import keep_threshold, scale_for
from .philox import CHUNK, key_of, philox_words


@jit
def _keep(x, y, mask, k, word, threshold, scale):
    keep = np.uint64(word) >= threshold
    mask[k] = np.uint8(1) if keep else np.uint8(0)
    y[k] = x[k] * scale if keep else 0.0


@dual
def _dropout_fwd(x, y, mask, offset, lane, k0, k1, threshold, scale):
    n = x.shape[0]
    blocks = (lane + n + 3) // 4
    for chunk in prange((blocks + CHUNK - 1) // CHUNK):
        b0 = chunk * CHUNK
        count = min(CHUNK, blocks - b0)
        words = np.empty((4, CHUNK), dtype=np.uint32)
        philox_words(words, offset + np.uint64(b0), count, k0, k1)
        if lane == 0:
            # Whole blocks without a bounds test (the loop vectorises); the last block's
            # words past n are not used.
            full = min(count, n // 4 - b0)
            for i in range(full):
                for j in range(4):
                    _keep(x, y, mask, 4 * (b0 + i) + j, words[j, i], threshold, scale)
            first = max(full, 0)
        else:
            first = 0
        # Word j of block b0 + i belongs to element 4 (b0 + i) + j - lane, if any.
        for i in range(first, count):
            for j in range(4):
                e = 4 * (b0 + i) + j - lane
                if 0 <= e < n:
                    _keep(x, y, mask, e, words[j, i], threshold, scale)


@dual
def _dropout_bwd(gy, mask, gx, scale):
    for i in prange(gy.shape[0]):
        gx[i] = gy[i] * scale if mask[i] != 0 else 0.0


def dropout_fwd(x, rate, seed, offset, lane=0):
    y = np.empty_like(x)
    mask = np.empty(x.shape, dtype=np.uint8)
    k0, k1 = key_of(seed)
    # A threshold of 2^32 (rate 1) keeps nothing: every word is below it.
    _dropout_fwd(x.size, x.reshape(-1), y.reshape(-1), mask.reshape(-1), np.uint64(offset), lane, k0, k1,
                 np.uint64(keep_threshold(rate)), scale_for(rate, x.dtype))
    return y, mask


def dropout_bwd(gy, mask, rate):
    gx = np.empty_like(gy)
    _dropout_bwd(gy.size, gy.reshape(-1), mask.reshape(-1), gx.reshape(-1), scale_for(rate, gy.dtype))
    return gx
