"""fastnn.data_parallel: the replicas of a model stay equal across ranks. In a world of
one process (no launcher) and under ``mpiexec -n 2``: rank 0's weights, optimizer state
and random stream reach every rank; models that differ are refused on every rank; the
gradients become their mean over the ranks, in buckets, with a missing gradient counted
as zeros."""

import json
import sys
import textwrap
import time

import numpy as np
import pytest

import fastnn as fnn
from fastnn import data_parallel, distributed
from fastnn.layers import BatchNormalization, Dense, Input
from backend_params import require
from test_distributed import _mpiexec, needs_mpi


def model(units=4, seed=0):
    fnn.manual_seed(seed)
    m = fnn.Sequential([Input((3,)), Dense(units, activation="relu"), BatchNormalization(), Dense(2)], backend="cpu")
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return m


def test_alone_the_model_is_left_as_it_is(world_alone):
    m = model()
    before = [w.copy() for w in m.get_weights()]
    data_parallel.broadcast_model(m, world_alone)
    for u, v in zip(before, m.get_weights()):
        np.testing.assert_array_equal(u, v)
    p, q = m.parameters()[:2]
    p.grad = fnn.tensor(np.full(p.shape, 2.0, dtype=np.float32), backend="cpu")
    data_parallel.reduce_gradients([p, q], world_alone, bucket_bytes=8)
    np.testing.assert_array_equal(p.grad.numpy(), 2.0)
    assert q.grad is None        # no gradient on any rank: left alone, as one process leaves it


def test_alone_allreduce_in_place_reduces_the_buffer_itself(world_alone):
    buffer = np.arange(6.0)
    assert world_alone.allreduce_in_place(buffer, op="mean") is buffer
    np.testing.assert_array_equal(buffer, np.arange(6.0))
    with pytest.raises(ValueError, match="allreduce_in_place: array must be C-contiguous"):
        world_alone.allreduce_in_place(np.zeros((4, 4))[:, 1])
    with pytest.raises(TypeError, match="allreduce_in_place: array must be a numpy array, got list"):
        world_alone.allreduce_in_place([1.0])
    with pytest.raises(TypeError, match="allreduce_in_place: op='mean' needs a floating array"):
        world_alone.allreduce_in_place(np.ones(2, dtype=np.int64), op="mean")


def test_bucket_size_must_be_a_positive_int(world_alone):
    with pytest.raises(ValueError, match="bucket_bytes must be a positive int, got 0"):
        data_parallel.reduce_gradients(model().parameters(), world_alone, bucket_bytes=0)


def test_buckets_hold_consecutive_parameters_up_to_the_limit():
    params = [fnn.tensor(np.zeros(n, dtype=np.float32)) for n in (2, 2, 5, 1)]
    groups = [[p.size for p in b] for b in data_parallel._buckets(params, bucket_bytes=16)]
    assert groups == [[2, 2], [5], [1]]


@needs_mpi
def test_two_ranks_end_with_rank_zeros_model_and_mean_gradients(tmp_path):
    result = _mpiexec(tmp_path, """
        import json, numpy as np, fastnn as fnn
        from fastnn import data_parallel
        from fastnn.layers import BatchNormalization, Dense, Input
        world = fnn.distributed.init()
        fnn.manual_seed(world.rank)                          # different weights on each rank
        m = fnn.Sequential([Input((3,)), Dense(4, activation="relu"), BatchNormalization(), Dense(2)],
                           backend="cpu")
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        x = np.random.default_rng(world.rank).standard_normal((8, 3)).astype(np.float32)
        m.train_on_batch(x, np.arange(8) % 2)                # optimizer state and BN statistics differ too
        data_parallel.broadcast_model(m, world)
        weights = [w.tolist() for w in m.get_weights()]
        state = m.optimizer.state_dict()["state"]
        moments = [np.asarray(state[i]["exp_avg"]).tolist() for i in sorted(state)]
        draw = fnn.rand(3).numpy().tolist()                  # the random streams agree as well
        # gradients: rank r holds r + 1 everywhere, except that rank 1 has none for the first
        # parameter and no rank has one for the last; float32 and float64 parameters, buckets
        # of 24 bytes
        params = [fnn.tensor(np.zeros(s, dtype=d), requires_grad=True, backend="cpu")
                  for s, d in (((2, 3), np.float32), ((5,), np.float64), ((4,), np.float32), ((3,), np.float32))]
        for i, p in enumerate(params[:3]):
            if not (world.rank == 1 and i == 0):
                p.grad = fnn.tensor(np.full(p.shape, world.rank + 1.0, dtype=p.dtype), backend="cpu")
        data_parallel.reduce_gradients(params, world, bucket_bytes=24)
        grads = [None if p.grad is None else [str(p.grad.dtype), p.grad.numpy().reshape(-1).tolist()]
                 for p in params]
        with open(f"rank{world.rank}.json", "w") as out:   # one file a rank: mpiexec interleaves stdout
            json.dump(dict(rank=world.rank, weights=weights, moments=moments, draw=draw, grads=grads), out)
    """)
    assert result.returncode == 0, result.stderr
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["rank"] for r in ranks] == [0, 1]
    zero, one = ranks
    assert one["weights"] == zero["weights"] and one["moments"] == zero["moments"] and one["draw"] == zero["draw"]
    # rank 0 keeps its own model: the same script alone, with rank 0's seed and data, gives it
    fnn.manual_seed(0)
    single = fnn.Sequential([Input((3,)), Dense(4, activation="relu"), BatchNormalization(), Dense(2)],
                            backend="cpu")
    single.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    single.train_on_batch(np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32), np.arange(8) % 2)
    assert zero["weights"] == [w.tolist() for w in single.get_weights()]
    assert len(zero["weights"]) == 8                         # BN running statistics included
    assert zero["grads"] == one["grads"]
    # the first: (1 + 0) / 2, rank 1 having none; the next (1 + 2) / 2; the last none anywhere
    assert zero["grads"] == [["float32", [0.5] * 6], ["float64", [1.5] * 5], ["float32", [1.5] * 4], None]


@needs_mpi
def test_models_that_differ_are_refused_on_every_rank(tmp_path):
    result = _mpiexec(tmp_path, """
        import fastnn as fnn
        from fastnn import data_parallel
        from fastnn.layers import Dense, Input
        world = fnn.distributed.init()
        m = fnn.Sequential([Input((3,)), Dense(4 + world.rank)], backend="cpu")
        try:
            data_parallel.broadcast_model(m, world)
        except ValueError as error:
            open(f"rank{world.rank}.txt", "w").write(str(error))
    """)
    assert result.returncode == 0, result.stderr
    for rank in (0, 1):
        message = (tmp_path / f"rank{rank}.txt").read_text()
        assert "(rank 1 differs from rank 0): weight 0: rank 0 has" in message
        assert "(3, 4)" in message and "(3, 5)" in message


# -- data-parallel fit (fastnn/replicas.py) ------------------------------------------------------
FIT_JOB = """
    import json, sys, numpy as np, fastnn as fnn
    from fastnn.layers import BatchNormalization, Conv2D, Dense, Dropout, Flatten, Input, SyncBatchNormalization
    world = fnn.distributed.init()
    OPTIMIZERS = {"adam": lambda: fnn.optim.Adam(lr=0.01, global_clipnorm=1.0),
                  "sgd_momentum": lambda: fnn.optim.SGD(lr=0.05, momentum=0.9)}

    class Batches(fnn.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen = []
        def on_train_batch_end(self, batch, logs=None):
            self.seen.append(logs)

    reports = {}
    for backend, dtype, optimizer in CONFIGS:
        fnn.manual_seed(world.rank)        # rank 0's model and stream win: fit broadcasts them
        rng = np.random.default_rng(5)
        x = rng.standard_normal((SAMPLES, *SHAPE)).astype(dtype)
        flat = x.reshape(len(x), -1)
        y = (flat[:, 0] > 0).astype(np.int64) + 2 * (flat[:, 1] > 0)
        m = fnn.Sequential(LAYERS, backend=backend)
        m.compile(optimizer=OPTIMIZERS[optimizer](), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        batches = Batches()
        history = m.fit(x, y, batch_size=BATCH, epochs=3, verbose=0, validation_data=(x[:20], y[:20]),
                        callbacks=[batches])
        reports[f"{backend} {dtype} {optimizer}"] = dict(
            weights=[w.tolist() for w in m.get_weights()], history=history.history, batches=batches.seen)
    with open(f"rank{world.rank}.json", "w") as out:
        json.dump(dict(reports=reports, device=world.device), out)
"""


def _single_process_fit(directory, monkeypatch, job):
    """The job's own code in this process, a world of one (no launcher): its rank 0 report."""
    for name in distributed.LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(distributed, "_world", None)
    monkeypatch.chdir(directory)
    exec(textwrap.dedent(job), {"__name__": "job"})
    return json.loads((directory / "rank0.json").read_text())


#: (backend, dtype, optimizer) of each fit a job runs: host backends, or the gpu
HOST_CONFIGS = [(b, d, o) for b in ("numpy", "cpu") for d in ("float32", "float64") for o in ("adam", "sgd_momentum")]
GPU_CONFIGS = [("gpu", d, o) for d in ("float32", "float64") for o in ("adam", "sgd_momentum")]
#: The issue's bounds for equality with one process: relative, with an absolute floor for
#: values near zero at the same relative size of the largest weight.
TOLERANCE = {"float32": 1e-5, "float64": 1e-12}


def fit_job(layers, samples, batch, configs=HOST_CONFIGS, shape=(6,)):
    return (FIT_JOB.replace("LAYERS", layers).replace("SAMPLES", str(samples)).replace("BATCH", str(batch))
            .replace("CONFIGS", repr(configs)).replace("SHAPE", repr(shape)))


# (layers, samples, global batch, batches an epoch, input shape)
FIT_MODELS = {
    # 69 samples in global batches of 16: 5 batches an epoch, the last one (5 samples) split 2 + 3
    "mlp": ('[Input((6,), dtype=dtype), Dense(16, activation="relu"), Dense(4)]', 69, 16, 5, (6,)),
    # Dropout over 13 values a sample in global batches of 14: a rank's share starts in the
    # middle of a Philox block (7 x 13 words before it), and the last batch of 57 samples is
    # one sample: rank 0 has none, draws nothing, and takes rank 1's stream
    "mlp_dropout": ('[Input((6,), dtype=dtype), Dense(13, activation="relu"), Dropout(0.4), Dense(4)]', 57, 14, 5,
                    (6,)),
    # Batch statistics over the global batch (alone, SyncBatchNormalization is batch norm):
    # 45 images in batches of 10, the last (5) split 2 + 3. No bias before batch norm: its
    # gradient is zero but for rounding, which Adam would blow up into steps of lr.
    "cnn_sync_batch_norm": ('[Input((2, 5, 5), dtype=dtype), Conv2D(4, 3, padding="same", use_bias=False), '
                            'SyncBatchNormalization(momentum=0.8), Flatten(), Dropout(0.25), '
                            'Dense(6, use_bias=False), SyncBatchNormalization(), Dense(4)]', 45, 10, 5, (2, 5, 5)),
}


def assert_equal_within(got, want, dtype, what):
    tolerance = TOLERANCE[dtype]
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    floor = tolerance * max(float(np.abs(want).max(initial=0.0)), 1.0)
    np.testing.assert_allclose(got, want, rtol=tolerance, atol=floor, err_msg=what)


@needs_mpi
@pytest.mark.parametrize("backends", ["host", pytest.param("gpu", marks=pytest.mark.gpu)])
@pytest.mark.parametrize("name", list(FIT_MODELS))
def test_two_ranks_train_the_model_one_process_trains(tmp_path, monkeypatch, name, backends):
    """numpy and cpu, float32 and float64, Adam (with global clipping) and SGD with momentum;
    and gpu ranks (sharing one device, or one each: ``world.device`` is local_rank % devices),
    reducing through host buffers. Weights, epoch logs (validation included) and batch logs
    equal one process's within 1e-5 (float32) and 1e-12 (float64), the ranks identical."""
    configs = HOST_CONFIGS
    if backends == "gpu":
        require("gpu")
        configs = GPU_CONFIGS
    layers, samples, batch, steps, shape = FIT_MODELS[name]
    job = fit_job(layers, samples, batch, configs, shape)
    (tmp_path / "mpi").mkdir()
    (tmp_path / "one").mkdir()
    result = _mpiexec(tmp_path / "mpi", job, timeout=240)
    assert result.returncode == 0, result.stderr
    zero, one = (json.loads((tmp_path / "mpi" / f"rank{r}.json").read_text()) for r in (0, 1))
    if backends == "gpu":
        devices = require("gpu").xp.cuda.runtime.getDeviceCount()
        assert [zero["device"], one["device"]] == [0, 1 % devices]
    assert zero["reports"] == one["reports"]                  # the replicas and their logs are identical
    single = _single_process_fit(tmp_path / "one", monkeypatch, job)["reports"]
    assert zero["reports"].keys() == single.keys() == {" ".join(c) for c in configs}
    for config, report in zero["reports"].items():
        dtype, want = config.split()[1], single[config]
        for i, (got_w, want_w) in enumerate(zip(report["weights"], want["weights"])):
            assert_equal_within(got_w, want_w, dtype, f"{config}: weight {i}")
        assert report["history"].keys() == want["history"].keys()
        for key, values in want["history"].items():
            assert_equal_within(report["history"][key], values, dtype, f"{config}: {key}")
        assert len(report["batches"]) == 3 * steps
        for got_b, want_b in zip(report["batches"], want["batches"]):    # batch logs: the global batch's
            assert set(got_b) == {"loss", "accuracy"}
            assert_equal_within([got_b["loss"], got_b["accuracy"]], [want_b["loss"], want_b["accuracy"]], dtype,
                                f"{config}: batch logs")


@needs_mpi
def test_plain_batch_norm_keeps_its_running_statistics_equal_on_every_rank(tmp_path):
    """Plain BatchNormalization normalizes with each rank's share (not one process's
    batch): the replicas stay identical, running statistics included (each rank's updated
    from its own share, then averaged over the ranks after every step), and they learn."""
    job = fit_job('[Input((6,), dtype=dtype), Dense(12), BatchNormalization(momentum=0.8), '
                  'Dense(4, activation="relu"), BatchNormalization(), Dense(4)]', 69, 16)
    result = _mpiexec(tmp_path, job, timeout=240)
    assert result.returncode == 0, result.stderr
    zero, one = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert zero == one
    for config, report in zero["reports"].items():
        running_mean, running_var = np.array(report["weights"][4]), np.array(report["weights"][5])
        assert running_mean.shape == (12,) and np.abs(running_mean).max() > 1e-3, config   # moved from zeros
        assert np.all(running_var > 0) and np.abs(running_var - 1).max() > 1e-3, config
        assert report["history"]["loss"][-1] < report["history"]["loss"][0], config


@needs_mpi
def test_frozen_layers_stay_put_on_every_rank_and_ranks_must_freeze_alike(tmp_path):
    """Two ranks, uneven last batch (69 samples in global batches of 16): a frozen Dense and a
    frozen plain batch norm keep rank 0's values bit for bit (no gradient reduced, running
    statistics neither updated nor averaged), the rest trains and stays equal on the ranks.
    A model frozen on one rank only is refused on every rank before the first step."""
    result = _mpiexec(tmp_path, """
        import json, numpy as np, fastnn as fnn
        from fastnn.layers import BatchNormalization, Dense, Input
        world = fnn.distributed.init()
        x = np.random.default_rng(3).standard_normal((69, 6)).astype(np.float32)
        y = (x[:, 0] > 0).astype(np.int64)

        def compiled():
            fnn.manual_seed(world.rank)
            m = fnn.Sequential([Input((6,)), Dense(8, name="frozen"), BatchNormalization(name="bn"),
                                Dense(2, name="head")], backend="cpu")
            m.compile(optimizer=fnn.optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.01),
                      loss="sparse_categorical_crossentropy")
            return m

        m = compiled()
        m.get_layer("frozen").trainable = (world.rank == 1)        # disagree: refused everywhere
        try:
            m.fit(x, y, batch_size=16, verbose=0)
            refused = ""
        except ValueError as error:
            refused = str(error)
        m = compiled()
        m.get_layer("frozen").trainable = False
        m.get_layer("bn").trainable = False
        fnn.distributed.world().barrier()
        m.fit(x, y, batch_size=16, epochs=2, verbose=0)
        with open(f"rank{world.rank}.json", "w") as out:
            json.dump(dict(refused=refused, weights=[w.tolist() for w in m.get_weights()]), out)
    """)
    assert result.returncode == 0, result.stderr
    zero, one = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    for report in (zero, one):
        assert "(rank 1 differs from rank 0): weight 0: rank 0 has" in report["refused"]
        assert "frozen" in report["refused"] and "trains" in report["refused"]
    assert zero["weights"] == one["weights"]
    fnn.manual_seed(0)                              # rank 0's initial model, broadcast to rank 1
    initial = fnn.Sequential([Input((6,)), Dense(8), BatchNormalization(), Dense(2)], backend="cpu").get_weights()
    for i, (now, start) in enumerate(zip(zero["weights"], initial)):
        if i < 6:                                   # kernel, bias, gamma, beta, running mean and variance
            np.testing.assert_array_equal(np.asarray(now, dtype=np.float32), start)
        else:
            assert not np.array_equal(np.asarray(now, dtype=np.float32), start)


REFUSED_JOB = """
    import numpy as np, fastnn as fnn
    from fastnn.layers import BatchNormalization, Dense, Input
    world = fnn.distributed.init()
    x, y = np.ones((32, 6), dtype=np.float32), np.zeros(32, dtype=np.int64)
    m = fnn.Sequential(LAYERS, backend="cpu")
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = [w.copy() for w in m.get_weights()]
    try:
        m.fit(x, y, batch_size=BATCH, verbose=0)
    except ValueError as error:
        unchanged = all(np.array_equal(a, b) for a, b in zip(before, m.get_weights()))
        open(f"error{world.rank}.txt", "w").write(f"{unchanged} {error}")
"""


@needs_mpi
@pytest.mark.parametrize("layers, batch, message", [
    ("[Input((6,)), Dense(4)]", 15, "batch_size is the global batch and must be divisible by the world size 2, "
                                    "got 15"),
])
def test_what_data_parallel_fit_cannot_do_yet_is_refused_on_every_rank(tmp_path, layers, batch, message):
    result = _mpiexec(tmp_path, REFUSED_JOB.replace("LAYERS", layers).replace("BATCH", str(batch)))
    assert result.returncode == 0, result.stderr
    for rank in (0, 1):
        unchanged, text = (tmp_path / f"error{rank}.txt").read_text().split(" ", 1)
        assert message in text and unchanged == "True"       # refused before the first step


@needs_mpi
def test_rank_zero_writes_the_checkpoint_every_rank_loads_it(tmp_path):
    result = _mpiexec(tmp_path, """
        import json, numpy as np, fastnn as fnn
        from fastnn import io
        from fastnn.layers import Dense, Input
        world = fnn.distributed.init()
        written = []
        for name in ("save_model", "save_weights"):
            original = getattr(io, name)
            def recording(model, path, original=original):
                written.append(str(path))
                return original(model, path)
            setattr(io, name, recording)
        fnn.manual_seed(world.rank)
        m = fnn.Sequential([Input((4,)), Dense(3)], backend="cpu")
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        m.fit(np.ones((8, 4), np.float32), np.arange(8) % 3, batch_size=4, verbose=0)
        m.save("model.safetensors")
        m.save_weights("weights.safetensors")
        loaded = fnn.load_model("model.safetensors", backend="cpu")
        m.load_weights("weights.safetensors")
        same = all(np.array_equal(a, b) for a, b in zip(loaded.get_weights(), m.get_weights()))
        with open(f"rank{world.rank}.json", "w") as out:
            json.dump(dict(written=written, same=same, weights=[w.tolist() for w in m.get_weights()]), out)
    """)
    assert result.returncode == 0, result.stderr
    zero, one = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert zero["written"] == ["model.safetensors", "weights.safetensors"] and one["written"] == []
    assert zero["same"] and one["same"] and zero["weights"] == one["weights"]


RESUME_JOB = """
    import json, numpy as np, fastnn as fnn
    from fastnn.layers import Dense, Dropout, Input, SyncBatchNormalization
    world = fnn.distributed.init()
    rng = np.random.default_rng(8)
    x = rng.standard_normal((50, 5)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)

    def compiled():
        m = fnn.Sequential([Input((5,)), Dense(9, use_bias=False), SyncBatchNormalization(),
                            Dense(7, activation="relu"), Dropout(0.3), Dense(2)], backend="cpu")
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return m

    fnn.manual_seed(4)
    straight = compiled()
    straight_history = straight.fit(x, y, batch_size=12, epochs=4, verbose=0).history

    fnn.manual_seed(4)
    crashed = compiled()
    crashed.fit(x, y, batch_size=12, epochs=2, verbose=0, callbacks=[fnn.callbacks.ModelCheckpoint("ck.safetensors")])
    fnn.manual_seed(100 + world.rank)          # a new process: some other random state, on every rank its own
    resumed = fnn.load_model("ck.safetensors", backend="cpu")
    history = resumed.fit(x, y, batch_size=12, epochs=4, initial_epoch=resumed.epoch, verbose=0).history
    with open(f"rank{world.rank}.json", "w") as out:
        json.dump(dict(epoch=resumed.epoch, straight=[w.tolist() for w in straight.get_weights()],
                       resumed=[w.tolist() for w in resumed.get_weights()], history=history,
                       straight_history=straight_history), out)
"""


@needs_mpi
def test_a_resumed_data_parallel_fit_is_an_uninterrupted_one(tmp_path, monkeypatch):
    """Two ranks: rank 0 writes the checkpoint after epoch 2, every rank loads it (into its
    own random state) and resumes; the weights end as an uninterrupted 4-epoch fit's, on
    both ranks, and as one process's resume of the same job."""
    (tmp_path / "mpi").mkdir()
    (tmp_path / "one").mkdir()
    result = _mpiexec(tmp_path / "mpi", RESUME_JOB)
    assert result.returncode == 0, result.stderr
    zero, one = (json.loads((tmp_path / "mpi" / f"rank{r}.json").read_text()) for r in (0, 1))
    assert zero == one and zero["epoch"] == 4
    assert zero["resumed"] == zero["straight"]
    assert zero["history"]["loss"] == zero["straight_history"]["loss"][2:]
    single = _single_process_fit(tmp_path / "one", monkeypatch, RESUME_JOB)
    for got, want in zip(zero["resumed"], single["resumed"]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(zero["history"]["loss"], single["history"]["loss"], rtol=1e-4)


@needs_mpi
def test_a_rank_raising_mid_epoch_ends_the_job_within_ten_seconds(tmp_path):
    """Rank 1 fails in the middle of an epoch (a callback raises at its fourth batch) while
    rank 0 goes on to its next collective: the whole job ends, non-zero, with rank 1's
    traceback, within 10 s of the error."""
    result = _mpiexec(tmp_path, """
        import time, numpy as np, fastnn as fnn
        from fastnn.layers import Dense, Input
        world = fnn.distributed.init()

        class FailOnRankOne(fnn.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                if world.rank == 1 and batch == 3:
                    open("raised_at.txt", "w").write(repr(time.time()))
                    raise RuntimeError("rank one failed mid-epoch")

        x = np.random.default_rng(0).standard_normal((640, 6)).astype(np.float32)
        m = fnn.Sequential([Input((6,)), Dense(8), Dense(2)], backend="cpu")
        m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        m.fit(x, (x[:, 0] > 0).astype(np.int64), batch_size=8, epochs=1000, verbose=0, callbacks=[FailOnRankOne()])
    """, timeout=120)
    ended = time.time()
    assert result.returncode != 0
    assert "RuntimeError: rank one failed mid-epoch" in result.stderr and "rank 1 of 2 failed" in result.stderr
    assert ended - float((tmp_path / "raised_at.txt").read_text()) < 10


@needs_mpi
def test_only_rank_zero_prints_progress_and_writes_files(tmp_path):
    """Each rank works in its own folder: after a fit with progress lines, a CSV log,
    TensorBoard events and a checkpoint, rank 1's folder is empty and each epoch's line
    was printed once."""
    pytest.importorskip("tensorboardX")
    result = _mpiexec(tmp_path, """
        import os, numpy as np, fastnn as fnn
        from fastnn.layers import Dense, Input
        world = fnn.distributed.init()
        os.makedirs(f"rank{world.rank}")
        os.chdir(f"rank{world.rank}")
        x = np.random.default_rng(0).standard_normal((40, 6)).astype(np.float32)
        m = fnn.Sequential([Input((6,)), Dense(8), Dense(2)], backend="cpu")
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        m.fit(x, (x[:, 0] > 0).astype(np.int64), batch_size=8, epochs=2, verbose=2, validation_split=0.2,
              callbacks=[fnn.callbacks.CSVLogger("history.csv"), fnn.callbacks.TensorBoard("events"),
                         fnn.callbacks.ModelCheckpoint("checkpoint.safetensors")])
    """)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "rank0").iterdir()) == ["checkpoint.safetensors", "events",
                                                                       "history.csv"]
    assert list((tmp_path / "rank1").iterdir()) == []
    assert result.stdout.count("Epoch 1/2") == 1 and result.stdout.count("Epoch 2/2") == 1


def test_without_mpi4py_a_world_of_one_still_works_and_a_launcher_asks_for_it(monkeypatch):
    """mpi4py not installed: init() without a launcher is a world of one; under a launcher
    (which asks for MPI) it is an ImportError that says how to install it."""
    monkeypatch.setitem(sys.modules, "mpi4py", None)          # import mpi4py now fails
    for name in distributed.LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(distributed, "_world", None)
    world = distributed.init()
    assert (world.rank, world.size) == (0, 1)
    np.testing.assert_array_equal(world.allreduce(np.ones(2)), np.ones(2))
    monkeypatch.setattr(distributed, "_world", None)
    monkeypatch.setenv("PMI_SIZE", "2")
    monkeypatch.setenv("PMI_RANK", "0")
    with pytest.raises(ImportError, match=r"mpi4py is not installed \(pip install 'fastnn\[distributed\]'\)"):
        distributed.init()
    assert distributed._world is None                            # nothing half made
