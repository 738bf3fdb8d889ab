"""How every cpu kernel is compiled: one decorator, one cache policy, one thread policy.

Importing this module imports numba, points its cache at fastnn's cache directory,
and applies the threading layer and thread policy of :mod:`fastnn.runtime`.

* :func:`jit` compiles a serial kernel: ``numba.njit(cache=..., fastmath=FASTMATH)``.
* :func:`dual` compiles a kernel written with ``prange`` twice, as a parallel and a
  serial dispatcher; calling it with ``work`` (elements touched) picks the serial one
  below :data:`PARALLEL_MIN`, where starting the thread team costs more than it saves.

``FASTMATH`` allows contraction (FMA), reassociation (vectorised reductions) and
reciprocal approximations, but never ``nnan``/``ninf``: losses and softmax keep
IEEE NaN and inf semantics (docs/design.md, "NaN and infinity").
``error_model="numpy"``: a division by zero gives inf/NaN as in NumPy instead of
raising, and, because no check is inserted before each division, loops that divide
vectorise (sigmoid ran 7x faster).
"""

from __future__ import annotations

import types

from fastnn import runtime

import numba  # noqa: E402
from numba import prange  # noqa: E402,F401  (re-exported for kernel modules)

runtime.prepare_numba(numba.config)  # before any kernel below is defined
runtime.apply_thread_policy()

CACHE = runtime.cache_enabled()
FASTMATH = {"contract", "reassoc", "nsz", "arcp"}

#: Elements of work below which a parallel kernel runs its serial twin. Measured on
#: 2 cores (bench/parallel_threshold.py, bench/step_threshold.py; bench/RESULTS.md):
#: alone, a threaded twin pays from ~32k elements (an OpenMP region starts in
#: microseconds); inside a training step it does not, because OpenBLAS's threads keep
#: spinning for a while after each GEMM and a threaded kernel that follows fights them
#: for the two cores (CNN step, batch 64: 23.6 ms with a 32k threshold, 22.8 ms with 1M,
#: 21.9 ms all serial; 512k and 1M alike within noise; MLP steps alike). Passes of
#: ~10^6 elements still gain from threads (softmax cross-entropy over 1024x1000
#: logits, batch norm over 2M values: 1.4-2x), so the threshold is 512k elements.
PARALLEL_MIN = 1 << 19


def jit(fn=None, *, fastmath=FASTMATH, inline=False):
    """Compile a serial kernel (lazily, on its first call; cached on disk).

    ``inline=True`` is for helpers that kernels call once per row or per short run:
    Numba then pastes the helper's body into each caller. A call that stays a call
    passes every array with its reference count raised and lowered again (atomic
    operations on a cache line that both threads share); once per 28-value output row
    that cost more than the row itself (the first-layer forward pass, 1->32 3x3 on
    28x28, batch 64: 0.65 -> 0.38 ms with the epilogue pasted in; bench/RESULTS.md)."""
    def wrap(f):
        return numba.njit(cache=CACHE, fastmath=set(fastmath), error_model="numpy",
                          inline="always" if inline else "never")(f)
    return wrap if fn is None else wrap(fn)


class Dual:
    """A kernel compiled parallel and serial; ``kernel(work, *args)`` picks one."""

    def __init__(self, fn, fastmath):
        self.parallel = numba.njit(cache=CACHE, parallel=True, fastmath=set(fastmath), error_model="numpy")(fn)
        # A distinct qualname gives the serial twin its own cache file; with the same
        # name Numba's on-disk cache would hand back the parallel build.
        self.serial = numba.njit(cache=CACHE, fastmath=set(fastmath), error_model="numpy")(_renamed(fn, "__serial"))
        self.__name__ = fn.__name__
        self.__doc__ = fn.__doc__

    def __call__(self, work, *args):
        if work >= PARALLEL_MIN and numba.get_num_threads() > 1:
            return self.parallel(*args)
        return self.serial(*args)


def dual(fn=None, *, fastmath=FASTMATH):
    def wrap(f):
        return Dual(f, fastmath)
    return wrap if fn is None else wrap(fn)


def _renamed(fn, suffix):
    clone = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + suffix, fn.__defaults__, fn.__closure__)
    clone.__qualname__ = fn.__qualname__ + suffix
    clone.__doc__ = fn.__doc__
    return clone


@dual
def _touch(x):
    for i in prange(x.shape[0]):
        x[i] = 0.0


def touch_parallel(x):
    """Run a trivial parallel kernel (initialises the threading layer; used by ``info``)."""
    _touch.parallel(x)
