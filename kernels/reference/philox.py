"""Philox-4x32-10 (Salmon et al., "Parallel Random Numbers: As Easy as 1, 2, 3", SC'11).

A counter-based generator: block i of the stream for seed s is
    philox(counter = (i mod 2^32, i div 2^32, 0, 0), key = (s mod 2^32, s div 2^32))
and yields four uint32 words. Each of the 10 rounds is
    (hi0, lo0) = M0 * c0,  (hi1, lo1) = M1 * c2      (64-bit products)
    c = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0),  then k += (W0, W1) mod 2^32
Because any block is a pure function of (seed, i), the NumPy, Numba and CUDA
implementations produce the same stream bit for bit.
"""

import numpy as np

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = 0x9E3779B9
_W1 = 0xBB67AE85
_MASK = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(32)


def philox4x32_10(counter, key):
    """Encrypt counters (4 arrays of uint32-valued ints) under key (k0, k1): 4 uint32 arrays."""
    c0, c1, c2, c3 = (np.asarray(c, dtype=np.uint64) for c in counter)
    k0, k1 = int(key[0]) & 0xFFFFFFFF, int(key[1]) & 0xFFFFFFFF
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        c0, c1, c2, c3 = (
            (p1 >> _SHIFT) ^ c1 ^ np.uint64(k0),
            p1 & _MASK,
            (p0 >> _SHIFT) ^ c3 ^ np.uint64(k1),
            p0 & _MASK,
        )
        k0 = (k0 + _W0) & 0xFFFFFFFF
        k1 = (k1 + _W1) & 0xFFFFFFFF
    return tuple(c.astype(np.uint32) for c in (c0, c1, c2, c3))


def philox_uint32(seed, offset, n):
    """The n uint32 words starting at block ``offset`` of seed ``seed``'s stream."""
    blocks = -(-n // 4)
    index = np.arange(offset, offset + blocks, dtype=np.uint64)
    zeros = np.zeros(blocks, dtype=np.uint64)
    words = philox4x32_10((index & _MASK, index >> _SHIFT, zeros, zeros), (seed, seed >> 32))
    return np.stack(words, axis=1).reshape(-1)[:n]
