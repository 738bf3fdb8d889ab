"""Forward + backward of every case-table row at its large size, on each available backend.

    python -m pytest bench/test_bench_cases.py --benchmark-only --benchmark-save=cases

Steady state: the first call runs untimed by the benchmark (on a compiled backend it
compiles the kernels or loads them from the cache); its wall time is reported apart,
as ``first_call_ms`` in the benchmark's extra info (a column of bench/report.py).
"""

import time

import numpy as np
import pytest

import fastnn as fnn
from fastnn.testing.table import ALL_CASES


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
    start = time.perf_counter()
    _step(instance, tensors, weights)
    benchmark.extra_info["first_call_ms"] = (time.perf_counter() - start) * 1e3
    benchmark.pedantic(_step, args=(instance, tensors, weights), rounds=5, iterations=1)
