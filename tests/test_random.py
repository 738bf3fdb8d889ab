"""Philox-4x32-10 (known-answer vectors of Random123 and a pure-Python re-implementation),
the seeded generator (reproducibility, state, offsets, distributions) and dropout masks."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

import fastnn as fnn
import fastnn.functional as F
from backend_params import BACKENDS, require
from fastnn import random as fr
from fastnn.kernels.reference import dropout as kdropout
from fastnn.kernels.reference.philox import philox4x32_10, philox_uint32


pytestmark = pytest.mark.usefixtures("numpy_backend_and_rng_restored")


# ---------------------------------------------------------------------------------------------
# Philox
# ---------------------------------------------------------------------------------------------

KNOWN_ANSWERS = [  # Random123 kat_vectors, philox4x32 with 10 rounds
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF, 0xFFFFFFFF), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("counter,key,expected", KNOWN_ANSWERS)
def test_philox_known_answer_vectors(counter, key, expected):
    words = philox4x32_10(tuple(np.array([c], dtype=np.uint64) for c in counter), key)
    assert tuple(int(w[0]) for w in words) == expected
    assert all(w.dtype == np.uint32 for w in words)


def test_philox_vectorised_over_counters():
    counters = [np.array([c[i] for c, _, _ in KNOWN_ANSWERS[:1]] * 3, dtype=np.uint64) for i in range(4)]
    words = philox4x32_10(counters, (0, 0))
    for w, e in zip(words, KNOWN_ANSWERS[0][2]):
        np.testing.assert_array_equal(w, [e] * 3)


def py_philox(counter, key):
    """Philox-4x32-10 on Python ints, written from the paper (independent of the NumPy code)."""
    mask = 0xFFFFFFFF
    c = list(counter)
    k0, k1 = key
    for _ in range(10):
        p0 = 0xD2511F53 * c[0]
        p1 = 0xCD9E8D57 * c[2]
        c = [((p1 >> 32) ^ c[1] ^ k0) & mask, p1 & mask, ((p0 >> 32) ^ c[3] ^ k1) & mask, p0 & mask]
        k0, k1 = (k0 + 0x9E3779B9) & mask, (k1 + 0xBB67AE85) & mask
    return c


@pytest.mark.parametrize("counter,key,expected", KNOWN_ANSWERS)
def test_python_philox_reproduces_known_answers(counter, key, expected):
    assert tuple(py_philox(counter, key)) == expected  # the oracle below is itself right


@pytest.mark.parametrize("seed,offset,n", [(0, 0, 9), (1234, 7, 16), (2**40 + 5, 3, 5), (99, 2**32 - 1, 12),
                                           (2**64 - 1, 2**33 + 1, 3)])
def test_philox_uint32_stream_layout(seed, offset, n):
    # block i of seed s: counter (i mod 2^32, i div 2^32, 0, 0), key (s mod 2^32, s div 2^32); words in order
    words = philox_uint32(seed, offset, n)
    assert words.dtype == np.uint32 and words.shape == (n,)
    expected = []
    block = offset
    while len(expected) < n:
        expected += py_philox((block & 0xFFFFFFFF, block >> 32, 0, 0), (seed & 0xFFFFFFFF, seed >> 32))
        block += 1
    assert [int(w) for w in words] == expected[:n]


# ---------------------------------------------------------------------------------------------
# the seeded generator
# ---------------------------------------------------------------------------------------------

def test_manual_seed_reproduces_draws():
    fnn.manual_seed(42)
    a = fnn.rand(5, 3).numpy()
    b = fnn.randn(7).numpy()
    fnn.manual_seed(42)
    np.testing.assert_array_equal(fnn.rand(5, 3).numpy(), a)
    np.testing.assert_array_equal(fnn.randn(7).numpy(), b)
    fnn.manual_seed(43)
    assert not np.array_equal(fnn.rand(5, 3).numpy(), a)


def test_rng_state_get_and_set():
    fnn.manual_seed(7)
    fnn.rand(10)
    state = fnn.get_rng_state()
    assert state == {"seed": 7, "offset": 3}  # 10 words -> 3 blocks of 4
    first = fnn.rand(6).numpy()
    fnn.rand(100)
    fnn.set_rng_state(state)
    np.testing.assert_array_equal(fnn.rand(6).numpy(), first)
    # the state is a snapshot, not a live view
    state["offset"] = 0
    assert fnn.get_rng_state()["offset"] != 0


def test_consecutive_draws_equal_one_big_draw_split():
    g = fr.Generator(5)
    big = g.uint32(40)
    g.manual_seed(5)
    parts = [g.uint32(8), g.uint32(12), g.uint32(20)]
    np.testing.assert_array_equal(np.concatenate(parts), big)
    # draws are whole blocks: 5 words consume 2 blocks, so the next draw starts at word 8
    g.manual_seed(5)
    g.uint32(5)
    assert g.offset == 2
    np.testing.assert_array_equal(g.uint32(3), big[8:11])
    assert g.offset == 3


def test_generator_words_are_the_philox_stream():
    g = fr.Generator(2**35 + 11)
    g.uint32(4)
    w = g.uint32(6)
    expected = py_philox((1, 0, 0, 0), ((2**35 + 11) & 0xFFFFFFFF, (2**35 + 11) >> 32))
    expected += py_philox((2, 0, 0, 0), ((2**35 + 11) & 0xFFFFFFFF, (2**35 + 11) >> 32))
    assert [int(v) for v in w] == expected[:6]


def test_uniform_float32_conversion_from_words():
    g = fr.Generator(3)
    u = g.uniform((10,), dtype="float32")
    g.manual_seed(3)
    words = g.uint32(10)
    np.testing.assert_array_equal(u, (words >> 8).astype(np.float64) / 2**24)


def test_seed_validation():
    with pytest.raises(TypeError):
        fnn.manual_seed(1.5)
    with pytest.raises(TypeError):
        fnn.manual_seed(True)
    with pytest.raises(ValueError):
        fnn.manual_seed(-1)
    with pytest.raises(ValueError):
        fnn.manual_seed(2**64)
    fnn.manual_seed(2**64 - 1)  # the largest seed is fine
    assert np.isfinite(fnn.rand(3).numpy()).all()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_uniform_moments_and_range(dtype):
    g = fr.Generator(11)
    u = g.uniform((200_000,), dtype=dtype)
    assert u.dtype == np.dtype(dtype)
    assert u.min() >= 0.0 and u.max() < 1.0
    n = u.size
    # mean 1/2 (sd 1/sqrt(12 n)), variance 1/12 (sd sqrt(1/180 n)); 5-sigma bounds
    assert abs(u.mean() - 0.5) < 5 / math.sqrt(12 * n)
    assert abs(u.var() - 1 / 12) < 5 * math.sqrt(1 / (180 * n))
    hist = np.histogram(u, bins=10, range=(0, 1))[0]
    assert np.all(np.abs(hist - n / 10) < 5 * math.sqrt(n * 0.1 * 0.9))
    scaled = g.uniform((1000,), low=-3.0, high=-1.0, dtype=dtype)
    assert scaled.min() >= -3.0 and scaled.max() <= -1.0


def test_float64_uniform_uses_53_bits():
    g = fr.Generator(12)
    u = g.uniform((2000,), dtype="float64")
    # with 53 random bits the values are multiples of 2^-53 and almost none is a multiple of 2^-24
    assert np.all(u * 2**53 == np.floor(u * 2**53))
    assert np.mean(u * 2**24 == np.floor(u * 2**24)) < 0.01


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_normal_moments(dtype):
    g = fr.Generator(13)
    z = g.normal((200_001,), dtype=dtype)  # odd size: the last Box-Muller pair is cut
    assert z.dtype == np.dtype(dtype) and z.shape == (200_001,)
    n = z.size
    z64 = z.astype(np.float64)
    assert abs(z64.mean()) < 5 / math.sqrt(n)
    assert abs(z64.std() - 1) < 5 * math.sqrt(1 / (2 * n))
    assert abs(((z64 - z64.mean()) ** 3).mean()) < 5 * math.sqrt(6 / n)
    assert abs(((z64 - z64.mean()) ** 4).mean() / z64.var() ** 2 - 3) < 5 * math.sqrt(24 / n)
    # empirical CDF against Phi at a few points (DKW bound)
    for q in (-2.0, -1.0, 0.0, 0.5, 1.5):
        phi = 0.5 * math.erfc(-q / math.sqrt(2))
        assert abs(np.mean(z64 <= q) - phi) < 0.01
    shifted = g.normal((50_000,), mean=3.0, std=0.5, dtype="float64")
    assert abs(shifted.mean() - 3.0) < 5 * 0.5 / math.sqrt(50_000)
    assert abs(shifted.std() - 0.5) < 0.01


def test_randn_and_rand_tensors():
    fnn.manual_seed(0)
    r = fnn.randn(3, 4, dtype="float64", requires_grad=True)
    assert r.shape == (3, 4) and r.dtype == np.float64 and r.requires_grad and r.backend == "numpy"
    u = fnn.rand((2, 5))
    assert u.shape == (2, 5) and u.dtype == np.float32


def test_permutation_is_valid_and_uniform():
    g = fr.Generator(14)
    for n in (0, 1, 2, 17, 1000):
        p = g.permutation(n)
        np.testing.assert_array_equal(np.sort(p), np.arange(n))
    assert not np.array_equal(g.permutation(50), g.permutation(50))
    counts = Counter(tuple(g.permutation(3)) for _ in range(6000))
    assert len(counts) == 6
    # each of the 6 orders ~ 1000 (sd ~ 29)
    assert all(abs(c - 1000) < 150 for c in counts.values())


def test_integers_range_and_uniformity():
    g = fr.Generator(15)
    v = g.integers(-3, 4, (70_000,))
    assert v.dtype == np.int64 and v.min() == -3 and v.max() == 3
    counts = np.bincount(v + 3)
    assert np.all(np.abs(counts - 10_000) < 5 * math.sqrt(70_000 * (1 / 7) * (6 / 7)))


# ---------------------------------------------------------------------------------------------
# dropout
# ---------------------------------------------------------------------------------------------

def test_dropout_kernel_mask_is_a_threshold_on_the_stream():
    x = np.arange(1.0, 11.0)
    rate = 0.4
    y, mask = kdropout.dropout_fwd(x, rate, 77, 5)
    words = philox_uint32(77, 5, 10)
    threshold = round(0.4 * 2**32)
    np.testing.assert_array_equal(mask, (words.astype(np.uint64) >= threshold).astype(np.uint8))
    assert mask.dtype == np.uint8
    np.testing.assert_allclose(y, np.where(mask == 1, x / 0.6, 0.0), rtol=1e-15)
    g = np.arange(10.0)
    np.testing.assert_allclose(kdropout.dropout_bwd(g, mask, rate), np.where(mask == 1, g / 0.6, 0.0), rtol=1e-15)


def test_dropout_kernel_keeps_a_word_equal_to_the_threshold():
    words = philox_uint32(123, 0, 8)
    order = np.argsort(words)
    pivot = int(words[order[4]])              # the 5th smallest word of the stream
    rate = pivot / 2**32                      # exact: threshold == pivot
    _, mask = kdropout.dropout_fwd(np.ones(8), rate, 123, 0)
    expected = np.zeros(8, dtype=np.uint8)
    expected[order[4:]] = 1                   # u >= threshold is kept, the pivot included
    np.testing.assert_array_equal(mask, expected)
    assert kdropout.keep_threshold(1.0) == 2**32 and kdropout.keep_threshold(0.0) == 0


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_keeps_one_minus_rate_and_scales(rate):
    fnn.manual_seed(21)
    x = fnn.tensor(np.ones((400, 250)))
    y = F.dropout(x, rate, training=True).numpy()
    kept = y != 0
    n = y.size
    frac = kept.mean()
    assert abs(frac - (1 - rate)) < 5 * math.sqrt(rate * (1 - rate) / n)
    np.testing.assert_array_equal(y[kept], np.full(kept.sum(), 1 / (1 - rate)))
    # expectation preserved
    assert abs(y.mean() - 1.0) < 5 * math.sqrt(rate / (1 - rate) / n)


def test_dropout_float32_scale_is_exact_in_dtype():
    fnn.manual_seed(1)
    x = fnn.tensor(np.full((50, 50), 3.0, dtype=np.float32))
    y = F.dropout(x, 0.3, training=True)
    assert y.dtype == np.float32
    kept = y.numpy()[y.numpy() != 0]
    np.testing.assert_array_equal(kept, np.float32(3.0) * np.float32(1 / 0.7))


def test_dropout_edge_rates_and_eval():
    x = fnn.tensor(np.random.default_rng(0).standard_normal((6, 7)), requires_grad=True)
    assert F.dropout(x, 0.0, training=True) is x
    assert F.dropout(x, 0.9, training=False) is x
    before = fnn.get_rng_state()
    F.dropout(x, 0.5, training=False)
    assert fnn.get_rng_state() == before  # inference draws nothing
    y = F.dropout(x, 1.0, training=True)
    np.testing.assert_array_equal(y.numpy(), np.zeros((6, 7)))
    assert np.isfinite(y.numpy()).all()
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((6, 7)))


def test_dropout_same_seed_same_mask_and_advancing_stream():
    x = fnn.tensor(np.ones((30, 31)))
    fnn.manual_seed(5)
    a = F.dropout(x, 0.5, training=True).numpy()
    b = F.dropout(x, 0.5, training=True).numpy()
    fnn.manual_seed(5)
    a2 = F.dropout(x, 0.5, training=True).numpy()
    np.testing.assert_array_equal(a, a2)
    assert not np.array_equal(a, b)  # the second call used fresh blocks
    assert fnn.get_rng_state()["offset"] == math.ceil(30 * 31 / 4)


def test_dropout_gradient_is_mask_times_scale():
    fnn.manual_seed(9)
    x = fnn.tensor(np.random.default_rng(1).standard_normal((8, 9)), requires_grad=True)
    y = F.dropout(x, 0.25, training=True)
    g = np.random.default_rng(2).standard_normal((8, 9))
    y.backward(g)
    kept = y.numpy() != 0
    np.testing.assert_allclose(x.grad.numpy(), np.where(kept, g / 0.75, 0.0), rtol=1e-15)


# ---------------------------------------------------------------------------------------------
# dropout keyed by the global sample index (a data-parallel rank's share of a batch)
# ---------------------------------------------------------------------------------------------

def test_dropout_kernel_lane_starts_inside_a_block():
    x = np.arange(1.0, 8.0)
    for lane in range(4):
        _, mask = kdropout.dropout_fwd(x, 0.5, 31, 9, lane)
        words = philox_uint32(31, 9, lane + 7)[lane:]
        np.testing.assert_array_equal(mask, (words >= 2**31).astype(np.uint8))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape,splits", [((10, 3), [0, 3, 7, 10]), ((7, 2, 5), [0, 1, 4, 7]),
                                          ((5, 1), [0, 2, 2, 5]), ((9,), [0, 4, 9])])
def test_the_shares_of_a_batch_draw_the_batch_masks_rows(backend, shape, splits):
    """Each share, drawn inside sample_share(start, rows, total), gets exactly its rows of
    the mask one process draws for the whole batch, and every share leaves the stream where
    the whole batch leaves it (values a sample 3, 10, 1 and 1: shares that start in every
    lane of a block)."""
    require(backend)
    x = np.random.default_rng(3).standard_normal(shape)
    with fnn.use_backend(backend):
        fnn.manual_seed(17)
        whole = F.dropout(fnn.tensor(x), 0.4, training=True).numpy()
        after_whole = fnn.get_rng_state()
        parts = []
        for start, stop in zip(splits[:-1], splits[1:]):
            fnn.manual_seed(17)
            with fr.sample_share(start, stop - start, shape[0]):
                parts.append(F.dropout(fnn.tensor(x[start:stop]), 0.4, training=True).numpy())
            assert fnn.get_rng_state() == after_whole
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_a_share_needs_its_samples_on_the_first_axis():
    with fr.sample_share(2, 3, 8):
        with pytest.raises(ValueError, match=r"share's 3 samples on the first axis, got shape \(4, 2\)"):
            F.dropout(fnn.tensor(np.ones((4, 2))), 0.5, training=True)
    with pytest.raises(ValueError, match=r"rows \[6, 9\) are not inside a batch of 8"):
        with fr.sample_share(6, 3, 8):
            pass
    assert fr.default_generator.share is None
