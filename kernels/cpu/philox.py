"""Philox-4x32-10 (Salmon et al., SC'11) in Numba, bit-identical to kernels/reference/philox.py.

Block i of the stream for seed s is
    philox(counter = (i mod 2^32, i div 2^32, 0, 0), key = (s mod 2^32, s div 2^32))
and yields four uint32 words. Each of the 10 rounds is
    (hi0, lo0) = M0 * c0,  (hi1, lo1) = M1 * c2      (64-bit products)
    c = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0),  then k += (W0, W1) mod 2^32
Every quantity is held in a uint64 below 2^32, so the 32x32 -> 64-bit products are exact
and the words equal the reference's. Every operand is typed uint64 explicitly: Numba
turns uint64 mixed with a signed integer into float64, which would lose bits. Blocks are
independent, so the kernel runs them in parallel (one block = four words of work).
"""

import numpy as np

from ._jit import dual, jit, prange

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)
_W1 = np.uint64(0xBB67AE85)
_MASK = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(32)
_ZERO = np.uint64(0)


@jit
def philox_block(index, k0, k1):
    """The four words of block ``index`` (uint64) under key (k0, k1), as uint64 < 2^32."""
    c0 = index & _MASK
    c1 = index >> _SHIFT
    c2 = _ZERO
    c3 = _ZERO
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        c0, c1, c2, c3 = (p1 >> _SHIFT) ^ c1 ^ k0, p1 & _MASK, (p0 >> _SHIFT) ^ c3 ^ k1, p0 & _MASK
        k0 = (k0 + _W0) & _MASK
        k1 = (k1 + _W1) & _MASK
    return c0, c1, c2, c3


def key_of(seed):
    """(k0, k1) of a seed, as the uint64 scalars the kernels take."""
    seed = int(seed)
    return np.uint64(seed & 0xFFFFFFFF), np.uint64((seed >> 32) & 0xFFFFFFFF)


@dual
def _fill(out, offset, k0, k1):
    for b in prange(out.shape[0] // 4):
        w0, w1, w2, w3 = philox_block(offset + np.uint64(b), k0, k1)
        out[4 * b] = np.uint32(w0)
        out[4 * b + 1] = np.uint32(w1)
        out[4 * b + 2] = np.uint32(w2)
        out[4 * b + 3] = np.uint32(w3)


def philox_uint32(seed, offset, n):
    """The n uint32 words starting at block ``offset`` of seed ``seed``'s stream."""
    blocks = -(-n // 4)
    out = np.empty(4 * blocks, dtype=np.uint32)
    k0, k1 = key_of(seed)
    _fill(out.size, out, np.uint64(offset), k0, k1)
    return out[:n]
