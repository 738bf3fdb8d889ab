"""The ``fastnn`` command end to end: train, evaluate, bench, info (on the bundled digits)."""

import csv
import re
import subprocess
import sys

import numpy as np
import pytest

import fastnn as fnn
from fastnn import benchmark, cli
from backend_params import require
from test_distributed import MPIEXEC, needs_mpi

pytest.importorskip("sklearn")


def _accuracy(text):
    match = re.search(r"test accuracy: ([0-9.]+)", text)
    assert match, text
    return float(match.group(1))


def test_train_defaults_reach_095_and_leave_checkpoint_history_plot_and_events(tmp_path, capsys, rng_restored):
    """`fastnn train` as the quick start runs it (a CNN on digits, default epochs), on cpu."""
    assert cli.main(["train", "--backend", "cpu", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert _accuracy(out) >= 0.95
    assert re.search(r"Epoch 15/15", out)  # one progress line per epoch when the output is not a terminal

    checkpoint = tmp_path / "checkpoint.safetensors"
    model = fnn.load_model(checkpoint, backend="numpy")
    assert model.epoch == 15
    with open(tmp_path / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 15 and {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(rows[0])
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list((tmp_path / "tensorboard").rglob("events.out.tfevents.*"))

    # the saved model gives the printed accuracy again through `fastnn evaluate`, on another backend
    assert cli.main(["evaluate", str(checkpoint), "--backend", "numpy"]) == 0
    evaluated = capsys.readouterr().out
    accuracy = float(re.search(r"accuracy: ([0-9.]+)", evaluated).group(1))
    assert accuracy == pytest.approx(_accuracy(out), abs=2e-3)


@needs_mpi
def test_train_under_mpiexec_is_data_parallel_and_speaks_once(tmp_path):
    """`mpiexec -n 2 fastnn train`: two processes train one model (the default CNN, batch
    norm and dropout included) on global batches; rank 0 alone prints and writes, and its
    checkpoint is the trained model (it gives the printed accuracy again)."""
    out = tmp_path / "run"
    result = subprocess.run([MPIEXEC, "-n", "2", sys.executable, "-m", "mpi4py", "-m", "fastnn", "train",
                             "--epochs", "3", "--backend", "cpu", "--out", str(out)],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("fastnn train: cnn on digits") == 1
    assert "batch 32 on 2 processes (global batch)" in result.stdout
    assert result.stdout.count("test accuracy") == 1 and result.stdout.count("Epoch 3/3") == 1
    accuracy = _accuracy(result.stdout)
    assert accuracy > 0.8
    with open(out / "history.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 3
    model = fnn.load_model(out / "checkpoint.safetensors", backend="numpy")
    assert model.epoch == 3
    (_, _), (x_test, y_test) = cli.load_dataset("digits")
    _, evaluated = model.evaluate(x_test, y_test, batch_size=256)
    assert evaluated == pytest.approx(accuracy, abs=2e-3)


@pytest.mark.parametrize("model", ["mlp", "resnet"])
def test_train_other_models_for_a_few_epochs(tmp_path, capsys, model, rng_restored):
    cli.main(["train", "--model", model, "--epochs", "2", "--backend", "cpu", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert _accuracy(out) > 0.5  # ten classes: chance is 0.1; two epochs already learn
    assert (tmp_path / "checkpoint.safetensors").exists()


def test_train_rejects_bad_options(capsys):
    for argv in (["train", "--epochs", "0"], ["train", "--model", "vgg"], ["train", "--lr", "-1"],
                 ["train", "--backend", "tpu"]):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(argv)
        assert exit_info.value.code == 2
    assert "invalid choice: 'vgg'" in capsys.readouterr().err


def test_train_on_mnist_files_without_them_says_how_to_get_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path))
    monkeypatch.setenv("FASTNN_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="FASTNN_DATA"):
        cli.main(["train", "--dataset", "mnist", "--epochs", "1", "--out", str(tmp_path / "run")])


def test_bench_prints_a_row_per_backend_and_workload(capsys):
    results = benchmark.run(workloads=("mlp",), backend_names=["numpy", "cpu"], rounds=2, steps=1, warmup=1)
    out = capsys.readouterr().out
    assert set(results["mlp"]) == {"numpy", "cpu"} and all(v > 0 for v in results["mlp"].values())
    assert re.search(r"mlp\s+numpy\s+[0-9.]+\s+1\.00x", out) and re.search(r"mlp\s+cpu\s+[0-9.]+\s+[0-9.]+x", out)


def test_bench_rejects_an_unavailable_backend():
    if "gpu" in fnn.available_backends():
        pytest.skip("this machine has a GPU, so every backend is available")
    with pytest.raises(fnn.BackendError, match="gpu"):
        benchmark.run(workloads=("mlp",), backend_names=["gpu"], rounds=1)


def test_console_script_module_form_prints_info():
    result = subprocess.run([sys.executable, "-m", "fastnn", "info"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "backends available:" in result.stdout and "BLAS" in result.stdout


def test_cli_loads_digits_as_one_channel_images_in_unit_range():
    (x_train, y_train), (x_test, y_test) = cli.load_dataset("digits")
    assert x_train.shape[1:] == (1, 8, 8) and x_train.dtype == np.float32
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    assert len(x_train) + len(x_test) == 1797 and set(np.unique(y_test)) == set(range(10))


@pytest.mark.gpu
def test_info_describes_the_cuda_device():
    require("gpu")
    text = fnn.runtime.info()
    assert re.search(r"GPU \d+: .+ compute capability \d+\.\d+ +memory [0-9.]+ GiB +cupy \S+ +CUDA runtime \d+\.\d+",
                     text), text


def test_info_says_why_the_gpu_is_unavailable():
    from fastnn import backend as backends

    reason = backends._REGISTRY["gpu"].unavailable_reason()
    if not reason:
        pytest.skip("a CUDA device answers here; the gpu line is checked by test_info_describes_the_cuda_device")
    assert f"gpu: unavailable: {reason}" in fnn.runtime.info()
