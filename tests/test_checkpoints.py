"""Checkpoints (fastnn.io): one safetensors file per model, verified on load.

Round trips restore weights, predictions, optimizer state, epoch and the random state;
files move between backends; damaged, truncated, foreign and mismatched files fail with
a CheckpointError saying what is wrong; an interrupted save leaves the previous file
whole; subclassed models come back through custom_objects; and a resumed fit ends with
the same parameters as an uninterrupted one.
"""

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import safetensors.numpy

import fastnn as fnn
import fastnn.functional as F
from fastnn import io
from fastnn.io import CheckpointError
from fastnn.layers import BatchNormalization, Conv2D, Dense, Dropout, Flatten, Input, Layer
from tolerances import assert_close

AVAILABLE = fnn.available_backends()
HOST_BACKENDS = [b for b in ("numpy", "cpu") if b in AVAILABLE]
# (saved on, loaded on): every ordered pair of the host backends, and gpu -> cpu where a GPU answers
BACKEND_PAIRS = [(a, b) for a in HOST_BACKENDS for b in HOST_BACKENDS if a != b]
if "gpu" in AVAILABLE:
    BACKEND_PAIRS += [pytest.param("gpu", "cpu", marks=pytest.mark.gpu, id="gpu-cpu"),
                      pytest.param("cpu", "gpu", marks=pytest.mark.gpu, id="cpu-gpu")]

RNG = np.random.default_rng(3)
X = RNG.standard_normal((24, 6)).astype(np.float32)
Y = RNG.integers(0, 3, 24)


# load_model sets fastnn's global random state: the fixture puts it back for the other tests
pytestmark = pytest.mark.usefixtures("rng_restored")


def make_mlp(backend, lazy=False):
    layers = [Dense(8, activation="relu"), BatchNormalization(), Dropout(0.25), Dense(3)]
    return fnn.Sequential(layers if lazy else [Input((6,))] + layers, backend=backend)


def train_steps(model, optimizer, steps, backend):
    """A few hand-written training steps (dropout draws, batch-norm statistics, Adam state)."""
    model.train()
    for step in range(steps):
        rows = slice(8 * (step % 3), 8 * (step % 3) + 8)
        optimizer.zero_grad()
        loss = F.sparse_categorical_crossentropy(model(fnn.tensor(X[rows], backend=backend)),
                                                 fnn.tensor(Y[rows], backend=backend))
        loss.backward()
        optimizer.step()


def trained_model(backend, steps=4, lazy=False):
    fnn.manual_seed(11)
    model = make_mlp(backend, lazy=lazy)
    if lazy:
        model(fnn.tensor(X[:2], backend=backend))
    model.optimizer = fnn.optim.Adam(model.parameters(), lr=1e-2)
    train_steps(model, model.optimizer, steps, backend)
    return model


def predict(model, backend):
    model.eval()
    with fnn.no_grad():
        out = model(fnn.tensor(X, backend=backend)).numpy()
    model.train()
    return out


def assert_same_weights(a, b):
    names_a, names_b = [n for n, _ in a.named_weights()], [n for n, _ in b.named_weights()]
    assert len(names_a) == len(names_b)
    for name, wa, wb in zip(names_a, a.get_weights(), b.get_weights()):
        assert wa.dtype == wb.dtype and np.array_equal(wa, wb), f"weight {name} differs"


def assert_same_optimizer_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    assert sorted(sa["state"]) == sorted(sb["state"])
    for i in sa["state"]:
        assert sorted(sa["state"][i]) == sorted(sb["state"][i])
        for key, value in sa["state"][i].items():
            if key == "step":
                assert value == sb["state"][i][key]
            else:
                assert np.array_equal(value, sb["state"][i][key]), f"optimizer buffer {i}/{key} differs"


def raw_header(path):
    data = open(path, "rb").read()
    length = int.from_bytes(data[:8], "little")
    return data, length, json.loads(data[8:8 + length])


# --------------------------------------------------------------------------------------
# round trips

@pytest.mark.parametrize("backend", HOST_BACKENDS)
def test_round_trip_restores_weights_predictions_optimizer_epoch_and_rng(tmp_path, backend):
    model = trained_model(backend)
    model.epoch = 3
    path = tmp_path / "model.fnn"
    io.save_model(model, path)
    saved_rng = fnn.get_rng_state()

    fnn.manual_seed(12345)  # a fresh process would not have the old random state
    loaded = io.load_model(path, backend=backend)

    assert type(loaded) is fnn.Sequential and loaded.backend == backend
    assert [type(layer).__name__ for layer in loaded.layers] == ["Dense", "BatchNormalization", "Dropout", "Dense"]
    assert_same_weights(model, loaded)
    assert np.array_equal(predict(model, backend), predict(loaded, backend))
    assert_same_optimizer_state(model.optimizer, loaded.optimizer)
    assert loaded.optimizer.parameters()[0] is loaded.weights[0]
    assert loaded.epoch == 3
    assert fnn.get_rng_state() == saved_rng

    # Both continue identically: the same dropout draws and the same Adam moments and step counts.
    train_steps(model, model.optimizer, 2, backend)
    fnn.set_rng_state(saved_rng)
    train_steps(loaded, loaded.optimizer, 2, backend)
    assert_same_weights(model, loaded)


def test_loading_restores_random_state_after_building_a_lazy_model(tmp_path):
    model = trained_model("numpy", lazy=True)
    io.save_model(model, tmp_path / "lazy.fnn")
    saved_rng = fnn.get_rng_state()
    fnn.manual_seed(7)
    loaded = io.load_model(tmp_path / "lazy.fnn", backend="numpy")  # built from a zero batch, drawing initial values
    assert loaded.built and fnn.get_rng_state() == saved_rng
    assert_same_weights(model, loaded)


def test_model_without_optimizer_and_compile_false(tmp_path):
    fnn.manual_seed(2)
    model = make_mlp("numpy")
    io.save_model(model, tmp_path / "bare.fnn")
    loaded = io.load_model(tmp_path / "bare.fnn", backend="numpy")
    assert getattr(loaded, "optimizer", None) is None and loaded.epoch == 0
    assert_same_weights(model, loaded)

    trained = trained_model("numpy")
    io.save_model(trained, tmp_path / "trained.fnn")
    loaded = io.load_model(tmp_path / "trained.fnn", backend="numpy", compile=False)
    assert getattr(loaded, "optimizer", None) is None
    assert_same_weights(trained, loaded)


def test_optimizer_over_a_subset_of_weights_in_its_own_order(tmp_path):
    """Optimizer parameter i is stored with the position of its weight, not assumed to be weight i."""
    fnn.manual_seed(4)
    model = fnn.Sequential([Input((6,)), Dense(5), Dense(3)], backend="numpy")
    kernel0, bias0, kernel1, bias1 = model.weights
    model.optimizer = fnn.optim.SGD([{"params": [kernel1, bias1], "lr": 0.1},
                                     {"params": [kernel0], "lr": 0.01}], momentum=0.9)
    train_steps(model, model.optimizer, 2, "numpy")
    io.save_model(model, tmp_path / "groups.fnn")
    loaded = io.load_model(tmp_path / "groups.fnn", backend="numpy")
    new = loaded.weights
    groups = loaded.optimizer.param_groups
    assert [g["lr"] for g in groups] == [0.1, 0.01]
    assert groups[0]["params"][0] is new[2] and groups[0]["params"][1] is new[3] and groups[1]["params"] == [new[0]]
    assert_same_optimizer_state(model.optimizer, loaded.optimizer)


def test_conv_model_round_trip(tmp_path):
    fnn.manual_seed(5)
    model = fnn.Sequential([Input((2, 6, 5)), Conv2D(3, (3, 2), padding="same", activation="relu"), Flatten(),
                            Dense(4)], backend="numpy")
    io.save_model(model, tmp_path / "cnn.fnn")
    loaded = io.load_model(tmp_path / "cnn.fnn", backend="numpy")
    assert_same_weights(model, loaded)
    x = RNG.standard_normal((3, 2, 6, 5)).astype(np.float32)
    assert np.array_equal(model(x).numpy(), loaded(x).numpy())


def test_float64_model_keeps_its_dtype(tmp_path):
    fnn.manual_seed(6)
    model = fnn.Sequential([Dense(4), Dense(2)], backend="numpy")
    model(fnn.tensor(np.zeros((1, 3)), backend="numpy"))  # a float64 tensor builds float64 weights
    assert model.weights[0].dtype == np.float64
    io.save_model(model, tmp_path / "f64.fnn")
    loaded = io.load_model(tmp_path / "f64.fnn", backend="numpy")
    assert_same_weights(model, loaded)


# --------------------------------------------------------------------------------------
# the file itself

def test_file_is_plain_safetensors_with_the_documented_checksum(tmp_path):
    model = trained_model("numpy")
    path = tmp_path / "model.fnn"
    io.save_model(model, path)
    data, length, header = raw_header(path)
    metadata = header["__metadata__"]
    assert metadata["format"] == "fastnn.checkpoint" and metadata["format_version"] == "1"
    assert metadata["backend"] == "numpy" and metadata["fastnn_version"] == fnn.__version__
    assert json.loads(metadata["architecture"])["class_name"] == "Sequential"
    assert json.loads(metadata["rng_state"]) == fnn.get_rng_state()
    assert json.loads(metadata["build"]) == {"input_shape": [6], "input_dtype": "float32"}

    tensors = safetensors.numpy.load(data)  # any safetensors reader opens it
    for name, weight in model.named_weights():
        assert np.array_equal(tensors[name], weight.numpy())
    state = model.optimizer.state_dict()["state"]
    assert np.array_equal(tensors["optimizer/0/exp_avg"], state[0]["exp_avg"])
    assert json.loads(metadata["optimizer"])["state"]["0"] == {"step": 4}

    # The checksum, recomputed from its definition in the fastnn.io docstring.
    def canonical(value):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")

    digest = hashlib.sha256(canonical({k: v for k, v in metadata.items() if k != "sha256"}) + b"\n")
    for key in sorted(tensors):
        array = tensors[key]
        digest.update(canonical([key, array.dtype.str, list(array.shape)]) + b"\n" + array.tobytes())
    assert metadata["sha256"] == digest.hexdigest()


def test_atomic_save_leaves_no_temporary_files(tmp_path):
    model = trained_model("numpy")
    io.save_model(model, tmp_path / "a.fnn")
    io.save_model(model, tmp_path / "a.fnn")  # overwrite
    io.save_weights(model, str(tmp_path / "w.safetensors"))
    assert sorted(os.listdir(tmp_path)) == ["a.fnn", "w.safetensors"]


def test_saving_into_a_missing_directory_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        io.save_model(trained_model("numpy"), tmp_path / "nowhere" / "m.fnn")


def test_unbuilt_model_cannot_be_saved(tmp_path):
    with pytest.raises(ValueError, match="not built"):
        io.save_model(make_mlp("numpy", lazy=True), tmp_path / "m.fnn")
    with pytest.raises(TypeError, match="fastnn.Model"):
        io.save_model(Dense(3), tmp_path / "m.fnn")


# --------------------------------------------------------------------------------------
# across backends

@pytest.mark.parametrize("saved_on, loaded_on", BACKEND_PAIRS)
def test_checkpoint_moves_between_backends(tmp_path, saved_on, loaded_on):
    model = trained_model(saved_on)
    io.save_model(model, tmp_path / "model.fnn")
    loaded = io.load_model(tmp_path / "model.fnn", backend=loaded_on)
    assert loaded.backend == loaded_on and all(w.backend == loaded_on for w in loaded.weights)
    assert_same_weights(model, loaded)
    assert_same_optimizer_state(model.optimizer, loaded.optimizer)
    assert_close(predict(loaded, loaded_on), predict(model, saved_on), what="predictions after the move")
    train_steps(loaded, loaded.optimizer, 1, loaded_on)  # the buffers live on the new backend


@pytest.mark.parametrize("saved_on, loaded_on", BACKEND_PAIRS)
def test_weights_move_between_backends(tmp_path, saved_on, loaded_on):
    model = trained_model(saved_on)
    io.save_weights(model, tmp_path / "w.safetensors")
    target = make_mlp(loaded_on)
    io.load_weights(target, tmp_path / "w.safetensors")
    assert_same_weights(model, target)


def test_load_model_uses_the_current_backend_by_default(tmp_path):
    model = trained_model("numpy")
    io.save_model(model, tmp_path / "m.fnn")
    other = "cpu" if "cpu" in AVAILABLE else "numpy"
    with fnn.use_backend(other):
        assert io.load_model(tmp_path / "m.fnn").backend == other


# --------------------------------------------------------------------------------------
# damaged and foreign files

@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / "model.fnn"
    io.save_model(trained_model("numpy"), path)
    return path


@pytest.mark.parametrize("where", ["last byte", "middle of the data", "first data byte"])
def test_flipped_byte_in_the_data_fails_the_checksum(checkpoint, where):
    data, length, _ = raw_header(checkpoint)
    data = bytearray(data)
    position = {"last byte": len(data) - 1, "middle of the data": (8 + length + len(data)) // 2,
                "first data byte": 8 + length}[where]
    data[position] ^= 0x10
    checkpoint.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt.*SHA-256"):
        io.load_model(checkpoint)
    with pytest.raises(CheckpointError, match="corrupt"):
        io.load_weights(make_mlp("numpy"), checkpoint)


def test_edited_metadata_fails_the_checksum(checkpoint):
    data = checkpoint.read_bytes()
    edited = data.replace(b'\\"units\\": 8', b'\\"units\\": 9', 1)  # still valid JSON, same length
    assert edited != data
    checkpoint.write_bytes(edited)
    with pytest.raises(CheckpointError, match="corrupt.*SHA-256"):
        io.load_model(checkpoint)


def test_flipped_byte_in_the_header_structure_is_reported(checkpoint):
    data = bytearray(checkpoint.read_bytes())
    data[8] ^= 0xFF  # the header's opening brace
    checkpoint.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="header is corrupt"):
        io.load_model(checkpoint)


@pytest.mark.parametrize("keep", ["nothing", "4 bytes", "part of the header", "all but one byte", "half"])
def test_truncated_file_is_reported(checkpoint, keep):
    data, length, _ = raw_header(checkpoint)
    size = {"nothing": 0, "4 bytes": 4, "part of the header": 8 + length // 2, "all but one byte": len(data) - 1,
            "half": (8 + length + len(data)) // 2}[keep]
    checkpoint.write_bytes(data[:size])
    with pytest.raises(CheckpointError, match="truncated"):
        io.load_model(checkpoint)


def test_files_that_are_not_checkpoints(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("just some words, long enough to have a header length\n" * 3)
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        io.load_model(text)

    npy = tmp_path / "array.npy"
    np.save(npy, np.arange(10.0))
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        io.load_model(npy)

    foreign = tmp_path / "foreign.safetensors"
    foreign.write_bytes(safetensors.numpy.save({"w": np.ones(3, np.float32)}, metadata={"format": "pt"}))
    with pytest.raises(CheckpointError, match="not a fastnn checkpoint.*'pt'"):
        io.load_model(foreign)

    with pytest.raises(FileNotFoundError):
        io.load_model(tmp_path / "missing.fnn")


def test_unknown_format_version_is_reported(checkpoint):
    metadata, tensors = io.read_checkpoint(checkpoint)
    metadata = {**metadata, "format_version": "99"}
    checkpoint.write_bytes(safetensors.numpy.save(tensors, metadata=metadata))
    with pytest.raises(CheckpointError, match="format version '99'.*reads version 1"):
        io.load_model(checkpoint)


def test_weights_file_is_not_a_model(tmp_path):
    io.save_weights(trained_model("numpy"), tmp_path / "w.safetensors")
    with pytest.raises(CheckpointError, match="weights only.*load_weights"):
        io.load_model(tmp_path / "w.safetensors")


# --------------------------------------------------------------------------------------
# save_weights / load_weights

def test_load_weights_into_an_unbuilt_model_builds_it_and_leaves_the_random_state(tmp_path):
    model = trained_model("numpy")
    io.save_weights(model, tmp_path / "w.safetensors")
    target = make_mlp("numpy", lazy=True)
    assert not target.built
    state = fnn.get_rng_state()
    io.load_weights(target, tmp_path / "w.safetensors")
    assert fnn.get_rng_state() == state
    assert_same_weights(model, target)
    assert np.array_equal(predict(model, "numpy"), predict(target, "numpy"))


def test_load_weights_reads_a_full_checkpoint_too(checkpoint):
    target = make_mlp("numpy")
    io.load_weights(target, checkpoint)
    assert_same_weights(io.load_model(checkpoint, backend="numpy"), target)


def test_load_weights_architecture_mismatch_names_the_weight(tmp_path):
    fnn.manual_seed(1)
    io.save_weights(fnn.Sequential([Input((6,)), Dense(8, name="hidden"), Dense(3, name="out")], backend="numpy"),
                    tmp_path / "w.safetensors")

    wider = fnn.Sequential([Input((6,)), Dense(9, name="hidden"), Dense(3, name="out")], backend="numpy")
    before = wider.get_weights()
    with pytest.raises(CheckpointError, match=r"'hidden/kernel' has shape \(6, 9\).*'hidden/kernel' has shape \(6, 8\)"):
        io.load_weights(wider, tmp_path / "w.safetensors")
    assert all(np.array_equal(a, b) for a, b in zip(before, wider.get_weights()))  # nothing written

    deeper = fnn.Sequential([Input((6,)), Dense(8), Dense(3), Dense(3)], backend="numpy")
    with pytest.raises(CheckpointError, match="holds 4 weights but .* has 6"):
        io.load_weights(deeper, tmp_path / "w.safetensors")

    # same shapes, different kinds of weight: batch norm's gamma/beta are not a Dense kernel/bias
    swapped = fnn.Sequential([Input((6,)), Dense(8), BatchNormalization(), Dense(3)], backend="numpy")
    io.save_weights(swapped, tmp_path / "bn.safetensors")
    with pytest.raises(CheckpointError, match="does not match"):
        io.load_weights(fnn.Sequential([Input((6,)), Dense(8), Dense(8), Dense(3)], backend="numpy"),
                        tmp_path / "bn.safetensors")


# --------------------------------------------------------------------------------------
# interrupted saves

def test_failed_rename_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "model.fnn"
    old = trained_model("numpy", steps=1)
    io.save_model(old, path)
    previous = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("simulated crash during the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated"):
        io.save_model(trained_model("numpy", steps=3), path)
    monkeypatch.undo()
    assert path.read_bytes() == previous
    assert os.listdir(tmp_path) == ["model.fnn"]  # the temporary file was removed
    assert_same_weights(old, io.load_model(path, backend="numpy"))


def test_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "model.fnn"
    old = trained_model("numpy", steps=1)
    io.save_model(old, path)

    def crash(fd):
        raise OSError("simulated disk failure")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="simulated"):
        io.save_model(trained_model("numpy", steps=3), path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["model.fnn"]
    assert_same_weights(old, io.load_model(path, backend="numpy"))


def test_process_killed_mid_save_leaves_the_previous_checkpoint(tmp_path):
    """A real crash: the process dies (os._exit, no cleanup) after writing the new bytes to
    the temporary file but before the rename. The real name still holds the old file."""
    path = tmp_path / "model.fnn"
    script = textwrap.dedent(f"""
        import os
        import numpy as np
        import fastnn as fnn
        from fastnn import io
        from fastnn.layers import Dense, Input
        fnn.manual_seed(1)
        model = fnn.Sequential([Input((4,)), Dense(3)], backend="numpy")
        io.save_model(model, {str(path)!r})
        model.set_weights([w + 1 for w in model.get_weights()])
        os.fsync = lambda fd: os._exit(3)   # die right after the bytes were written
        io.save_model(model, {str(path)!r})
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, result.stderr
    fnn.manual_seed(1)
    expected = fnn.Sequential([Input((4,)), Dense(3)], backend="numpy")
    assert_same_weights(expected, io.load_model(path, backend="numpy"))


# --------------------------------------------------------------------------------------
# subclassed models and custom layers

class TwoLayerNet(fnn.Model):
    def __init__(self, hidden=8, **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = hidden
        self.hidden = Dense(hidden, activation="tanh")
        self.norm = BatchNormalization()
        self.out = Dense(3)

    def call(self, x, training=None):
        return self.out(self.norm(self.hidden(x)))

    def get_config(self):
        config = super().get_config()
        config["hidden"] = self.hidden_units
        return config


class PlainNet(fnn.Model):
    """No constructor arguments and no get_config of its own."""

    def __init__(self):
        super().__init__()
        self.dense = Dense(2)

    def call(self, x, training=None):
        return self.dense(x)


class Scale(Layer):
    """A user layer: y = x * s, s one learned scalar per feature."""

    def build(self, input_shape):
        self.scale = self.add_weight("scale", input_shape, initializer="ones")

    def call(self, x):
        return x * self.scale


def test_subclassed_model_needs_and_uses_custom_objects(tmp_path):
    fnn.manual_seed(8)
    model = TwoLayerNet(hidden=5)
    model(X[:4])
    model.optimizer = fnn.optim.RMSprop(model.parameters(), lr=1e-2, momentum=0.5)
    train_steps(model, model.optimizer, 2, model.backend)
    path = tmp_path / "net.fnn"
    io.save_model(model, path)

    with pytest.raises(CheckpointError, match=r"'TwoLayerNet'.*custom_objects=\{'TwoLayerNet': TwoLayerNet\}"):
        io.load_model(path)

    loaded = io.load_model(path, backend=model.backend, custom_objects={"TwoLayerNet": TwoLayerNet})
    assert type(loaded) is TwoLayerNet and loaded.hidden_units == 5 and loaded.name == model.name
    assert_same_weights(model, loaded)
    assert_same_optimizer_state(model.optimizer, loaded.optimizer)
    assert np.array_equal(predict(model, model.backend), predict(loaded, model.backend))


def test_subclassed_model_without_constructor_arguments(tmp_path):
    fnn.manual_seed(9)
    model = PlainNet()
    model(X[:2])
    io.save_model(model, tmp_path / "plain.fnn")
    loaded = io.load_model(tmp_path / "plain.fnn", custom_objects={"PlainNet": PlainNet})
    assert_same_weights(model, loaded)


def test_custom_layer_inside_a_sequential(tmp_path):
    fnn.manual_seed(10)
    model = fnn.Sequential([Input((6,)), Scale(), Dense(2)], backend="numpy")
    model.set_weights([w * 1.5 for w in model.get_weights()])
    io.save_model(model, tmp_path / "scale.fnn")
    with pytest.raises(CheckpointError, match=r"'Scale'.*custom_objects"):
        io.load_model(tmp_path / "scale.fnn")
    loaded = io.load_model(tmp_path / "scale.fnn", custom_objects={"Scale": Scale})
    assert_same_weights(model, loaded)


def test_nested_and_integer_input_models(tmp_path):
    """A block with inner layers (auto-named, so names differ after loading: weights match by
    position and kind) and a lazily built model of integer token ids (rebuilt from int64 zeros)."""
    from fastnn.layers import LSTM, Embedding, ResidualBlock

    fnn.manual_seed(12)
    resnet = fnn.Sequential([Input((3, 6, 6)), ResidualBlock(4, strides=2), Flatten(), Dense(2)], backend="numpy")
    io.save_model(resnet, tmp_path / "res.fnn")
    loaded = io.load_model(tmp_path / "res.fnn", backend="numpy")
    images = RNG.standard_normal((2, 3, 6, 6)).astype(np.float32)
    assert np.array_equal(resnet(images, training=False).numpy(), loaded(images, training=False).numpy())

    text = fnn.Sequential([Embedding(10, 4), LSTM(5), Dense(2)], backend="numpy")
    ids = RNG.integers(0, 10, (2, 7))
    text(ids)
    io.save_model(text, tmp_path / "text.fnn")
    loaded = io.load_model(tmp_path / "text.fnn", backend="numpy")
    assert json.loads(io.read_checkpoint(tmp_path / "text.fnn")[0]["build"])["input_dtype"] == "int64"
    assert_same_weights(text, loaded)
    assert np.array_equal(text(ids).numpy(), loaded(ids).numpy())


# --------------------------------------------------------------------------------------
# compiled models and resuming fit

def compiled_mlp(backend, seed=21):
    fnn.manual_seed(seed)
    model = make_mlp(backend)
    model.compile(optimizer=fnn.optim.Adam(lr=1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class SaveAfterEpoch(fnn.callbacks.Callback):
    """Writes a checkpoint at the end of one epoch, as a crash-safe training script would."""

    def __init__(self, path, epoch):
        super().__init__()
        self.path, self.epoch = path, epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            self.model.save(self.path)


@pytest.mark.parametrize("backend", HOST_BACKENDS)
def test_resumed_fit_ends_with_the_parameters_of_an_uninterrupted_fit(tmp_path, backend):
    """Shuffling, dropout masks, batch-norm statistics and Adam state all continue exactly:
    4 epochs in one fit == 2 epochs, save, load into fresh random state, 2 more epochs."""
    straight = compiled_mlp(backend)
    straight_history = straight.fit(X, Y, batch_size=8, epochs=4, verbose=0)

    interrupted = compiled_mlp(backend)
    interrupted.fit(X, Y, batch_size=8, epochs=2, verbose=0)
    assert interrupted.epoch == 2
    io.save_model(interrupted, tmp_path / "half.fnn")
    del interrupted

    fnn.manual_seed(999)  # a new process: some other random state
    resumed = fnn.load_model(tmp_path / "half.fnn", backend=backend)
    assert resumed.epoch == 2
    history = resumed.fit(X, Y, batch_size=8, epochs=4, initial_epoch=resumed.epoch, verbose=0)
    assert resumed.epoch == 4
    assert_same_weights(straight, resumed)
    assert_same_optimizer_state(straight.optimizer, resumed.optimizer)
    assert history.history["loss"] == straight_history.history["loss"][2:]
    assert history.history["accuracy"] == straight_history.history["accuracy"][2:]


def test_checkpoint_written_by_a_callback_resumes_exactly(tmp_path):
    straight = compiled_mlp("numpy", seed=5)
    straight.fit(X, Y, batch_size=6, epochs=3, verbose=0, validation_split=0.25)

    path = tmp_path / "epoch2.fnn"
    crashed = compiled_mlp("numpy", seed=5)
    crashed.fit(X, Y, batch_size=6, epochs=3, verbose=0, validation_split=0.25,
                callbacks=[SaveAfterEpoch(path, epoch=1)])  # the file holds the state after epoch 2 of 3
    fnn.manual_seed(1)
    resumed = fnn.load_model(path, backend="numpy")
    assert resumed.epoch == 2
    resumed.fit(X, Y, batch_size=6, epochs=3, verbose=0, validation_split=0.25, initial_epoch=resumed.epoch)
    assert_same_weights(straight, resumed)


def test_compiled_model_comes_back_compiled(tmp_path):
    model = compiled_mlp("numpy")
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "m.fnn")
    loaded = fnn.load_model(tmp_path / "m.fnn", backend="numpy")
    assert loaded.compile_config() == model.compile_config()
    assert type(loaded.optimizer) is fnn.optim.Adam and loaded.optimizer.lr == 1e-2
    assert [m.name for m in loaded.metrics] == ["accuracy"]
    expected = model.evaluate(X, Y, verbose=0)
    assert loaded.evaluate(X, Y, verbose=0) == expected

    bare = fnn.load_model(tmp_path / "m.fnn", backend="numpy", compile=False)
    assert bare.optimizer is None and bare.loss is None


def test_model_methods_wrap_fastnn_io(tmp_path):
    model = compiled_mlp("numpy")
    model.save_weights(tmp_path / "w.safetensors")
    other = make_mlp("numpy", lazy=True)
    other.load_weights(tmp_path / "w.safetensors")
    assert_same_weights(model, other)
