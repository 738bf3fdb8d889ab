"""The ``fastnn`` command end to end: train, evaluate, export, bench, info (on the bundled
digits), on a bare install, and its errors: one line and status 2 for what the user can fix."""

import csv
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import fastnn as fnn
from fastnn import benchmark, cli
from backend_params import require
from test_distributed import MPIEXEC, needs_mpi

# what a bare install lacks: fastnn's optional packages, made unimportable in a child process
BARE = "import sys; sys.modules.update(dict.fromkeys(['sklearn', 'matplotlib', 'tensorboardX']))"


def _accuracy(text):
    match = re.search(r"test accuracy: ([0-9.]+)", text)
    assert match, text
    return float(match.group(1))


def test_train_defaults_reach_095_and_leave_checkpoint_history_plot_and_events(tmp_path, capsys, rng_restored):
    """`fastnn train` as the quick start runs it (a CNN on digits, default epochs), on cpu."""
    pytest.importorskip("matplotlib", reason="the curves PNG needs matplotlib")
    pytest.importorskip("tensorboardX", reason="the TensorBoard events need tensorboardX")
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
                 ["train", "--lr", "inf"], ["train", "--backend", "tpu"], ["export", "a", "b", "--input-shape", "1,0"],
                 ["train", "--debug"]):   # --debug is an option of fastnn itself, before the command
        with pytest.raises(SystemExit) as exit_info:
            cli.main(argv)
        assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'vgg'" in err and "argument --lr: must be a positive finite number, got inf" in err
    assert "argument --input-shape: must be positive sizes" in err and "unrecognized arguments: --debug" in err


def test_export_input_shape_is_a_tuple_of_sizes():
    parse = cli.build_parser().parse_args
    assert parse(["export", "model.safetensors", "model.onnx", "--input-shape", "1,8,8"]).input_shape == (1, 8, 8)
    assert parse(["export", "model.safetensors", "model.onnx", "--input-shape", "64"]).input_shape == (64,)
    assert parse(["export", "model.safetensors", "model.onnx"]).input_shape is None


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


# ---------------------------------------------------------------- a bare install

def test_train_on_a_bare_install_keeps_checkpoint_and_history_and_says_how_to_get_the_rest(tmp_path):
    """Only numpy, numba, threadpoolctl, tqdm and safetensors: digits are bundled, and the
    curves and TensorBoard events are left out with one line each saying how to get them."""
    out = tmp_path / "run"
    done = fastnn_command("train", "--epochs", "1", "--backend", "numpy", "--out", str(out), cwd=tmp_path,
                          prelude=BARE)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.safetensors", "history.csv"]
    lines = done.stdout.splitlines()
    assert 'curves:     not drawn (pip install matplotlib, or pip install "fastnn[plot]")' in lines
    assert 'tensorboard: no events written (pip install tensorboardX, or pip install "fastnn[tensorboard]")' in lines
    assert fnn.load_model(out / "checkpoint.safetensors", backend="numpy").epoch == 1


# ---------------------------------------------------------------- errors: one line, status 2

def fastnn_command(*argv, cwd, env=None, prelude=None):
    """``python -m fastnn ARGV`` in a child process; with ``prelude``, that Python code runs first."""
    command = [sys.executable, "-m", "fastnn", *argv]
    if prelude is not None:
        command = [sys.executable, "-c", f"{prelude}; import runpy; sys.argv = ['fastnn', *{list(argv)!r}]; "
                                         f"runpy.run_module('fastnn', run_name='__main__')"]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=cwd,
                          env={**os.environ, "FASTNN_DEBUG": "", **(env or {})})


def assert_one_line_error(done, *words):
    """Status 2, nothing on stderr but ``fastnn: error: ...`` naming each of ``words``."""
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastnn: error: "), done.stderr
    assert "Traceback" not in done.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_a_missing_checkpoint_is_one_line_and_debug_shows_the_traceback(tmp_path):
    missing = str(tmp_path / "nothing.safetensors")
    assert_one_line_error(fastnn_command("evaluate", missing, "--backend", "numpy", cwd=tmp_path),
                          missing, "No such file or directory")
    for debug in (fastnn_command("--debug", "evaluate", missing, "--backend", "numpy", cwd=tmp_path),
                  fastnn_command("evaluate", missing, "--backend", "numpy", cwd=tmp_path, env={"FASTNN_DEBUG": "1"})):
        assert debug.returncode == 1
        assert "Traceback (most recent call last)" in debug.stderr
        assert debug.stderr.rstrip().splitlines()[-1].startswith("FileNotFoundError:")
        assert "fastnn: error:" not in debug.stderr


@pytest.mark.parametrize("case", ["corrupt checkpoint", "dataset not offline", "output folder", "bad value",
                                  "missing package"])
def test_expected_failures_are_one_line_with_status_2(tmp_path, case):
    if case == "corrupt checkpoint":
        damaged = tmp_path / "damaged.safetensors"
        damaged.write_bytes(b"not a checkpoint at all")
        done = fastnn_command("evaluate", str(damaged), "--backend", "numpy", cwd=tmp_path)
        words = (str(damaged), "not a safetensors file")
    elif case == "dataset not offline":
        done = fastnn_command("train", "--dataset", "mnist", "--epochs", "1", "--out", "run", cwd=tmp_path,
                              env={"FASTNN_DATA": str(tmp_path), "FASTNN_OFFLINE": "1", "HOME": str(tmp_path),
                                   "XDG_CACHE_HOME": str(tmp_path / "cache"), "KERAS_HOME": str(tmp_path / "keras")})
        words = ("MNIST was not found", "FASTNN_OFFLINE", "FASTNN_DATA")
        assert not (tmp_path / "run").exists()
    elif case == "output folder":
        (tmp_path / "a_file").write_text("")
        done = fastnn_command("train", "--epochs", "1", "--backend", "numpy", "--out", "a_file/run", cwd=tmp_path)
        words = ("cannot create the output folder a_file/run", "Not a directory")
    elif case == "bad value":   # a ValueError fastnn raises about an argument; it leaves no output folder
        done = fastnn_command("train", "--seed", "-1", "--backend", "numpy", "--out", "run", cwd=tmp_path)
        words = ("manual_seed: seed must be", "got -1")
        assert not (tmp_path / "run").exists()
    else:
        done = fastnn_command("export", "model.safetensors", "model.onnx", cwd=tmp_path,
                              prelude="import sys; sys.modules['onnx'] = None")
        words = ('ONNX export needs the onnx package: pip install onnx (or pip install "fastnn[onnx]")',)
    assert_one_line_error(done, *words)


def test_an_unavailable_backend_is_one_line(tmp_path, capsys, rng_restored):
    if "gpu" in fnn.available_backends():
        pytest.skip("this machine has a GPU, so every backend is available")
    assert cli.main(["train", "--backend", "gpu", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastnn: error: ") and err.count("\n") == 1 and "'gpu' is not available" in err
    assert not (tmp_path / "run").exists()


def test_ctrl_c_is_one_line_with_status_130(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_info", interrupted)
    assert cli.main(["info"]) == 130
    assert capsys.readouterr().err == "fastnn: error: interrupted\n"
    with pytest.raises(KeyboardInterrupt):
        cli.main(["--debug", "info"])


def test_a_bug_keeps_its_traceback(monkeypatch, capsys):
    """An error fastnn did not raise about its input (here NumPy's, or a ZeroDivisionError)
    propagates: Python prints its traceback, as for any bug. One that fastnn raises about a
    value it was given is the user's to fix and becomes one line."""
    for bug in (lambda args: np.zeros(2).reshape(3), lambda args: 1 / 0):
        monkeypatch.setattr(cli, "_info", bug)
        with pytest.raises((ValueError, ZeroDivisionError)):
            cli.main(["info"])
    monkeypatch.setattr(cli, "_info", lambda args: fnn.zeros(-1))
    assert cli.main(["info"]) == 2
    assert capsys.readouterr().err.startswith("fastnn: error: zeros: ")


def test_a_message_of_several_lines_becomes_one():
    error = fnn.datasets.DatasetNotFoundError("X was not found. Looked in:\n  /a (does not exist)\n"
                                              "  /b (empty)\nTo get it, any one of:\n  - put it in /a\n  - download it")
    # "; " between lines, a space after a line that ends in a colon or a full stop
    assert cli.one_line(error) == ("X was not found. Looked in: /a (does not exist); /b (empty); "
                                   "To get it, any one of: - put it in /a; - download it")
    assert cli.one_line(FileNotFoundError(2, "No such file or directory", "m.safetensors")) == \
        "m.safetensors: No such file or directory"


# ---------------------------------------------------------------- fastnn export

@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_export_of_a_trained_checkpoint_runs_in_onnxruntime_like_predict(tmp_path, capsys, model, rng_restored):
    pytest.importorskip("fastnn.onnx", reason="fastnn.onnx, the exporter, is not part of this tree yet")
    onnxruntime = pytest.importorskip("onnxruntime")
    assert cli.main(["train", "--model", model, "--epochs", "1", "--backend", "numpy", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    output = tmp_path / "model.onnx"
    assert cli.main(["export", str(tmp_path / "checkpoint.safetensors"), str(output)]) == 0
    shown = capsys.readouterr().out
    assert f"{output}: {output.stat().st_size:,} bytes" in shown
    assert re.search(r"input +\S+: float32 \[\S+, 1, 8, 8\]", shown), shown
    assert re.search(r"output +\S+: float32 \[\S+, 10\]", shown), shown

    trained = fnn.load_model(tmp_path / "checkpoint.safetensors", backend="numpy")
    _, (x_test, _) = cli.load_dataset("digits")
    session = onnxruntime.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    (outputs,) = session.run(None, {session.get_inputs()[0].name: x_test[:50]})
    np.testing.assert_allclose(outputs, trained.predict(x_test[:50]), rtol=0, atol=1e-5)

    # a shape the model was not built for is the user's mistake: one line, status 2, no file
    wrong = tmp_path / "wrong.onnx"
    assert cli.main(["export", str(tmp_path / "checkpoint.safetensors"), str(wrong), "--input-shape", "1,9,9"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastnn: error: ") and err.count("\n") == 1 and "(1, 9, 9)" in err
    assert not wrong.exists()


def test_export_of_a_missing_checkpoint_is_one_line(tmp_path):
    pytest.importorskip("fastnn.onnx", reason="fastnn.onnx, the exporter, is not part of this tree yet")
    pytest.importorskip("onnx")
    done = fastnn_command("export", "missing.safetensors", "model.onnx", cwd=tmp_path)
    assert_one_line_error(done, "missing.safetensors: No such file or directory")
    assert not (tmp_path / "model.onnx").exists()
