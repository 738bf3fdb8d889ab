"""The Keras-style training API under pytest-benchmark: one epoch of ``model.fit``,
``evaluate`` and ``predict``, and checkpoints, on every available fastnn backend.

    python -m pytest bench/test_bench_fit.py --benchmark-only --benchmark-save=fit

Data: the bundled digits as (1, 8, 8) images (1437 train / 360 test), batch 32
(45 steps per epoch), Adam, sparse cross-entropy, verbose=0; models zoo.mlp and zoo.cnn
(bench/workloads.py). Steady state: each benchmark runs untimed warm-up rounds first;
``test_first_fit_epoch`` reports the first epoch of a model separately (kernels compiled
or loaded from the cache when it is the first test to run in the process). The overhead
of fit against a hand-written loop, and PyTorch side by side: bench/compare_fit.py.
"""

import gc
import time

import pytest

import fastnn as fnn
import workloads

BACKENDS = [pytest.param(b, marks=pytest.mark.gpu) if b == "gpu" else b for b in fnn.available_backends()]
KINDS = ("mlp", "cnn")


@pytest.fixture(autouse=True)
def _collect_garbage():
    """Free the models of earlier tests first: a model lives in reference cycles (layers,
    optimizer, History) until the cyclic collector runs, and a dead CNN still allocated made
    the next one's cpu epochs ~35 % slower (150 vs 108 ms; memory-bound kernels: im2col,
    the conv GEMMs, zero_grad), so figures depended on the order of the tests."""
    gc.collect()


@pytest.mark.parametrize("backend", BACKENDS)
def test_first_fit_epoch(benchmark, backend):
    """The first fit epoch of a fresh CNN in this process, apart from the steady state below
    (runs first in this file so that, run alone, it includes loading the kernels)."""
    def first_epoch():
        _, epoch = workloads.fit_epoch("cnn", backend)
        start = time.perf_counter()
        epoch()
        return time.perf_counter() - start

    benchmark.group = "fit: first epoch"
    benchmark.extra_info["first_epoch_s"] = benchmark.pedantic(first_epoch, rounds=1, iterations=1)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", KINDS)
def test_fit_epoch(benchmark, kind, backend):
    _, epoch = workloads.fit_epoch(kind, backend)
    benchmark.group = f"fit epoch {kind}"
    benchmark.extra_info["steps"] = -(-len(workloads.digits()[0][0]) // workloads.FIT_BATCH)
    benchmark.pedantic(epoch, warmup_rounds=1, rounds=5, iterations=1)


@pytest.fixture(scope="module")
def trained():
    """{(kind, backend): model} after one fit epoch, made on first use."""
    models = {}

    def get(kind, backend):
        if (kind, backend) not in models:
            model, epoch = workloads.fit_epoch(kind, backend, metrics=["accuracy"])
            epoch()
            models[kind, backend] = model
        return models[kind, backend]

    return get


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", KINDS)
def test_evaluate(benchmark, trained, kind, backend):
    model = trained(kind, backend)
    _, (x_test, y_test) = workloads.digits()
    benchmark.group = f"evaluate {kind} (360 samples)"
    loss, accuracy = benchmark.pedantic(model.evaluate, args=(x_test, y_test), kwargs={"batch_size": 32},
                                        warmup_rounds=2, rounds=10, iterations=1)
    assert accuracy > 0.5  # one epoch learns the digits; a broken model would not


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", KINDS)
def test_predict(benchmark, trained, kind, backend):
    model = trained(kind, backend)
    _, (x_test, _) = workloads.digits()
    benchmark.group = f"predict {kind} (360 samples)"
    out = benchmark.pedantic(model.predict, args=(x_test,), kwargs={"batch_size": 32},
                             warmup_rounds=2, rounds=10, iterations=1)
    assert out.shape == (len(x_test), 10)


@pytest.mark.parametrize("backend", BACKENDS)
def test_save_checkpoint(benchmark, trained, backend, tmp_path):
    """model.save of the trained CNN (weights, Adam state, architecture; written atomically
    with fsync, so the figure includes the disk)."""
    model = trained("cnn", backend)
    path = tmp_path / "cnn.fnn"
    benchmark.group = "checkpoint cnn: save"
    benchmark.pedantic(model.save, args=(path,), warmup_rounds=1, rounds=10, iterations=1)
    benchmark.extra_info["bytes"] = path.stat().st_size


@pytest.mark.parametrize("backend", BACKENDS)
def test_load_checkpoint(benchmark, trained, backend, tmp_path):
    """fnn.load_model of the trained CNN: read and verify the file, rebuild the model on
    ``backend``, restore weights, compile settings and optimizer state."""
    path = tmp_path / "cnn.fnn"
    trained("cnn", backend).save(path)
    benchmark.group = "checkpoint cnn: load_model"
    model = benchmark.pedantic(fnn.load_model, args=(path,), kwargs={"backend": backend},
                               warmup_rounds=1, rounds=10, iterations=1)
    assert model.backend == backend and model.epoch == 1
