"""The one random generator of fastnn: a seeded Philox-4x32-10 stream.

State is ``(seed, offset)``: ``offset`` counts the 128-bit blocks consumed so far.
Every draw takes the next blocks of the stream, so a seeded run draws the same
numbers on every backend. Initializers and shuffling draw on the host (the
reference kernel) and move the result; dropout passes ``(seed, offset)`` to its
backend's kernel, which computes the same words where the data lives.

Conversions from uint32 words u:
  uniform float32 in [0, 1):  (u >> 8) * 2^-24
  uniform float64 in [0, 1):  ((u_a >> 5) * 2^26 + (u_b >> 6)) * 2^-53
  normal:                     Box-Muller on float64 uniforms,
                              sqrt(-2 log(1 - u1)) * (cos 2 pi u2, sin 2 pi u2)
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from . import arguments
from .kernels.reference.philox import philox_uint32

DEFAULT_SEED = 0x5EED


class Generator:
    def __init__(self, seed: int = DEFAULT_SEED):
        self.manual_seed(seed, "Generator")
        self.share = None     # (first row, rows, batch rows) inside sample_share

    @contextlib.contextmanager
    def sample_share(self, start: int, rows: int, total: int):
        """Inside, per-sample draws (``take_sample_words``) are for rows [start, start +
        rows) of a batch of ``total`` rows: a data-parallel rank draws the words one process
        drawing for the whole batch would give its rows, and the stream advances as far."""
        if not 0 <= start <= start + rows <= total:
            raise ValueError(f"sample_share: rows [{start}, {start + rows}) are not inside a batch of {total}")
        previous, self.share = self.share, (start, rows, total)
        try:
            yield
        finally:
            self.share = previous

    def manual_seed(self, seed: int, where: str = "Generator.manual_seed") -> None:
        """Restart the stream of ``seed`` (an int in [0, 2**64)) at offset 0."""
        self.seed = arguments.integer(seed, where, "seed", low=0, high=2**64 - 1)
        self.offset = 0

    def get_state(self) -> dict:
        """``{"seed": int, "offset": int}``: a snapshot, for ``set_state``."""
        return {"seed": self.seed, "offset": self.offset}

    def set_state(self, state: dict, where: str = "Generator.set_state") -> None:
        """Go back to ``get_state()``'s output: a dict of exactly an int "seed" in [0, 2**64)
        and an int "offset" >= 0. All of it is checked before the generator changes."""
        arguments.mapping(state, where, "state")
        if set(state) != {"seed", "offset"}:
            raise ValueError(f"{where}: state must be a dict with the keys 'offset' and 'seed' (get_rng_state()'s "
                             f"output), got the keys {sorted(state, key=str)}")
        seed = arguments.integer(state["seed"], where, "state['seed']", low=0, high=2**64 - 1)
        offset = arguments.integer(state["offset"], where, "state['offset']", low=0)
        self.seed, self.offset = seed, offset

    def take_blocks(self, n_words: int) -> tuple[int, int]:
        """Reserve the blocks holding ``n_words`` words; returns (seed, first block)."""
        start = self.offset
        self.offset += -(-n_words // 4)
        return self.seed, start

    def take_sample_words(self, shape) -> tuple[int, int, int]:
        """Reserve one word for each value of an array of ``shape`` whose first axis is the
        batch; returns (seed, block, lane): value k takes word lane + k from that block on.
        Inside ``sample_share`` the words reserved are the whole batch's and the array's rows
        take theirs (word start * F + k of the batch's, F values a row)."""
        if self.share is None:   # take_blocks inlined: this is on every dropout call's path
            start = self.offset
            self.offset += -(-math.prod(shape) // 4)
            return self.seed, start, 0
        start, rows, total = self.share
        if not shape or shape[0] != rows:
            raise ValueError(f"random draws per sample in a data-parallel step need the share's {rows} "
                             f"samples on the first axis, got shape {tuple(shape)}")
        per_sample = math.prod(shape[1:])
        seed, block = self.take_blocks(total * per_sample)
        word = start * per_sample
        return seed, block + word // 4, word % 4

    def uint32(self, n: int) -> np.ndarray:
        seed, offset = self.take_blocks(n)
        return philox_uint32(seed, offset, n)

    def uniform(self, shape, low=0.0, high=1.0, dtype="float32") -> np.ndarray:
        dtype = np.dtype(dtype)
        size = int(np.prod(shape))
        if dtype == np.float64:
            u = self.uint32(2 * size).reshape(size, 2).astype(np.uint64)
            unit = ((u[:, 0] >> np.uint64(5)) * np.uint64(1 << 26) + (u[:, 1] >> np.uint64(6))) * 2.0**-53
        else:
            unit = (self.uint32(size) >> np.uint32(8)).astype(np.float64) * 2.0**-24
        return (low + (high - low) * unit).astype(dtype).reshape(shape)

    def normal(self, shape, mean=0.0, std=1.0, dtype="float32") -> np.ndarray:
        size = int(np.prod(shape))
        pairs = -(-size // 2)
        u = self.uniform((pairs, 2), dtype="float64")
        radius = np.sqrt(-2.0 * np.log1p(-u[:, 0]))
        angle = 2.0 * np.pi * u[:, 1]
        z = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1).reshape(-1)[:size]
        return (mean + std * z).astype(dtype).reshape(shape)

    def permutation(self, n: int) -> np.ndarray:
        """A uniformly random permutation of range(n): argsort of random 64-bit keys."""
        keys = self.uint32(2 * n).reshape(n, 2).astype(np.uint64)
        return np.argsort((keys[:, 0] << np.uint64(32)) | keys[:, 1], kind="stable")

    def integers(self, low: int, high: int, shape) -> np.ndarray:
        """Integers in [low, high) (multiply-shift of 32-bit words; bias below 2^-32 per draw)."""
        size = int(np.prod(shape))
        span = np.uint64(high - low)
        return (low + ((self.uint32(size).astype(np.uint64) * span) >> np.uint64(32)).astype(np.int64)).reshape(shape)


default_generator = Generator()


def manual_seed(seed: int) -> None:
    """Seed fastnn's generator: the same seed gives the same numbers on every backend."""
    default_generator.manual_seed(seed, "manual_seed")


def get_rng_state() -> dict:
    """The generator's state ``{"seed": int, "offset": int}``, for ``set_rng_state``."""
    return default_generator.get_state()


def set_rng_state(state: dict) -> None:
    """Restore ``get_rng_state()``'s output; a malformed state raises and changes nothing."""
    default_generator.set_state(state, "set_rng_state")


def sample_share(start: int, rows: int, total: int):
    """``with sample_share(start, rows, total):`` per-sample draws (dropout masks) are for
    rows [start, start + rows) of a batch of ``total`` rows (``Generator.sample_share``)."""
    return default_generator.sample_share(start, rows, total)
