"""Forward + backward of every case-table row at its large size, on each available backend.

    python -m pytest bench/test_bench_cases.py --benchmark-only --benchmark-save=cases

Steady state only: one untimed warm-up call runs first (for compiled backends it
compiles the kernels), then a fixed number of timed rounds.
"""

import numpy as np
import pytest

import fastnn as fnn
from cases import ALL_CASES


def _step(instance, tensors, weights):
    out = instance.fn(*tensors)
    out.backward(weights)
    for t in tensors:
        t.grad = None
    fnn.backend.resolve(tensors[0].backend).synchronize()


@pytest.mark.parametrize("backend", fnn.available_backends())
@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.name)
def test_case_forward_backward(benchmark, case, backend):
    instance = case.instance(dtype="float32", size="large", mode=case.modes[0])
    tensors = instance.tensors(backend)
    fnn.manual_seed(0)
    with fnn.no_grad():
        probe = instance.fn(*tensors)
    weights = fnn.tensor(np.random.default_rng(0).standard_normal(probe.shape).astype(probe.dtype), backend=backend)
    benchmark.group = case.name
    benchmark.pedantic(_step, args=(instance, tensors, weights), warmup_rounds=1, rounds=5, iterations=1)
