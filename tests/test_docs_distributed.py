"""docs/distributed.md runs as written: its training script prints the same epochs and
test accuracy on two processes as on one (the claim that data-parallel training with
dropout equals one process's), its failing script aborts the job with the failing rank's
traceback, and its hand-written loop keeps the replicas equal."""

import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

from test_distributed import MPIEXEC, needs_mpi

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "distributed.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)

pytest.importorskip("sklearn")   # the script loads the digits


def _block(starting):
    found = [b for b in BLOCKS if b.lstrip().startswith(starting)]
    assert len(found) == 1, f"one python block of docs/distributed.md starts with {starting!r}"
    return found[0]


def _run(tmp_path, code, ranks, timeout=180):
    script = tmp_path / "script.py"
    script.write_text(code)
    launcher = [MPIEXEC, "-n", str(ranks)] if ranks else []
    return subprocess.run([*launcher, sys.executable, "-m", "mpi4py", str(script)], capture_output=True, text=True,
                          timeout=timeout, cwd=tmp_path)


def _without_time(line):
    return re.sub(r" - [0-9.]+s - ", " - ", line)


@needs_mpi
def test_the_training_script_prints_the_same_on_two_processes_as_on_one(tmp_path):
    code = _block("# train.py")
    outputs = {}
    for ranks in (2, None):
        result = _run(tmp_path, code, ranks)
        assert result.returncode == 0, result.stderr
        outputs[ranks] = result.stdout
    epochs = {ranks: [_without_time(l) for l in out.splitlines() if l.startswith("Epoch")]
              for ranks, out in outputs.items()}
    assert len(epochs[2]) == 10 and epochs[2] == epochs[None]             # only rank 0 prints, the same lines
    accuracy = {ranks: re.search(r"test accuracy ([0-9.]+)", out).group(1) for ranks, out in outputs.items()}
    assert "world size 2:" in outputs[2] and "world size 1:" in outputs[None]
    assert accuracy[2] == accuracy[None]
    assert (tmp_path / "history.csv").exists() and (tmp_path / "model.safetensors").exists()
    # the doc quotes the last epoch's line and the accuracy of this run
    quoted = re.search(r"# (Epoch 10/10 .*)", DOC.read_text()).group(1)
    quoted_loss = float(re.search(r"loss: ([0-9.]+)", quoted).group(1))
    printed_loss = float(re.search(r"loss: ([0-9.]+)", epochs[2][-1]).group(1))
    assert printed_loss == pytest.approx(quoted_loss, abs=5e-3)


@needs_mpi
def test_the_failing_script_aborts_the_job_with_the_rank_s_traceback(tmp_path):
    code = _block("import fastnn as fnn\nimport numpy as np\nworld = fnn.distributed.init()\nif world.rank == 1")
    result = _run(tmp_path, code, 2, timeout=60)
    assert result.returncode != 0
    assert "rank 1 of 2 failed" in result.stderr and "RuntimeError: out of data on rank 1" in result.stderr


@needs_mpi
def test_the_hand_written_loop_keeps_the_replicas_equal(tmp_path):
    code = _block("import fastnn as fnn\nimport fastnn.functional as F") + textwrap.dedent("""
        import numpy as np
        weights = world.allgather_object([w.tolist() for w in model.get_weights()])
        if world.rank == 0:
            print("equal" if weights[0] == weights[1] else "differ")
    """)
    result = _run(tmp_path, code, 2)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "equal"
