"""Compile the cpu kernels ahead of time (``fastnn.warmup()``, ``fastnn warmup``).

Kernels otherwise compile on first use and land in the on-disk cache. The warm-up runs
every row of the case table (``fastnn/testing/table.py``) whose kernels the cpu backend
compiles, forward and backward, in each dtype and mode at its small size, under every
setting in which the kernels build differently (``kernels/cpu/warmup.py``: threaded and
serial builds, compiled kernels at any size, each convolution algorithm), and steps every
optimizer row once in each. The calls are the ops' own, generated from the table, so
no list of kernel calls is kept by hand: a new row or a new kernel is warmed up by the
same loop. The random stream is restored afterwards (the dropout rows draw from it).

One cpu kernel of the contract is left to compile on first use: ``philox_uint32``,
which no op calls (the dropout kernels generate their words inside, and
``fastnn.random`` draws through the reference); the kernel tests call it directly.
"""

from __future__ import annotations

import time

import numpy as np

from . import arguments
from .tensor import tensor

#: The dtypes the kernels compile for.
DTYPES = ("float32", "float64")


def _dtypes(dtypes) -> list:
    """``dtypes`` as a list of np.dtype, each float32 or float64: one name alone is taken as
    a list of one, any other dtype is a ValueError naming the supported ones."""
    if isinstance(dtypes, (str, np.dtype, type)):
        dtypes = (dtypes,)
    if not isinstance(dtypes, (tuple, list, set, frozenset)):
        arguments._fail(TypeError, "warmup", "dtypes", "a tuple of dtypes, from float32 and float64", dtypes)
    if not dtypes:
        arguments._fail(ValueError, "warmup", "dtypes", "one or more of float32 and float64", dtypes)
    checked = []
    for d in dtypes:
        try:
            dtype = np.dtype(d)
        except (TypeError, ValueError):
            dtype = None
        if dtype is None or dtype.name not in DTYPES:
            arguments._fail(ValueError, "warmup", "dtypes",
                            "float32 or float64 (the dtypes the kernels compile for)", d)
        if dtype not in checked:
            checked.append(dtype)
    return checked


def warmup(dtypes=DTYPES, verbose: bool = False) -> float:
    """Compile (or load from the cache) the cpu kernels for ``dtypes`` (float32, float64 or
    both); returns the seconds it took. Raises ``BackendError`` when the cpu backend cannot
    run (numba missing), ValueError for another dtype."""
    dtypes = _dtypes(dtypes)
    verbose = arguments.boolean(verbose, "warmup", "verbose")
    from . import backend as backends
    from .kernels.cpu.warmup import settings
    from .random import get_rng_state, set_rng_state
    from .testing.cases_optim import OPTIMIZER_CASES
    from .testing.table import ALL_CASES

    cpu = backends.get("cpu")
    compiled = set(cpu.provides) - set(cpu.fallbacks())
    start = time.perf_counter()
    state = get_rng_state()
    try:
        for case in ALL_CASES:
            if not compiled & set(case.kernels):
                continue  # array-module arithmetic or reference fallbacks: nothing to compile
            if verbose:
                print(f"  {case.name}", flush=True)
            for setting in settings(convolution="conv2d_fwd" in case.kernels):
                with setting:
                    for dtype in dtypes:
                        for mode in case.modes:
                            _forward_backward(case.instance(dtype=dtype, size="small", mode=mode), cpu)
        for name, cls, hyper in OPTIMIZER_CASES:
            if verbose:
                print(f"  {name}", flush=True)
            for setting in settings(convolution=False):
                with setting:
                    for dtype in dtypes:
                        _step(cls, hyper, cpu, dtype)
    finally:
        set_rng_state(state)
    return time.perf_counter() - start


def _forward_backward(instance, backend) -> None:
    outputs = instance.fn(*instance.tensors(backend))
    for out in outputs if isinstance(outputs, (tuple, list)) else (outputs,):
        if out.requires_grad:
            out.backward(tensor(np.ones(out.shape, dtype=out.dtype), backend=backend))


def _step(cls, hyper, backend, dtype) -> None:
    p = tensor(np.linspace(-1, 1, 10, dtype=dtype), requires_grad=True, backend=backend)
    optimizer = cls([p], **hyper)
    for _ in range(2):   # SGD's first step starts its momentum buffer; the second uses it
        p.grad = tensor(np.full(10, 0.5, dtype=dtype), backend=backend)
        optimizer.step()
