"""SyncBatchNormalization: batch statistics over the global batch of a world of processes.

In a world of one process it is BatchNormalization bit for bit (train and eval, numpy and
cpu). Its op (fastnn/ops/sync_normalization.py) passes a float64 gradient check, and ranks
simulated by threads in this process, then real ranks under ``mpiexec -n 2``, each holding
a share of one batch (7 rows split 3/4, images 5 split 2/3), end with one process's plain
BatchNormalization of the whole batch: outputs, running statistics, and the gradients as
data-parallel ``fit`` combines them (each rank's loss the mean over its own rows, weight
gradients reduced with weight n_r / N)."""

import json
import textwrap
import threading

import numpy as np
import pytest

import fastnn as fnn
from fastnn import distributed
from fastnn.layers import BatchNormalization, SyncBatchNormalization
from fastnn.ops.normalization import batch_norm
from fastnn.ops.sync_normalization import sync_batch_norm
from backend_params import BACKENDS, require
from test_distributed import _mpiexec, needs_mpi
from tolerances import assert_close

SHAPES = [(7, 5), (3, 4, 3, 5), (5, 3, 1, 7)]


def _pair(backend, dtype, shape, momentum=0.9, epsilon=1e-3):
    """A BatchNormalization and a SyncBatchNormalization with the same non-trivial weights."""
    rng = np.random.default_rng(3)
    channels = shape[1]
    weights = [1 + 0.3 * rng.standard_normal(channels), 0.2 * rng.standard_normal(channels),
               0.5 * rng.standard_normal(channels), 1 + rng.random(channels)]
    layers = []
    for cls in (BatchNormalization, SyncBatchNormalization):
        layer = cls(momentum=momentum, epsilon=epsilon)
        layer(fnn.tensor(np.zeros(shape, dtype=dtype), backend=backend), training=False)   # builds it
        layer.set_weights([w.astype(dtype) for w in weights])
        layers.append(layer)
    return layers


def _run(layer, x, upstream, backend, training):
    xt = fnn.tensor(x, requires_grad=True, backend=backend)
    y = layer(xt, training=training)
    (y * fnn.tensor(upstream, backend=backend)).sum().backward()
    return [y.numpy(), xt.grad.numpy(), layer.gamma.grad.numpy(), layer.beta.grad.numpy(),
            *(w.copy() for w in layer.get_weights())]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_alone_it_is_batch_normalization_bit_for_bit(world_alone, backend, dtype, shape, training):
    require(backend)
    rng = np.random.default_rng(11)
    plain, sync = _pair(backend, dtype, shape)
    for step in range(2):                  # twice: the running statistics move twice
        x = (3 * rng.standard_normal(shape) + 1.5).astype(dtype)
        upstream = rng.standard_normal(shape).astype(dtype)
        for p in plain.parameters() + sync.parameters():
            p.grad = None
        expected = _run(plain, x, upstream, backend, training)
        actual = _run(sync, x, upstream, backend, training)
        names = ["y", "x grad", "gamma grad", "beta grad", "gamma", "beta", "running_mean", "running_var"]
        for name, a, e in zip(names, actual, expected):
            assert a.dtype == e.dtype, name
            np.testing.assert_array_equal(a, e, err_msg=f"{name}, step {step}")


def test_alone_the_layer_config_and_checkpoint_name_are_batch_normalizations(world_alone):
    layer = SyncBatchNormalization(momentum=0.9, epsilon=1e-4, center=False)
    config = layer.get_config()
    assert config["class_name"] == "SyncBatchNormalization" and config["momentum"] == 0.9
    again = fnn.layers.deserialize(config)
    assert type(again) is SyncBatchNormalization and again.epsilon == 1e-4 and not again.center
    assert fnn.layers.get("SyncBatchNormalization") is SyncBatchNormalization
    assert isinstance(again, BatchNormalization)


def _world_one():
    return distributed.World()


@pytest.mark.parametrize("shape", [(7, 5), (3, 4, 3, 5), (2, 3, 2, 2)], ids=str)
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "no_affine"])
def test_the_op_passes_a_float64_gradient_check(numpy_backend_and_rng_restored, shape, affine):
    # The op itself (not the layer, which hands a world of one to batch_norm): its own
    # formulas, with the collectives of a world of one.
    rng = np.random.default_rng(5)
    channels = shape[1]
    x = fnn.tensor(2 * rng.standard_normal(shape) + 1, requires_grad=True)
    if affine:
        gamma = fnn.tensor(1 + 0.5 * rng.standard_normal(channels), requires_grad=True)
        beta = fnn.tensor(rng.standard_normal(channels), requires_grad=True)
        fn = lambda x, g, b: sync_batch_norm(x, g, b, None, None, _world_one(), eps=1e-3)  # noqa: E731
        inputs = [x, gamma, beta]
    else:
        fn = lambda x: sync_batch_norm(x, None, None, None, None, _world_one(), eps=1e-3)  # noqa: E731
        inputs = [x]
    assert fnn.testing.gradcheck(fn, inputs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_in_a_world_of_one_the_op_equals_batch_norm(numpy_backend_and_rng_restored, dtype, shape):
    rng = np.random.default_rng(6)
    x = (4 * rng.standard_normal(shape) - 2).astype(dtype)
    gamma = (1 + rng.standard_normal(shape[1])).astype(dtype)
    upstream = rng.standard_normal(shape).astype(dtype)
    results = []
    for op in (lambda *a: batch_norm(*a, training=True, momentum=0.3, eps=1e-3),
               lambda *a: sync_batch_norm(*a, _world_one(), momentum=0.3, eps=1e-3)):
        tensors = [fnn.tensor(v, requires_grad=True) for v in (x, gamma, np.zeros_like(gamma))]
        stats = [fnn.tensor(np.full_like(gamma, v)) for v in (0.5, 2.0)]
        y = op(*tensors, *stats)
        (y * fnn.tensor(upstream)).sum().backward()
        results.append([y.numpy(), *(t.grad.numpy() for t in tensors), *(s.numpy() for s in stats)])
    for name, a, e in zip(["y", "x grad", "gamma grad", "beta grad", "running_mean", "running_var"], *results):
        assert a.dtype == e.dtype
        assert_close(a, e, dtype=dtype, what=name)


# -- ranks simulated by threads ---------------------------------------------------------------------
class _ThreadRank:
    """Rank ``rank`` of a world whose ranks are threads of this process: allreduce adds the
    ranks' arrays in rank order (the same sum on every rank), as MPI's collective would."""

    def __init__(self, rank, size, shared):
        self.rank, self.size, self.shared = rank, size, shared

    def allreduce(self, array, op="sum"):
        buffers, barrier = self.shared
        buffers[self.rank] = np.array(array, copy=True)
        barrier.wait()
        total = sum(buffers[1:], buffers[0].copy())
        barrier.wait()                         # nobody overwrites a buffer another rank still reads
        return total


def _threads(job, size):
    """``job(world)`` on ``size`` thread ranks; their results (an exception is a result)."""
    shared = ([None] * size, threading.Barrier(size, timeout=30))
    results = [None] * size

    def run(rank):
        try:
            results[rank] = job(_ThreadRank(rank, size, shared))
        except Exception as error:   # noqa: BLE001 -- handed to the test, which checks it
            results[rank] = error

    threads = [threading.Thread(target=run, args=(r,)) for r in range(size)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def _bounds(n, size, rank):
    """Replicas.share's split: rank r takes rows [r n / R, (r + 1) n / R)."""
    return rank * n // size, (rank + 1) * n // size


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape, size", [((7, 5), 2), ((5, 3, 4, 3), 2), ((9, 4), 3), ((3, 2, 2, 3), 4)],
                         ids=["7 rows on 2", "5 images on 2", "9 rows on 3", "3 images on 4 (one rank empty)"])
def test_ranks_in_threads_equal_one_process_on_the_whole_batch(numpy_backend_and_rng_restored, dtype, shape, size):
    rng = np.random.default_rng(8)
    x = (2 * rng.standard_normal(shape) + 3).astype(dtype)
    gamma = (1 + 0.5 * rng.standard_normal(shape[1])).astype(dtype)
    beta = rng.standard_normal(shape[1]).astype(dtype)
    target = rng.standard_normal(shape).astype(dtype)     # loss: the mean over rows of sum(target * y)
    n = shape[0]

    def one(rows, op):
        start, stop = rows
        tensors = [fnn.tensor(v, requires_grad=True) for v in (x[start:stop], gamma, beta)]
        stats = [fnn.tensor(np.full_like(gamma, v)) for v in (0.25, 1.5)]
        y = op(*tensors, *stats)
        loss = (y * fnn.tensor(target[start:stop])).sum() / max(stop - start, 1)
        loss.backward()
        return [y.numpy(), *(t.grad.numpy() for t in tensors), *(s.numpy() for s in stats)]

    single = one((0, n), lambda *a: batch_norm(*a, training=True, momentum=0.2, eps=1e-3))
    ranks = _threads(lambda w: one(_bounds(n, size, w.rank),
                                   lambda *a: sync_batch_norm(*a, w, momentum=0.2, eps=1e-3)), size)
    for r in ranks:
        assert not isinstance(r, Exception), repr(r)
    shares = [np.diff(_bounds(n, size, r))[0] for r in range(size)]
    # outputs row by row; the trainer's view of the gradients: rank r's weighted by n_r / N
    assert_close(np.concatenate([r[0] for r in ranks]), single[0], dtype=dtype, what="y")
    gx = np.concatenate([r[1] * (b / n) for r, b in zip(ranks, shares)])
    assert_close(gx, single[1], dtype=dtype, what="x grad")
    for i, name in ((2, "gamma grad"), (3, "beta grad")):
        assert_close(sum(r[i] * (b / n) for r, b in zip(ranks, shares)), single[i], dtype=dtype, what=name)
    for r in ranks:                                    # the running statistics: equal on every rank
        assert_close(r[4], single[4], dtype=dtype, what="running_mean")
        assert_close(r[5], single[5], dtype=dtype, what="running_var")


def test_too_few_values_in_the_global_batch_is_an_error_on_every_rank(numpy_backend_and_rng_restored):
    # one row on rank 1, none on rank 0: one value per channel in the whole batch
    x = np.ones((1, 3))
    results = _threads(lambda w: sync_batch_norm(fnn.tensor(x[:w.rank]), None, None, None, None, w), 2)
    for r in results:
        assert isinstance(r, ValueError)
        assert "sync_batch_norm: training needs more than one value per channel in the global batch" in str(r)
        assert "the 2 ranks hold 1" in str(r)
    # two rows split 1/1 are enough, as for one process with the two rows
    x = np.array([[0.0, 1.0, 5.0], [2.0, -1.0, 6.0]])
    results = _threads(lambda w: sync_batch_norm(fnn.tensor(x[w.rank:w.rank + 1]), None, None, None, None, w).numpy(),
                       2)
    expected = batch_norm(fnn.tensor(x), None, None, None, None, training=True).numpy()
    assert_close(np.concatenate(results), expected, dtype="float64")


@pytest.mark.parametrize("call, error, match", [
    (lambda x: sync_batch_norm(x, None, None, None, None, world=None), TypeError,
     "sync_batch_norm: world must be a fastnn.distributed world"),
    (lambda x: sync_batch_norm(x, None, None, None, None, _world_one(), momentum=2.0), ValueError,
     r"sync_batch_norm: momentum must be a finite number in \[0, 1\], got 2.0"),
    (lambda x: sync_batch_norm(x, None, None, None, None, _world_one(), eps=0), ValueError,
     "sync_batch_norm: eps must be a finite number > 0, got 0"),
    (lambda x: sync_batch_norm(x, None, None, None, None, _world_one(), eps=float("nan")), ValueError,
     "sync_batch_norm: eps must be a finite number > 0, got nan"),
    (lambda x: sync_batch_norm(x, None, None, None, None, _world_one(), momentum="fast"), TypeError,
     "sync_batch_norm: momentum must be a real number, got 'fast'"),
    (lambda x: sync_batch_norm(x, None, None, fnn.tensor(np.zeros(3)), None, _world_one()), ValueError,
     "give both running_mean and running_var"),
    (lambda x: sync_batch_norm(x, fnn.tensor(np.ones(4)), None, None, None, _world_one()), ValueError,
     r"sync_batch_norm: gamma must have shape \(3,\) for x of shape \(4, 3\), got \(4,\)"),
    (lambda x: sync_batch_norm(x.reshape(2, 2, 3), None, None, None, None, _world_one()), ValueError,
     r"sync_batch_norm: x must be 2-D or 4-D, got shape \(2, 2, 3\)"),
    (lambda x: sync_batch_norm(x, fnn.tensor(np.ones(3, np.float32)), None, None, None, _world_one()), TypeError,
     "sync_batch_norm: inputs must share one dtype"),
])
def test_bad_arguments_are_refused(numpy_backend_and_rng_restored, call, error, match):
    with pytest.raises(error, match=match):
        call(fnn.tensor(np.ones((4, 3))))


# -- under mpiexec -n 2 -------------------------------------------------------------------------------
#: One rank's side of the check, run by every rank under mpiexec and, whole, by the test
#: itself as the single process (with plain BatchNormalization): a layer that feeds the
#: batch norm (Dense, or Conv2D for images) so that gradients flow through it and below
#: it, each rank's loss the mean over its own rows, the weight gradients reduced as
#: data-parallel fit reduces them (fastnn/replicas.py: weight N n_r / B, then the mean).
JOB = """
    import numpy as np, fastnn as fnn
    from fastnn import data_parallel
    from fastnn.layers import BatchNormalization, Conv2D, Dense, Input, SyncBatchNormalization

    CASES = [(backend, dtype, shape) for backend in ("numpy", "cpu") for dtype in ("float64", "float32")
             for shape in ((7, 5), (5, 3, 4, 3))]

    def job(world, backend, dtype, shape, norm=SyncBatchNormalization):
        rng = np.random.default_rng(21)
        x_all = (2 * rng.standard_normal(shape) + 1).astype(dtype)
        target = rng.standard_normal(shape).astype(dtype)
        n = shape[0]
        start, stop = world.rank * n // world.size, (world.rank + 1) * n // world.size
        fnn.manual_seed(0)
        first = Dense(shape[1]) if len(shape) == 2 else Conv2D(shape[1], 3, padding="same")
        bn = norm(momentum=0.8, epsilon=1e-3)
        model = fnn.Sequential([Input(shape[1:], dtype=dtype), first, bn], backend=backend)
        bn.set_weights([(1 + 0.1 * np.arange(shape[1])).astype(dtype), (0.1 * np.arange(shape[1])).astype(dtype),
                        np.full(shape[1], 0.5, dtype), np.full(shape[1], 2.0, dtype)])
        x = fnn.tensor(x_all[start:stop], requires_grad=True, backend=backend)
        y = model(x, training=True)
        loss = (y * fnn.tensor(target[start:stop], backend=backend)).sum() / (stop - start)
        loss.backward()
        data_parallel.reduce_gradients(model.parameters(), world, weight=world.size * (stop - start) / n)
        return dict(rows=[start, stop], y=y.numpy().tolist(), x_grad=x.grad.numpy().tolist(),
                    grads=[p.grad.numpy().tolist() for p in model.parameters()],
                    stats=[bn.running_mean.numpy().tolist(), bn.running_var.numpy().tolist()])
"""

RUN_RANKS = """
    import json
    world = fnn.distributed.init()
    results = [job(world, *case) for case in CASES]
    with open(f"rank{world.rank}.json", "w") as out:   # one file a rank: mpiexec interleaves stdout
        json.dump(dict(rank=world.rank, size=world.size, results=results), out)
"""


@needs_mpi
def test_two_ranks_equal_one_process_running_batch_normalization_on_the_whole_batch(tmp_path, world_alone):
    result = _mpiexec(tmp_path, JOB + RUN_RANKS, timeout=300)
    assert result.returncode == 0, result.stderr
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [(r["rank"], r["size"]) for r in ranks] == [(0, 2), (1, 2)]
    namespace = {}
    exec(textwrap.dedent(JOB), namespace)
    for i, (backend, dtype, shape) in enumerate(namespace["CASES"]):
        what = f"{backend} {dtype} {shape}"
        single = namespace["job"](world_alone, backend, dtype, shape, norm=BatchNormalization)
        zero, one = (r["results"][i] for r in ranks)
        n = shape[0]
        assert zero["rows"] == [0, n // 2] and one["rows"] == [n // 2, n]      # 3/4 rows, 2/3 images
        # the shares' outputs, row by row, are the whole batch's
        assert_close(np.concatenate([zero["y"], one["y"]]), single["y"], dtype=dtype, what=f"y, {what}")
        # a rank's input gradient is that of its own loss (the mean over its rows): weighted
        # by n_r / N, as the trainer weighs what the layers below make of it, it is one process's
        x_grad = np.concatenate([np.asarray(r["x_grad"]) * (np.diff(r["rows"])[0] / n) for r in (zero, one)])
        assert_close(x_grad, single["x_grad"], dtype=dtype, what=f"x grad, {what}")
        # the reduced weight gradients (Dense or Conv2D kernel and bias, gamma, beta) and the
        # running statistics: one process's, the same on both ranks
        for r in (zero, one):
            for name, a, e in zip(["kernel", "bias", "gamma", "beta"], r["grads"], single["grads"]):
                assert_close(a, e, dtype=dtype, what=f"{name} grad, {what}")
            for name, a, e in zip(["running_mean", "running_var"], r["stats"], single["stats"]):
                assert_close(a, e, dtype=dtype, what=f"{name}, {what}")
        assert zero["grads"] == one["grads"] and zero["stats"] == one["stats"]
