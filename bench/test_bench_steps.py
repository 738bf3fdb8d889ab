"""Whole training steps and the single ops of bench/workloads.py under pytest-benchmark,
on every available fastnn backend (PyTorch side by side lives in bench/compare.py).

    python -m pytest bench/test_bench_steps.py --benchmark-only --benchmark-save=steps

The first call (kernel compilation or loading from the cache) happens in an untimed
warm-up round; ``test_first_call`` reports its cost separately.
"""

import time

import pytest

import fastnn as fnn
import workloads

STEPS = [("mlp", 128), ("mlp", 1024), ("cnn", 64)]


@pytest.mark.parametrize("backend", fnn.available_backends())
@pytest.mark.parametrize("kind,batch", STEPS, ids=[f"{k}_b{b}" for k, b in STEPS])
def test_training_step(benchmark, kind, batch, backend):
    _, step = workloads.fastnn_step(kind, batch, backend)
    benchmark.group = f"step {kind} batch {batch}"
    benchmark.pedantic(step, warmup_rounds=2, rounds=10, iterations=1)


@pytest.mark.parametrize("backend", fnn.available_backends())
@pytest.mark.parametrize("part", ["fwd", "fwd+bwd"])
@pytest.mark.parametrize("op", workloads.OPS)
def test_single_op(benchmark, op, part, backend):
    forward, step = workloads.fastnn_op(op, backend)
    benchmark.group = f"op {op} {part}"
    benchmark.pedantic(forward if part == "fwd" else step, warmup_rounds=2, rounds=10, iterations=1)


@pytest.mark.parametrize("backend", fnn.available_backends())
def test_first_call(benchmark, backend):
    """The cost of a model's first training step in this process (kernels compiled or loaded
    from the cache on a compiled backend), apart from the steady state timed above."""
    def first_step():
        _, step = workloads.fastnn_step("cnn", 8, backend)
        start = time.perf_counter()
        step()
        return time.perf_counter() - start

    benchmark.group = "first call"
    benchmark.extra_info["first_step_s"] = benchmark.pedantic(first_step, rounds=1, iterations=1)
