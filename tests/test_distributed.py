"""fastnn.distributed: a world of one process without a launcher, and under
``mpiexec -n 2`` MPI's own collectives, ranks, threads per rank and the abort of the
whole job when one rank fails."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import fastnn as fnn
from fastnn import distributed


def test_without_a_launcher_the_world_is_this_process_alone(world_alone):
    assert (world_alone.rank, world_alone.size, world_alone.local_rank) == (0, 1, 0)
    assert distributed.init() is world_alone and distributed.world() is world_alone
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    for op in ("sum", "mean"):
        out = world_alone.allreduce(x, op=op)
        assert out is not x and out.dtype == x.dtype
        np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(world_alone.broadcast(x), x)
    t = fnn.tensor(x, backend="cpu", requires_grad=True)
    reduced = world_alone.allreduce(t, op="mean")
    assert isinstance(reduced, fnn.Tensor) and reduced.backend == "cpu" and not reduced.requires_grad
    world_alone.barrier()


@pytest.mark.parametrize("call, error, match", [
    (lambda w: w.allreduce(np.ones(3), op="max"), ValueError, "op must be one of 'sum', 'mean', got 'max'"),
    (lambda w: w.allreduce(np.ones(3, dtype=np.int64), op="mean"), TypeError, "needs a floating array"),
    (lambda w: w.allreduce([1.0, 2.0]), TypeError, "expected a numpy array or a fastnn tensor, got list"),
    (lambda w: w.allreduce(np.array(["a"])), TypeError, "expected a numeric array"),
    (lambda w: w.broadcast(np.ones(3), root=1), ValueError, r"root must be a rank in \[0, 0\], got 1"),
    (lambda w: w.broadcast(np.ones(3), root=True), ValueError, "root must be a rank"),
])
def test_bad_arguments_are_refused(world_alone, call, error, match):
    with pytest.raises(error, match=match):
        call(world_alone)


def test_threads_per_rank_share_the_node(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    assert [distributed.threads_per_rank(n) for n in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})      # the launcher bound us to one core
    assert distributed.threads_per_rank(1) == 1


# -- under mpiexec ---------------------------------------------------------------------------------
MPIEXEC = shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
needs_mpi = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec: pip install 'fastnn[distributed]'")


def _mpiexec(tmp_path, code, n=2, timeout=120, through_mpi4py=True):
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(code))
    python = [sys.executable, "-m", "mpi4py"] if through_mpi4py else [sys.executable]
    return subprocess.run([MPIEXEC, "-n", str(n), *python, str(script)],
                          capture_output=True, text=True, timeout=timeout, cwd=tmp_path)


@needs_mpi
def test_two_ranks_reduce_broadcast_and_share_the_cores(tmp_path):
    result = _mpiexec(tmp_path, """
        import json, numpy as np, fastnn as fnn
        world = fnn.distributed.init()
        mine = np.full((2, 3), world.rank + 1.0, dtype=np.float32)
        total = world.allreduce(mine)
        mean = world.allreduce(fnn.tensor(mine, backend="cpu"), op="mean")
        counts = world.allreduce(np.array([world.rank, 1], dtype=np.int64))
        root = world.broadcast(np.array([world.rank * 10.0 + 7.0]), root=1)
        world.barrier()
        with open(f"rank{world.rank}.json", "w") as out:   # one file a rank: mpiexec interleaves stdout
            json.dump(dict(rank=world.rank, size=world.size, local=[world.local_rank, world.local_size],
                           total=total.tolist(), mean=mean.numpy().tolist(), counts=counts.tolist(),
                           root=root.tolist(), mine=mine.tolist(), threads=fnn.get_num_threads()), out)
    """)
    assert result.returncode == 0, result.stderr
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["rank"] for r in reports] == [0, 1] and all(r["size"] == 2 for r in reports)
    assert sorted(r["local"][0] for r in reports) == [0, 1] and all(r["local"][1] == 2 for r in reports)
    for r in reports:
        assert r["total"] == [[3.0] * 3] * 2 and r["mean"] == [[1.5] * 3] * 2
        assert r["counts"] == [1, 2] and r["root"] == [17.0]
        assert r["mine"] == [[r["rank"] + 1.0] * 3] * 2            # the inputs are left alone
        assert r["threads"] == distributed.threads_per_rank(2)


@needs_mpi
@pytest.mark.parametrize("through_mpi4py", [True, False], ids=["python -m mpi4py", "plain script"])
def test_an_error_on_one_rank_aborts_the_whole_job_with_its_traceback(tmp_path, through_mpi4py):
    # A plain script relies on the hook init() installs: without it rank 0 would wait in
    # the allreduce until the timeout.
    started = time.monotonic()
    result = _mpiexec(tmp_path, """
        import time, numpy as np, fastnn as fnn
        world = fnn.distributed.init()
        if world.rank == 1:
            raise RuntimeError("bad batch on rank one")
        world.allreduce(np.ones(3))     # rank 0 would wait here forever without the abort
        time.sleep(60)
    """, timeout=90, through_mpi4py=through_mpi4py)
    assert result.returncode != 0
    assert time.monotonic() - started < 60
    assert "RuntimeError: bad batch on rank one" in result.stderr
    assert "rank 1 of 2 failed" in result.stderr
