"""Every callback, driven through the hooks in the order ``fit`` calls them, with scripted
epoch logs and a small real model; expected outcomes are worked out by hand from the
callbacks' documented rules (Keras' semantics)."""

import csv
import math
import os
import warnings

import numpy as np
import pytest

import fastnn as fnn
from fastnn import callbacks as cb
from fastnn.layers import Dense, Input
from fastnn.optim import schedules

BACKENDS = ["numpy", "cpu"]


def _model(backend="numpy", lr=0.1):
    model = fnn.Sequential([Input((3,)), Dense(4, activation="relu"), Dense(2)], backend=backend)
    model.optimizer = fnn.optim.SGD(model.parameters(), lr=lr)
    model.stop_training = False
    return model


def _fill_weights(model, value):
    """Stand-in for an epoch of training: every weight becomes ``value``."""
    model.set_weights([np.full(w.shape, value, dtype=w.dtype) for w in model.weights])


def _train(model, callbacks, epoch_logs, batches=0, batch_logs=None):
    """Run the hooks as fit does for the scripted ``epoch_logs`` (one dict per epoch); the
    weights of epoch e are all e + 1. Returns the epochs that ran."""
    cbs = cb.CallbackList(callbacks, model=model, params={"epochs": len(epoch_logs), "steps": batches,
                                                          "verbose": 0, "batch_size": 4})
    model.stop_training = False
    ran = []
    cbs.on_train_begin({})
    for epoch, logs in enumerate(epoch_logs):
        cbs.on_epoch_begin(epoch, {})
        for batch in range(batches):
            cbs.on_train_batch_begin(batch, {})
            cbs.on_train_batch_end(batch, dict((batch_logs or {}).get((epoch, batch), {"loss": 1.0})))
            if model.stop_training:
                break
        _fill_weights(model, epoch + 1.0)
        ran.append(epoch)
        cbs.on_epoch_end(epoch, dict(logs))
        if model.stop_training:
            break
    cbs.on_train_end({})
    return ran


def _losses(*values, key="val_loss"):
    return [{key: v} for v in values]


# -- EarlyStopping ---------------------------------------------------------------------------------------
def test_early_stopping_stops_after_patience_epochs_without_improvement():
    stopper = cb.EarlyStopping(monitor="val_loss", patience=2)
    # best 0.7 at epoch 2; epochs 3 and 4 do not improve: the wait reaches 2 at epoch 4
    ran = _train(_model(), [stopper], _losses(1.0, 0.8, 0.7, 0.75, 0.71, 0.5, 0.4))
    assert ran == [0, 1, 2, 3, 4]
    assert stopper.stopped_epoch == 4 and stopper.best == 0.7 and stopper.best_epoch == 2


def test_early_stopping_patience_zero_and_min_delta():
    stopper = cb.EarlyStopping(patience=0, min_delta=0.1)
    # 0.95 is not better than 1.0 by more than 0.1: stop at once (epoch 1)
    assert _train(_model(), [stopper], _losses(1.0, 0.95, 0.5)) == [0, 1]
    stopper = cb.EarlyStopping(patience=0, min_delta=0.1)
    assert _train(_model(), [stopper], _losses(1.0, 0.85, 0.7, 0.65, 0.1)) == [0, 1, 2, 3]


def test_early_stopping_auto_mode_maximises_accuracy():
    stopper = cb.EarlyStopping(monitor="val_accuracy", patience=1)
    assert stopper.mode == "max"
    ran = _train(_model(), [stopper], _losses(0.5, 0.6, 0.55, 0.9, key="val_accuracy"))
    assert ran == [0, 1, 2] and stopper.best == 0.6
    assert cb.EarlyStopping(monitor="val_mae").mode == "min"
    assert cb.EarlyStopping(monitor="top_k_categorical_accuracy").mode == "max"
    assert cb.EarlyStopping(monitor="accuracy", mode="min").mode == "min"


@pytest.mark.parametrize("backend", BACKENDS)
def test_early_stopping_restores_the_weights_of_the_best_epoch(backend):
    model = _model(backend)
    stopper = cb.EarlyStopping(patience=2, restore_best_weights=True)
    ran = _train(model, [stopper], _losses(1.0, 0.6, 0.8, 0.9, 0.1))
    assert ran == [0, 1, 2, 3]
    for w in model.get_weights():  # epoch 1 was the best: its weights are all 2
        np.testing.assert_array_equal(w, np.full(w.shape, 2.0, dtype=w.dtype))


def test_early_stopping_restores_the_best_weights_also_without_stopping():
    model = _model()
    stopper = cb.EarlyStopping(patience=5, restore_best_weights=True)
    assert _train(model, [stopper], _losses(1.0, 0.3, 0.5)) == [0, 1, 2]
    assert stopper.stopped_epoch == 0
    assert all(np.all(w == 2.0) for w in model.get_weights())
    model = _model()
    _train(model, [cb.EarlyStopping(patience=5)], _losses(1.0, 0.3, 0.5))
    assert all(np.all(w == 3.0) for w in model.get_weights())  # no restore asked: last epoch's


def test_early_stopping_baseline_and_start_from_epoch():
    # nothing beats the baseline 0.5: the wait never resets and training stops after patience epochs
    stopper = cb.EarlyStopping(patience=3, baseline=0.5)
    assert _train(_model(), [stopper], _losses(0.9, 0.8, 0.7, 0.6, 0.4)) == [0, 1, 2]
    assert stopper.best == 0.7
    # beating the baseline at epoch 2 resets the wait; then three epochs without improvement
    stopper = cb.EarlyStopping(patience=3, baseline=0.5)
    assert _train(_model(), [stopper], _losses(0.9, 0.8, 0.4, 0.45, 0.46, 0.47, 0.1)) == [0, 1, 2, 3, 4, 5]
    # epochs before start_from_epoch are not looked at
    stopper = cb.EarlyStopping(patience=0, start_from_epoch=3)
    assert _train(_model(), [stopper], _losses(0.1, 0.9, 0.95, 0.5, 0.6, 0.1)) == [0, 1, 2, 3, 4]
    assert stopper.best == 0.5 and stopper.best_epoch == 3


def test_early_stopping_warns_when_the_monitored_key_is_missing():
    stopper = cb.EarlyStopping(monitor="val_loss", patience=0)
    with pytest.warns(RuntimeWarning, match=r"'val_loss' is not in the logs \(available: loss\)"):
        ran = _train(_model(), [stopper], _losses(1.0, 2.0, 3.0, key="loss"))
    assert ran == [0, 1, 2]


@pytest.mark.parametrize("make,match", [
    (lambda: cb.EarlyStopping(mode="biggest"), "mode must be 'auto', 'min' or 'max'"),
    (lambda: cb.EarlyStopping(patience=-1), "patience must be a non-negative integer"),
    (lambda: cb.EarlyStopping(patience=1.5), "patience must be a non-negative integer"),
    (lambda: cb.EarlyStopping(min_delta="0.1"), "min_delta must be a finite number"),
    (lambda: cb.ReduceLROnPlateau(factor=1.0), r"factor must be in \(0, 1\)"),
    (lambda: cb.ReduceLROnPlateau(min_lr=-1), "min_lr must be a non-negative"),
    (lambda: cb.LearningRateScheduler(0.1), "schedule must be callable"),
    (lambda: cb.CSVLogger("x.csv", separator="::"), "separator must be one character"),
    (lambda: cb.TensorBoard(write_grads=True), "write_grads=True needs histogram_freq > 0"),
    (lambda: cb.TensorBoard(update_freq="sometimes"), "update_freq must be"),
])
def test_bad_arguments_are_refused(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


# -- ModelCheckpoint -------------------------------------------------------------------------------------
class _SavingModel:
    """Records what ModelCheckpoint asks of a model and writes a small file per save."""

    def __init__(self):
        self.saved = []
        self.stop_training = False

    def save(self, path):
        self.saved.append(("model", path))
        with open(path, "w") as f:
            f.write("model")

    def save_weights(self, path):
        self.saved.append(("weights", path))
        with open(path, "w") as f:
            f.write("weights")

    # what _train needs of a model
    weights = []

    def set_weights(self, arrays):
        pass


def test_model_checkpoint_saves_every_epoch_under_formatted_names(tmp_path):
    model = _SavingModel()
    pattern = str(tmp_path / "ckpt" / "e{epoch:02d}-{val_loss:.3f}.fnn")
    _train(model, [cb.ModelCheckpoint(pattern)], [{"val_loss": 0.5, "loss": 1}, {"val_loss": 0.25, "loss": 1}])
    expected = [tmp_path / "ckpt" / "e01-0.500.fnn", tmp_path / "ckpt" / "e02-0.250.fnn"]
    assert model.saved == [("model", str(p)) for p in expected]
    assert all(p.read_text() == "model" for p in expected)


def test_model_checkpoint_save_best_only_writes_only_on_improvement(tmp_path):
    model = _SavingModel()
    checkpoint = cb.ModelCheckpoint(str(tmp_path / "w{epoch}.safetensors"), save_best_only=True,
                                    save_weights_only=True)
    _train(model, [checkpoint], _losses(0.9, 0.95, 0.7, 0.7, 0.8, 0.2))
    assert [name for _, name in model.saved] == [str(tmp_path / f"w{e}.safetensors") for e in (1, 3, 6)]
    assert {kind for kind, _ in model.saved} == {"weights"}
    assert checkpoint.best == 0.2 and checkpoint.last_saved == str(tmp_path / "w6.safetensors")
    assert sorted(os.listdir(tmp_path)) == ["w1.safetensors", "w3.safetensors", "w6.safetensors"]


def test_model_checkpoint_max_mode_threshold_and_missing_fields(tmp_path):
    model = _SavingModel()
    checkpoint = cb.ModelCheckpoint(str(tmp_path / "best.fnn"), monitor="val_accuracy", save_best_only=True,
                                    initial_value_threshold=0.8)
    _train(model, [checkpoint], _losses(0.7, 0.85, 0.83, 0.9, key="val_accuracy"))
    assert len(model.saved) == 2 and checkpoint.best == 0.9
    with pytest.raises(KeyError, match="uses the field 'val_acc'"):
        _train(_SavingModel(), [cb.ModelCheckpoint(str(tmp_path / "{val_acc}.fnn"))], _losses(0.5))
    with pytest.warns(RuntimeWarning, match="'val_loss' is not in the logs"):
        _train(model, [cb.ModelCheckpoint(str(tmp_path / "x.fnn"), save_best_only=True)], _losses(1.0, key="loss"))
    assert not (tmp_path / "x.fnn").exists()


# -- learning rate ---------------------------------------------------------------------------------------
def test_learning_rate_scheduler_with_a_function_of_the_epoch():
    model = _model(lr=0.1)
    scheduler = cb.LearningRateScheduler(lambda epoch: 0.5 / (epoch + 1))
    lrs = []

    class Spy(cb.Callback):  # the rate the epoch's batches would train with
        def on_epoch_begin(self, epoch, logs=None):
            lrs.append(self.model.optimizer.lr)

    _train(model, [scheduler, Spy()], _losses(1, 1, 1, 1))
    assert lrs == pytest.approx([0.5, 0.25, 0.5 / 3, 0.125])
    assert all(g["lr"] == pytest.approx(0.125) for g in model.optimizer.param_groups)


def test_learning_rate_scheduler_with_the_current_lr_and_with_a_schedule_object():
    model = _model(lr=0.2)
    history = cb.History()
    # Keras' two-argument form: halve the current rate from epoch 2 on
    scheduler = cb.LearningRateScheduler(lambda epoch, lr: lr if epoch < 2 else lr * 0.5)
    _train(model, [scheduler, history], [{"loss": 1.0}] * 5)
    assert history.history["lr"] == pytest.approx([0.2, 0.2, 0.1, 0.05, 0.025])

    model = _model(lr=1.0)
    history = cb.History()
    _train(model, [cb.LearningRateScheduler(schedules.CosineDecay(0.4, total_steps=4)), history],
           [{"loss": 1.0}] * 5)
    expected = [0.2 * (1 + math.cos(math.pi * min(e, 4) / 4)) for e in range(5)]
    assert history.history["lr"] == pytest.approx(expected, abs=1e-15)


def test_learning_rate_scheduler_refuses_bad_rates_and_models_without_optimizer():
    with pytest.raises(ValueError, match="must return a finite number >= 0, got nan for epoch 0"):
        _train(_model(), [cb.LearningRateScheduler(lambda e: float("nan"))], [{"loss": 1.0}])
    model = _model()
    model.optimizer = None
    with pytest.raises(ValueError, match="compile the model first"):
        _train(model, [cb.LearningRateScheduler(lambda e: 0.1)], [{"loss": 1.0}])


def test_reduce_lr_on_plateau_follows_patience_cooldown_and_min_lr():
    model = _model(lr=1.0)
    history = cb.History()
    reducer = cb.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, cooldown=1, min_lr=0.2)
    losses = [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]
    # e0, e1 improve; e2 wait 1; e3 wait 2 -> 0.5, cooldown 1; e4 cooldown; e5 wait 1; e6 wait 2 -> 0.25;
    # e7 cooldown; e8 wait 1; e9 wait 2 -> max(0.125, 0.2) = 0.2; e10 cooldown.
    # The logs hold the rate each epoch trained with: a reduction shows from the next epoch on.
    _train(model, [reducer, history], _losses(*losses))
    assert history.history["lr"] == pytest.approx([1, 1, 1, 1, .5, .5, .5, .25, .25, .25, .2])
    assert model.optimizer.lr == pytest.approx(0.2)


def test_reduce_lr_on_plateau_min_delta_counts_small_gains_as_no_improvement():
    model = _model(lr=1.0)
    reducer = cb.ReduceLROnPlateau(factor=0.1, patience=1, min_delta=0.05)
    history = cb.History()
    _train(model, [reducer, history], _losses(1.0, 0.97, 0.9))
    assert history.history["lr"] == pytest.approx([1.0, 1.0, 0.1])
    assert model.optimizer.lr == pytest.approx(0.1)


# -- CSVLogger -------------------------------------------------------------------------------------------
def test_csv_logger_writes_a_header_and_one_row_per_epoch(tmp_path):
    path = tmp_path / "logs" / "history.csv"
    logs = [{"loss": 0.5, "accuracy": 0.75, "val_loss": 0.625}, {"loss": 0.25, "accuracy": 0.875}]
    _train(_model(), [cb.CSVLogger(str(path))], logs)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [["epoch", "accuracy", "loss", "val_loss"], ["0", "0.75", "0.5", "0.625"],
                    ["1", "0.875", "0.25", "NA"]]


def test_csv_logger_appends_under_the_existing_header_or_replaces(tmp_path):
    path = tmp_path / "h.csv"
    _train(_model(), [cb.CSVLogger(path, separator=";")], [{"loss": 2.0, "lr": 0.1}])
    _train(_model(), [cb.CSVLogger(path, separator=";", append=True)], [{"lr": 0.01, "loss": 1.0}])
    assert path.read_text().splitlines() == ["epoch;loss;lr", "0;2.0;0.1", "0;1.0;0.01"]
    _train(_model(), [cb.CSVLogger(path)], [{"loss": 3.0}])
    assert path.read_text().splitlines() == ["epoch,loss", "0,3.0"]


# -- TensorBoard -----------------------------------------------------------------------------------------
def _summaries(folder):
    """{tag: [(step, scalar or histogram dict), ...]} of the run folder ``folder``."""
    from fastnn import tensorboard

    return {**tensorboard.read_scalars(folder), **tensorboard.read_histograms(folder)}


def test_event_reader_reads_what_tensorboardx_wrote_and_refuses_damaged_files(tmp_path):
    tensorboardX = pytest.importorskip("tensorboardX")
    from fastnn import tensorboard

    with tensorboardX.SummaryWriter(str(tmp_path / "run")) as writer:
        for step, value in enumerate([0.5, 0.25, 0.125]):
            writer.add_scalar("a", value, step)
        writer.add_scalar("b", 7.0, 10)
        writer.add_histogram("h", np.array([1.0, 2.0, 2.0, 5.0]), 3)
    assert tensorboard.read_scalars(tmp_path / "run") == {"a": [(0, 0.5), (1, 0.25), (2, 0.125)], "b": [(10, 7.0)]}
    ((step, histogram),) = tensorboard.read_histograms(tmp_path / "run")["h"]
    assert (step, histogram["min"], histogram["max"], histogram["num"], histogram["sum"],
            histogram["sum_squares"]) == (3, 1.0, 5.0, 4, 10.0, 34.0)
    (path,) = [tmp_path / "run" / name for name in os.listdir(tmp_path / "run")]
    data = path.read_bytes()
    path.write_bytes(data[:-3])
    with pytest.raises(ValueError, match="truncated"):
        tensorboard.read_events(path)
    damaged = bytearray(data)
    damaged[-10] ^= 0xFF
    path.write_bytes(bytes(damaged))
    with pytest.raises(ValueError, match="damaged"):
        tensorboard.read_events(path)
    with pytest.raises(FileNotFoundError):
        tensorboard.read_events(tmp_path / "nothing")


@pytest.mark.parametrize("backend", BACKENDS)
def test_tensorboard_writes_scalars_and_weight_and_gradient_histograms(tmp_path, backend):
    pytest.importorskip("tensorboardX")
    model = _model(backend)
    x = fnn.tensor(np.arange(6, dtype="float32").reshape(2, 3) / 6, backend=backend)
    model(x).sum().backward()  # gradients on p.grad, as after a training batch
    grads = {name: w.grad.numpy() for name, w in model.named_weights()}
    board = cb.TensorBoard(log_dir=str(tmp_path), histogram_freq=2, write_grads=True)
    logs = [{"loss": 1.5, "accuracy": 0.25, "val_loss": 1.75, "lr": 0.1},
            {"loss": 1.0, "accuracy": 0.5, "val_loss": 1.25, "lr": 0.1},
            {"loss": 0.5, "accuracy": 0.75, "val_loss": 1.0, "lr": 0.05}]
    _train(model, [board], logs)
    train, validation = _summaries(tmp_path / "train"), _summaries(tmp_path / "validation")
    assert [(s, round(v, 6)) for s, v in train["epoch_loss"]] == [(0, 1.5), (1, 1.0), (2, 0.5)]
    assert [v for _, v in train["epoch_accuracy"]] == [0.25, 0.5, 0.75]
    assert [v for _, v in train["epoch_lr"]] == pytest.approx([0.1, 0.1, 0.05])
    assert [(s, v) for s, v in validation["epoch_loss"]] == [(0, 1.75), (1, 1.25), (2, 1.0)]
    assert "epoch_val_loss" not in train and "epoch_accuracy" not in validation
    names = [name for name, _ in model.named_weights()]
    assert names and all(name in train and f"{name}_grad" in train for name in names)
    for name in names:
        # histograms on epochs 0 and 2 (epoch % 2 == 0); _train set every weight to epoch + 1
        weights = train[name]
        assert [s for s, _ in weights] == [0, 2]
        assert [(h["min"], h["max"]) for _, h in weights] == [(1.0, 1.0), (3.0, 3.0)]
        assert weights[0][1]["num"] == grads[name].size
        _, grad_histo = train[f"{name}_grad"][0]
        assert grad_histo["min"] == pytest.approx(grads[name].min())
        assert grad_histo["max"] == pytest.approx(grads[name].max())
        assert grad_histo["sum"] == pytest.approx(grads[name].sum(), rel=1e-5, abs=1e-6)


def test_tensorboard_batch_scalars_every_n_batches(tmp_path):
    pytest.importorskip("tensorboardX")
    board = cb.TensorBoard(log_dir=str(tmp_path), update_freq=2)
    batch_logs = {(e, b): {"loss": 10.0 * e + b} for e in range(2) for b in range(3)}
    _train(_model(), [board], [{"loss": 1.0}, {"loss": 0.5}], batches=3, batch_logs=batch_logs)
    train = _summaries(tmp_path / "train")
    # batches seen 1..6; written at 2, 4, 6: epoch 0 batch 1, epoch 1 batch 0, epoch 1 batch 2
    assert train["batch_loss"] == [(2, 1.0), (4, 10.0), (6, 12.0)]
    assert not (tmp_path / "validation").exists()


def test_tensorboard_without_tensorboardx_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tensorboardx(name, *args, **kwargs):
        if name.startswith("tensorboardX"):
            raise ImportError("No module named 'tensorboardX'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboardx)
    with pytest.raises(ImportError, match=r'pip install "fastnn\[tensorboard\]"'):
        cb.TensorBoard()


# -- TerminateOnNaN --------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_terminate_on_nan_stops_at_the_first_bad_batch(bad, capsys):
    model = _model()
    stopper = cb.TerminateOnNaN()
    batch_logs = {(1, 2): {"loss": bad}}
    ran = _train(model, [stopper], [{"loss": 1.0}] * 4, batches=5, batch_logs=batch_logs)
    assert ran == [0, 1]
    assert model.stop_training and (stopper.stopped_epoch, stopper.stopped_batch) == (1, 2)
    assert "invalid loss" in capsys.readouterr().out


def test_terminate_on_nan_leaves_finite_losses_alone():
    model = _model()
    assert _train(model, [cb.TerminateOnNaN()], [{"loss": 1.0}] * 3, batches=2) == [0, 1, 2]
    assert not model.stop_training


def test_callback_list_refuses_non_callbacks():
    with pytest.raises(TypeError, match=r"callbacks\[1\] must be a fastnn.callbacks.Callback, got function"):
        cb.CallbackList([cb.History(), lambda: None])


def test_no_warning_when_the_monitored_key_is_present(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _train(_SavingModel(), [cb.EarlyStopping(), cb.ModelCheckpoint(str(tmp_path / "m"), save_best_only=True)],
               _losses(1.0, 0.5))
        _train(_model(), [cb.ReduceLROnPlateau()], _losses(1.0, 0.5))


# -- through Model.fit -----------------------------------------------------------------------------------
def _data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("int64")
    return x, y


def _compiled(backend="numpy", optimizer=None):
    fnn.manual_seed(0)
    model = fnn.Sequential([Input((3,)), Dense(8, activation="tanh"), Dense(2)], backend=backend)
    model.compile(optimizer=optimizer or fnn.optim.SGD(lr=0.5), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


class _WeightRecorder(cb.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []
        self.batches = []

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append((len(self.weights), batch))

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


@pytest.mark.parametrize("backend", BACKENDS)
def test_fit_early_stopping_with_a_frozen_model_stops_after_patience(backend):
    model = _compiled(backend, fnn.optim.SGD(lr=0.0))  # nothing changes: no epoch after the first improves
    x, y = _data()
    history = model.fit(x, y, epochs=10, batch_size=16, validation_data=_data(16, 1), verbose=0,
                        callbacks=[cb.EarlyStopping(patience=2)])
    assert history.epoch == [0, 1, 2] and model.epoch == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_fit_early_stopping_restores_the_weights_of_the_best_validation_epoch(backend):
    model = _compiled(backend, fnn.optim.SGD(lr=2.0))
    recorder = _WeightRecorder()
    x, y = _data()
    history = model.fit(x, y, epochs=6, batch_size=8, validation_data=_data(16, 1), verbose=0,
                        callbacks=[cb.EarlyStopping(patience=10, restore_best_weights=True), recorder])
    best = int(np.argmin(history.history["val_loss"]))
    for got, want in zip(model.get_weights(), recorder.weights[best]):
        np.testing.assert_array_equal(got, want)


def test_fit_model_checkpoint_writes_loadable_checkpoints(tmp_path):
    from fastnn import io

    model = _compiled()
    recorder = _WeightRecorder()
    x, y = _data()
    model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0,
              callbacks=[cb.ModelCheckpoint(str(tmp_path / "m{epoch}.fnn")),
                         cb.ModelCheckpoint(str(tmp_path / "best.safetensors"), save_best_only=True,
                                            save_weights_only=True), recorder])
    assert {"m1.fnn", "m2.fnn", "m3.fnn", "best.safetensors"} <= set(os.listdir(tmp_path))
    for epoch in range(3):
        loaded = io.load_model(str(tmp_path / f"m{epoch + 1}.fnn"))
        assert loaded.epoch == epoch + 1
        for got, want in zip(loaded.get_weights(), recorder.weights[epoch]):
            np.testing.assert_array_equal(got, want)


def test_fit_learning_rate_scheduler_csv_logger_and_reduce_on_plateau(tmp_path):
    model = _compiled()
    x, y = _data()
    schedule = schedules.StepDecay(0.4, step_size=2, gamma=0.5)
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0,
                        callbacks=[cb.LearningRateScheduler(schedule), cb.CSVLogger(tmp_path / "log.csv")])
    assert history.history["lr"] == pytest.approx([0.4, 0.4, 0.2, 0.2, 0.1])
    with open(tmp_path / "log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3, 4]
    assert set(rows[0]) == {"epoch", "loss", "accuracy", "lr"}
    assert [float(r["loss"]) for r in rows] == pytest.approx(history.history["loss"], rel=1e-12)

    # a rate so small that the loss moves by far less than min_delta: every epoch after the first stalls
    model = _compiled(optimizer=fnn.optim.SGD(lr=1e-9))
    history = model.fit(x, y, epochs=4, batch_size=16, verbose=0,
                        callbacks=[cb.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1)])
    assert history.history["lr"] == pytest.approx([1e-9, 1e-9, 5e-10, 2.5e-10])


def test_fit_tensorboard_writes_epoch_scalars_and_gradient_histograms(tmp_path):
    pytest.importorskip("tensorboardX")
    model = _compiled()
    x, y = _data()
    history = model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0,
                        callbacks=[cb.TensorBoard(log_dir=str(tmp_path), histogram_freq=1, write_grads=True)])
    train, validation = _summaries(tmp_path / "train"), _summaries(tmp_path / "validation")
    assert [v for _, v in train["epoch_loss"]] == pytest.approx(history.history["loss"], rel=1e-6)
    assert [v for _, v in validation["epoch_loss"]] == pytest.approx(history.history["val_loss"], rel=1e-6)
    assert [v for _, v in validation["epoch_accuracy"]] == pytest.approx(history.history["val_accuracy"])
    for name, weight in model.named_weights():
        grads = train[f"{name}_grad"]
        assert [s for s, _ in grads] == [0, 1]
        assert grads[-1][1]["sum_squares"] > 0  # real gradients from the last batch
        assert grads[-1][1]["sum"] == pytest.approx(float(weight.grad.numpy().sum()), rel=1e-5, abs=1e-7)


class _PoisonAfter(cb.Callback):
    """Makes every weight NaN after batch ``batch`` of epoch ``epoch``, so the next batch's loss is NaN."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at = (epoch, batch)
        self.epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            self.model.set_weights([np.full(w.shape, np.nan, dtype=w.dtype) for w in self.model.weights])


def test_fit_terminate_on_nan_ends_training(capsys):
    model = _compiled()
    x, y = _data(64)
    stopper = cb.TerminateOnNaN()
    recorder = _WeightRecorder()
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0, shuffle=False,
                        callbacks=[_PoisonAfter(1, 0), stopper, recorder])
    assert (stopper.stopped_epoch, stopper.stopped_batch) == (1, 1)
    assert history.epoch == [0, 1] and model.stop_training
    assert capsys.readouterr().out.count("invalid loss") == 1  # reported once, at batch 1
    assert [b for e, b in recorder.batches if e == 1] == [0, 1]  # no batch ran after the bad one
