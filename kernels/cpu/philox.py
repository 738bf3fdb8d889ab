"""Philox-4x32-10 (Salmon et al., SC'11) in Numba, bit-identical to kernels/reference/philox.py.

Block i of the stream for seed s is
    philox(counter = (i mod 2^32, i div 2^32, 0, 0), key = (s mod 2^32, s div 2^32))
and yields four uint32 words. Each of the 10 rounds is
    (hi0, lo0) = M0 * c0,  (hi1, lo1) = M1 * c2      (64-bit products)
    c = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0),  then k += (W0, W1) mod 2^32
Every quantity is held in a uint64 below 2^32, so the 32x32 -> 64-bit products are exact
and the words equal the reference's. Every operand is typed uint64 explicitly: Numba
turns uint64 mixed with a signed integer into float64, which would lose bits. Blocks are
independent, so the kernels run them in parallel, CHUNK blocks an iteration.

:func:`philox_words` is the loop the kernels use: it stores word j of each block to row
j of a (4, count) array, four contiguous streams, and LLVM then runs eight or sixteen
blocks at once in vector registers (vpmuludq gives the 32x32 -> 64-bit products). With
the four words stored interleaved, as one block's words follow each other in the
stream, the loop stayed scalar: 1.42 ms against 0.09 ms for the 51,200 blocks of
mnist_convnet's dropout (128 x 1600 values; bench/RESULTS.md).
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


@jit
def philox_words(words, first, count, k0, k1):
    """words[j, i] = word j of block ``first + i`` (uint64 ``first``) for i < count."""
    for i in range(count):
        index = first + np.uint64(i)
        c0 = index & _MASK
        c1 = index >> _SHIFT
        c2 = _ZERO
        c3 = _ZERO
        r0, r1 = k0, k1
        for _ in range(10):
            p0 = _M0 * c0
            p1 = _M1 * c2
            c0, c1, c2, c3 = (p1 >> _SHIFT) ^ c1 ^ r0, p1 & _MASK, (p0 >> _SHIFT) ^ c3 ^ r1, p0 & _MASK
            r0 = (r0 + _W0) & _MASK
            r1 = (r1 + _W1) & _MASK
        words[0, i] = np.uint32(c0)
        words[1, i] = np.uint32(c1)
        words[2, i] = np.uint32(c2)
        words[3, i] = np.uint32(c3)


#: Blocks a kernel iteration generates at a time: 16 KB of words, in L1 while they are used.
CHUNK = 1024


def key_of(seed):
    """(k0, k1) of a seed, as the uint64 scalars the kernels take."""
    seed = int(seed)
    return np.uint64(seed & 0xFFFFFFFF), np.uint64((seed >> 32) & 0xFFFFFFFF)


@dual
def _fill(out, offset, k0, k1, n):
    blocks = (n + 3) // 4
    for chunk in prange((blocks + CHUNK - 1) // CHUNK):
        b0 = chunk * CHUNK
        count = min(CHUNK, blocks - b0)
        words = np.empty((4, CHUNK), dtype=np.uint32)
        philox_words(words, offset + np.uint64(b0), count, k0, k1)
        full = min(count, n // 4 - b0)       # whole blocks: no bounds test, the loop vectorises
        for i in range(full):
            for j in range(4):
                out[4 * (b0 + i) + j] = words[j, i]
        for i in range(max(full, 0), count):  # the last block's words past n are not used
            for j in range(4):
                if 4 * (b0 + i) + j < n:
                    out[4 * (b0 + i) + j] = words[j, i]


def philox_uint32(seed, offset, n):
    """The n uint32 words starting at block ``offset`` of seed ``seed``'s stream."""
    out = np.empty(n, dtype=np.uint32)
    k0, k1 = key_of(seed)
    _fill(n, out, np.uint64(offset), k0, k1, n)
    return out
