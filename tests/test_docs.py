"""docs/training.md runs as written and says what the code does.

Every ```python block of the guide is executed in order, in one namespace (as
tests/test_readme.py does for the README), and the outcomes the text claims are checked:
the accuracy reached, the printed values quoted in comments, the files written, that a
resumed run equals the uninterrupted one bit for bit. A few claims made in prose or
tables (the loss peeling rules, the error messages, the progress display, the `fastnn`
command's options and outputs) are checked against the code directly.
"""

import contextlib
import io
import math
import os
import pathlib
import re
import shlex
import shutil

import numpy as np
import pytest

import fastnn as fnn
import fastnn.functional as F

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "training.md"
TEXT = DOC.read_text()


def _blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", TEXT, flags=re.S)


@pytest.fixture(scope="module")
def doc():
    """Run every python block once, in order; yields (namespace, printed lines). The backend,
    the random state and the files the examples wrote are put back or removed afterwards."""
    backend, state = fnn.get_backend(), fnn.get_rng_state()
    namespace = {"__name__": "training_md"}
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            for i, block in enumerate(_blocks("python")):
                exec(compile(block, f"{DOC}[python block {i}]", "exec"), namespace)
        yield namespace, out.getvalue().splitlines()
    finally:
        fnn.set_backend(backend)
        fnn.set_rng_state(state)
        for folder in ("workdir", "empty_folder"):
            if isinstance(namespace.get(folder), str):
                shutil.rmtree(namespace[folder], ignore_errors=True)


def test_the_guide_has_its_examples():
    assert len(_blocks("python")) >= 20
    assert "fnn.set_backend(\"numpy\")" in _blocks("python")[0]


def test_setup_and_first_model_learn_the_digits(doc):
    ns, lines = doc
    assert lines[0] == "(1437, 64) float32 (1437,) int64"
    assert ns["test_accuracy"] > 0.93  # the text says "about 0.96"
    assert f"test accuracy: {ns['test_accuracy']:.2f}" in lines


def test_compile_examples(doc):
    ns, lines = doc
    assert "['accuracy', 'top_3_accuracy']" in lines
    assert "0.1755 0.1755 0.6611" in lines
    assert ns["from_logits"] == pytest.approx(ns["from_softmax"], rel=1e-6)
    assert abs(ns["after_softmax"] - ns["from_logits"]) > 0.1
    smoothed = ns["smoothed_crossentropy"]
    assert smoothed.__name__ in TEXT


def test_peeling_rules_of_the_table():
    """Each row of the 'Losses work from logits' table, checked on the loss objects."""
    with fnn.use_backend("numpy"):
        z = fnn.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
        labels = np.array([0, 2])
        sparse = fnn.losses.SparseCategoricalCrossentropy()
        categorical = fnn.losses.CategoricalCrossentropy()
        onehot = np.eye(3, dtype=np.float32)[labels]
        base = sparse(z, labels).item()
        assert sparse(F.softmax(z), labels).item() == pytest.approx(base, rel=1e-6)
        assert categorical(F.softmax(z), onehot).item() == pytest.approx(base, rel=1e-6)
        assert sparse(F.log_softmax(z), labels).item() == pytest.approx(base, rel=1e-5)   # log-softmax is right too
        assert sparse(F.softmax(z, axis=0), labels).item() != pytest.approx(sparse(z, labels).item(), rel=1e-3)
        assert sparse(F.softmax(z).reshape((2, 3)), labels).item() != pytest.approx(base, rel=1e-3)
        assert sparse(F.sigmoid(z), labels).item() == pytest.approx(
            sparse(fnn.tensor(F.sigmoid(z).numpy()), labels).item(), rel=1e-6)   # a sigmoid is not peeled here

        binary = fnn.losses.BinaryCrossentropy()
        zb = fnn.tensor([[0.3], [-2.0]])
        targets = np.array([[1.0], [0.0]], dtype=np.float32)
        assert binary(F.sigmoid(zb), targets).item() == pytest.approx(binary(zb, targets).item(), rel=1e-6)
        soft = F.softmax(fnn.tensor([[0.3, 1.0]]))
        assert binary(soft, np.array([[1.0, 0.0]], np.float32)).item() == pytest.approx(
            binary(fnn.tensor(soft.numpy()), np.array([[1.0, 0.0]], np.float32)).item(), rel=1e-6)
        mse = fnn.losses.get("mse")
        assert mse(F.sigmoid(zb), targets).item() == pytest.approx(
            float(np.mean((F.sigmoid(zb).numpy() - targets) ** 2)), rel=1e-6)   # mse never peels

        # the Dropout-after-softmax warning: peeled in inference, not while training
        fnn.manual_seed(0)
        model = fnn.Sequential([fnn.layers.Input((3,)), fnn.layers.Dense(4, activation="softmax"),
                                fnn.layers.Dropout(0.5)])
        x = np.ones((2, 3), np.float32)
        from fastnn.ops.activations import pre_activation
        assert pre_activation(model(x, training=False), "softmax") is not None
        assert pre_activation(model(x, training=True), "softmax") is None


def test_fit_history_initial_epoch_and_stop(doc):
    ns, lines = doc
    assert "['accuracy', 'loss', 'lr', 'val_accuracy', 'val_loss']" in lines
    assert "[0, 1, 2, 3, 4] 5" in lines
    assert "[5, 6, 7] 8" in lines
    with open(os.path.join(ns["workdir"], "curves.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert "True True" in lines  # StopAtAccuracy stopped before 50 epochs, at val_accuracy >= 0.9


def test_validation_split_takes_the_last_samples_before_shuffling(doc):
    ns, _ = doc
    seen = {}

    class Params(fnn.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.update(self.params)

        def on_test_end(self, logs=None):
            seen["val"] = logs

    model = ns["make_model"]()
    model.fit(ns["x_train"], ns["y_train"], epochs=1, validation_split=0.1, verbose=0, callbacks=[Params()])
    n_val = int(len(ns["x_train"]) * 0.1)
    assert seen["steps"] == math.ceil((len(ns["x_train"]) - n_val) / 32)
    tail = model.evaluate(ns["x_train"][-n_val:], ns["y_train"][-n_val:], return_dict=True)
    assert tail["accuracy"] == pytest.approx(seen["val"]["accuracy"])
    assert tail["loss"] == pytest.approx(seen["val"]["loss"])


def test_evaluate_predict_and_batches(doc):
    ns, lines = doc
    assert "(360, 10) True" in lines
    assert any(line.startswith("{'loss': ") and "'accuracy': " in line for line in lines)


def test_progress_lines_are_the_ones_shown(doc):
    ns, lines = doc
    epoch_lines = [line for line in lines if line.startswith("Epoch ") and " - loss: " in line]
    shown = re.findall(r"^# (Epoch \d/\d - .*)$", TEXT, flags=re.M)
    assert len(epoch_lines) == len(shown) == 2
    for printed, quoted in zip(epoch_lines, shown):
        drop_time = r" - \d+\.\d\ds - "
        assert re.sub(drop_time, " - ", printed) == re.sub(drop_time, " - ", quoted)


def test_verbose_1_prints_nothing_when_not_a_terminal(doc):
    ns, _ = doc
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ns["make_model"]().fit(ns["x_train"][:64], ns["y_train"][:64], epochs=2, verbose=1)
        ns["make_model"]().evaluate(ns["x_test"][:64], ns["y_test"][:64], verbose=1)
    assert out.getvalue() == ""
    with contextlib.redirect_stdout(out):
        ns["make_model"]().evaluate(ns["x_test"][:64], ns["y_test"][:64], verbose=2)
    assert out.getvalue().startswith("loss: ")


def test_validation_messages_in_the_table_are_real(doc):
    ns, lines = doc
    x, y = ns["x_train"], ns["y_train"]
    assert "x[17, 3] is nan: x must hold finite numbers (no nan or inf)" in lines
    model = ns["make_model"]()
    bad_x = x.copy()
    bad_x[17, 3] = np.nan
    labels_10 = y.copy()
    labels_10[5] = 10
    cases = [
        (TypeError, dict(x=x.astype(str), y=y)),
        (ValueError, dict(x=x[:0], y=y[:0])),
        (ValueError, dict(x=x, y=y[:-1])),
        (ValueError, dict(x=bad_x, y=y)),
        (ValueError, dict(x=x[:, :60], y=y)),
        (ValueError, dict(x=x, y=labels_10)),
        (ValueError, dict(x=x, y=y + 0.5)),
        (ValueError, dict(x=x, y=np.eye(10)[y])),
        (ValueError, dict(x=x, y=y, batch_size=0)),
        (ValueError, dict(x=x, y=y, validation_split=1.0)),
    ]
    assert y[0] == 5  # the "integer labels" row quotes y[0] + 0.5
    for error, kwargs in cases:
        with pytest.raises(error) as info:
            model.fit(epochs=1, verbose=0, **kwargs)
        assert f"`{info.value}`" in TEXT, str(info.value)
    binary = fnn.Sequential([fnn.layers.Input((2,)), fnn.layers.Dense(1)], backend="numpy")
    binary.compile(loss="binary_crossentropy")
    with pytest.raises(ValueError) as info:
        binary.fit(np.ones((4, 2), np.float32), np.array([[0.0], [1.0], [1.0], [2.0]], np.float32), verbose=0)
    assert f"`{info.value}`" in TEXT
    with pytest.raises(RuntimeError):
        fnn.Sequential([fnn.layers.Input((64,)), fnn.layers.Dense(10)], backend="numpy").fit(x, y, verbose=0)


def test_callbacks(doc):
    ns, lines = doc
    assert ns["recorder"].calls == ["train_begin", "epoch_begin 0", "batch_end 0", "batch_end 1", "test_end",
                                    "epoch_end 0", "train_end"]
    early = ns["early_stopping"]
    assert 0 < early.stopped_epoch < 99 and early.best_epoch < early.stopped_epoch
    reduce_lr = ns["callbacks"][0]
    assert isinstance(reduce_lr, fnn.callbacks.ReduceLROnPlateau)
    assert f"0.01 {min(reduce_lr.model.history.history['lr'])}" in lines
    assert min(reduce_lr.model.history.history["lr"]) < 0.01
    workdir = ns["workdir"]
    assert os.path.exists(os.path.join(workdir, "best.fnn"))
    with open(os.path.join(workdir, "history.csv")) as f:
        rows = f.read().splitlines()
    assert rows[0] == "epoch,accuracy,loss,lr,val_accuracy,val_loss"
    assert len(rows) == 1 + early.stopped_epoch + 1

    terminate = ns["terminate"]
    assert "Batch 14: invalid loss inf, terminating training" in lines
    assert (terminate.stopped_epoch, terminate.stopped_batch) == (0, 14)
    assert "0 14 [inf]" in lines
    assert ns["regression"].epoch == 1  # the cut-short epoch counts as finished


def test_tensorboard_layout(doc):
    ns, lines = doc
    logdir = ns["logdir"]
    assert sorted(os.listdir(logdir)) == ["train", "validation"]
    train = fnn.tensorboard.read_scalars(os.path.join(logdir, "train"))
    validation = fnn.tensorboard.read_scalars(os.path.join(logdir, "validation"))
    assert sorted(train) == ["epoch_accuracy", "epoch_loss", "epoch_lr"]
    assert sorted(validation) == ["epoch_accuracy", "epoch_loss"]
    assert [step for step, _ in validation["epoch_loss"]] == [0, 1, 2]
    histograms = fnn.tensorboard.read_histograms(os.path.join(logdir, "train"))
    assert sorted(histograms) == ["hidden/bias", "hidden/bias_grad", "hidden/kernel", "hidden/kernel_grad",
                                  "output/bias", "output/bias_grad", "output/kernel", "output/kernel_grad"]
    assert "['hidden/bias', 'hidden/bias_grad']" in lines


def test_schedules_follow_the_formulas(doc):
    ns, lines = doc
    assert "[0.0, 0.005, 0.01, 0.00976, 0.00905]" in lines
    cosine, warmup = ns["cosine"], ns["warmup"]
    for t in range(15):
        expected = 1e-4 + (1e-2 - 1e-4) * (1 + math.cos(math.pi * min(t, 10) / 10)) / 2
        assert cosine(t) == pytest.approx(expected, rel=1e-12)
        expected_warm = cosine(0) * t / 2 if t < 2 else cosine(t - 2)
        assert warmup(t) == pytest.approx(expected_warm, rel=1e-12)
    schedules = fnn.optim.schedules
    assert [schedules.StepDecay(0.1, step_size=2, gamma=0.5)(t) for t in range(5)] == pytest.approx(
        [0.1, 0.1, 0.05, 0.05, 0.025])
    assert [schedules.ExponentialDecay(0.1, 0.5, decay_steps=2)(t) for t in range(3)] == pytest.approx(
        [0.1, 0.1 * 0.5 ** 0.5, 0.05])
    assert [schedules.PiecewiseConstant([2, 4], [0.1, 0.01, 0.001])(t) for t in range(6)] == [
        0.1, 0.1, 0.1, 0.01, 0.01, 0.001]


def test_clipping(doc):
    ns, lines = doc
    norm = ns["norm_before"].item()
    grads = [p.grad.numpy().astype(np.float64) for p in ns["optimizer"].parameters()]
    after = math.sqrt(sum(float((g ** 2).sum()) for g in grads))
    assert norm > 0.5
    assert after == pytest.approx(0.5 * norm / (norm + 1e-6), rel=1e-5)


def test_dataloader_and_datasets(doc):
    ns, lines = doc
    assert len(ns["loader"]) == 23
    assert "(64, 64) int64" in lines
    assert "(1437, 1, 8, 8) float32 int64" in lines
    assert "(353, 10) float32" in lines
    assert "[[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] [0, 1, 1, 0]" in lines
    assert "MNIST was not found. Looked in:" in lines


def test_checkpoints_and_custom_objects(doc):
    ns, lines = doc
    assert ns["restored"].epoch == 3
    assert any(line.startswith("3 Adam(lr=0.001, betas=(0.9, 0.999)") for line in lines)
    assert "fastnn.checkpoint ['hidden/bias', 'hidden/kernel']" in lines
    assert any(line.endswith("damaged.fnn' is corrupt") for line in lines)
    if "cpu" in fnn.available_backends():
        assert "cpu True" in lines
    assert any("custom_objects={'Net': Net}" in line for line in lines)
    assert ns["net_again"].units == 48 and "48 True" in lines
    metadata, _ = fnn.io.read_checkpoint(ns["checkpoint"])
    for key in ("format", "format_version", "fastnn_version", "backend", "model_class", "weights", "build",
                "architecture", "optimizer", "compile", "rng_state", "epoch", "sha256"):
        assert key in metadata and f"`{key}`" in TEXT
    assert not [name for name in os.listdir(ns["workdir"]) if name.endswith(".tmp")]  # atomic writes left nothing


def test_resume_equals_the_uninterrupted_run(doc):
    ns, lines = doc
    full, resumed = ns["full"], ns["resumed"]
    assert resumed.epoch == full.epoch == 6
    for a, b in zip(full.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    folder = os.path.join(ns["workdir"], "ckpt")
    assert sorted(os.listdir(folder)) == ["epoch01.fnn", "epoch02.fnn", "epoch03.fnn"]


def test_load_model_restores_the_random_state(doc):
    ns, _ = doc
    path = os.path.join(ns["workdir"], "ckpt", "epoch03.fnn")
    saved = fnn.io.read_checkpoint(path)[0]["rng_state"]
    fnn.manual_seed(99)
    fnn.load_model(path)
    import json
    assert fnn.get_rng_state() == json.loads(saved)
    state = fnn.get_rng_state()
    ns["twin"].load_weights(ns["weights_path"])
    assert fnn.get_rng_state() == state  # load_weights leaves it alone


def test_weights_plots_and_zoo(doc):
    ns, lines = doc
    np.testing.assert_array_equal(ns["twin"].predict(ns["x_test"]), ns["resumed"].predict(ns["x_test"]))
    with pytest.raises(fnn.io.CheckpointError, match="load_weights"):
        fnn.load_model(ns["weights_path"])
    for key in ("curves_png", "lr_png"):
        with open(ns[key], "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert ns["cnn"].count_params() == 53290 and "53290 (4, 10)" in lines
    assert ns["stage"].output_shape == (None, 16, 4, 4)


def test_the_guide_names_every_callback_schedule_and_loader():
    names = [n for n in fnn.callbacks.__all__ if n not in ("Callback", "CallbackList", "History")]
    names += [n for n in fnn.optim.schedules.__all__ if n not in ("LearningRateSchedule", "from_config")]
    names += [n for n in fnn.datasets.__all__ if n.startswith("load_") or n == "xor"]
    names += ["clip_grad_norm_", "clip_grad_value_", "clipnorm", "global_clipnorm", "clipvalue",
              "FASTNN_DATA", "FASTNN_OFFLINE", "save_weights", "load_weights", "custom_objects", "initial_epoch"]
    missing = [n for n in names if n not in TEXT]
    assert not missing


def test_the_commands_shown_parse_and_the_train_options_are_the_real_ones():
    from fastnn import cli

    parser = cli.build_parser()
    commands = [line for block in _blocks("bash") for line in block.splitlines() if line.startswith("fastnn ")]
    assert {shlex.split(c)[1] for c in commands} == {"train", "evaluate", "export", "bench", "info", "warmup"}
    for command in commands:
        parser.parse_args(shlex.split(command.split("#")[0])[1:])
    defaults = vars(parser.parse_args(["train"]))
    table = dict(re.findall(r"^\| `(--[\w-]+)` \| (.+?) \|", TEXT, flags=re.M))
    train_options = {a.option_strings[0] for a in parser._subparsers._group_actions[0].choices["train"]._actions
                     if a.option_strings and a.option_strings[0] != "-h"}
    assert set(table) == train_options
    for option, cell in table.items():
        value = defaults[option[2:].replace("-", "_")]
        if value is None:  # chosen at run time: the table says how
            assert cell in ("the best available", "`runs/<YYYYmmdd-HHMMSS>`")
        else:
            assert cell.strip("`") == str(value), option


def test_fastnn_train_writes_what_the_guide_lists(tmp_path):
    from fastnn import cli

    state, backend = fnn.get_rng_state(), fnn.get_backend()
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            assert cli.main(["train", "--model", "mlp", "--epochs", "1", "--backend", "numpy",
                             "--out", str(tmp_path)]) == 0
            assert cli.main(["evaluate", str(tmp_path / "checkpoint.safetensors"), "--backend", "numpy"]) == 0
    finally:
        fnn.set_rng_state(state)
        fnn.set_backend(backend)
    for name in ("checkpoint.safetensors", "history.csv", "curves.png", "tensorboard"):
        assert (tmp_path / name).exists() and f"`{name}" in TEXT
    assert sorted(os.listdir(tmp_path / "tensorboard")) == ["train", "validation"]
    printed = out.getvalue()
    assert "Epoch 1/1 - " in printed  # one line per epoch when the output is not a terminal
    assert "test accuracy: " in printed and "accuracy: " in printed.splitlines()[-1]
