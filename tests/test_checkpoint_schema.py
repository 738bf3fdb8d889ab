"""Malformed checkpoint metadata behind a valid checksum (what a buggy or hostile writer
could produce) is refused with a CheckpointError naming the field, before anything is
built or changed; load_weights is atomic; load_model's arguments are checked.

Each case takes a good checkpoint, edits its metadata (decoded JSON) or its tensors,
signs the result again (the checksum of fastnn.io's docstring, so that the file passes
the integrity check and reaches the schema), and loads it on the numpy and cpu backends.
"""

import json
import operator
import re

import numpy as np
import pytest
import safetensors.numpy

import fastnn as fnn
from backend_params import require
from fastnn import io
from fastnn.layers import BatchNormalization, Dense, Dropout, Input, Layer

CheckpointError = fnn.io.CheckpointError
HOST = ["numpy", "cpu"]
JSON_FIELDS = ("weights", "build", "architecture", "optimizer", "compile", "rng_state")

RNG = np.random.default_rng(5)
X = RNG.standard_normal((16, 6)).astype(np.float32)
Y = RNG.integers(0, 3, 16)

pytestmark = pytest.mark.usefixtures("rng_restored")


# --------------------------------------------------------------------------------------
# the files

class Raw(str):
    """Metadata text written as it is (for a JSON field: text that is not JSON)."""


def resign(path, edit):
    """Rewrite the checkpoint at ``path``: ``edit(doc, tensors)`` changes the metadata (the
    JSON fields decoded) and the tensors in place; the file is then signed again with the
    checksum of the fastnn.io docstring, so that only the schema can find the damage."""
    metadata, tensors = io.read_checkpoint(path)
    doc = {key: (json.loads(value) if key in JSON_FIELDS else value) for key, value in metadata.items()}
    tensors = dict(tensors)
    edit(doc, tensors)
    metadata = {key: (value if key not in JSON_FIELDS or isinstance(value, Raw) else json.dumps(value))
                for key, value in doc.items() if key != "sha256"}
    metadata["sha256"] = io.content_sha256(metadata, tensors)
    path.write_bytes(safetensors.numpy.save(tensors, metadata=metadata))


def mlp(backend, lazy=False):
    layers = [Dense(8, activation="relu"), BatchNormalization(), Dropout(0.25), Dense(3)]
    return fnn.Sequential(layers if lazy else [Input((6,))] + layers, backend=backend)


def compiled_model(backend):
    """Compiled with Adam and trained one epoch: every metadata field is there."""
    fnn.manual_seed(3)
    model = mlp(backend)
    model.compile(optimizer=fnn.optim.Adam(lr=1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    return model


def manual_model(backend):
    """An optimizer set by hand (no compile settings: load_model rebuilds it from its config)."""
    fnn.manual_seed(4)
    model = mlp(backend)
    model.optimizer = fnn.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for rows in (slice(0, 8), slice(8, 16)):
        model.optimizer.zero_grad()
        loss = fnn.functional.sparse_categorical_crossentropy(model(fnn.tensor(X[rows], backend=backend)),
                                                              fnn.tensor(Y[rows], backend=backend))
        loss.backward()
        model.optimizer.step()
    model.epoch = 2
    return model


def lazy_model(backend):
    """Built by its first call (no Input): loading builds it from the recorded input shape."""
    fnn.manual_seed(5)
    model = mlp(backend, lazy=True)
    model(fnn.tensor(X[:2], backend=backend))
    return model


MAKERS = {"compiled": compiled_model, "manual": manual_model, "lazy": lazy_model}


@pytest.fixture(scope="module")
def good_files(tmp_path_factory):
    """(backend, kind) -> the bytes of a good checkpoint, made once per module."""
    folder, files, state = tmp_path_factory.mktemp("good"), {}, fnn.get_rng_state()
    for backend in HOST:
        require(backend)
        for kind, make in MAKERS.items():
            path = folder / f"{backend}-{kind}.fnn"
            io.save_model(make(backend), path)
            files[backend, kind] = path.read_bytes()
    fnn.set_rng_state(state)
    return files


@pytest.fixture(params=HOST)
def backend(request):
    require(request.param)
    return request.param


def put(container, key, value):
    operator.setitem(container, key, value)


def opt(doc):
    return doc["optimizer"]


def wkey(doc, i):
    """The tensor key of weight i (names carry the process's layer counters: "dense_3/kernel")."""
    return doc["weights"][i]["key"]


def layer(doc, i):
    return doc["architecture"]["layers"][i]


# (id, which good file, edit(doc, tensors), the field the error must name)
CASES = [
    # the weights list and the weight tensors
    ("weights missing", "compiled", lambda d, t: d.pop("weights"), "weights"),
    ("weights not a list", "compiled", lambda d, t: put(d, "weights", {"dense/kernel": "dense/kernel"}), "weights"),
    ("weights not JSON", "compiled", lambda d, t: put(d, "weights", Raw('[{"key": ')), "weights"),
    ("weights entry not an object", "compiled", lambda d, t: put(d["weights"], 1, "dense/bias"), "weights.1"),
    ("weights entry without key", "compiled", lambda d, t: d["weights"][2].pop("key"), "weights.2.key"),
    ("weights name not a string", "compiled", lambda d, t: put(d["weights"][0], "name", 3), "weights.0.name"),
    ("weights key of no tensor", "compiled", lambda d, t: put(d["weights"][0], "key", "dense/kernal"),
     "weights.0.key"),
    ("weights key twice", "compiled", lambda d, t: put(d["weights"][1], "key", d["weights"][0]["key"]),
     "weights.1.key"),
    ("weights list shortened", "compiled", lambda d, t: d["weights"].pop(), "weights"),
    ("weights list duplicated", "compiled", lambda d, t: d["weights"].extend(d["weights"]), "weights.8.key"),
    ("unlisted tensor", "compiled", lambda d, t: put(t, "stray", np.zeros(3, np.float32)), "weights"),
    ("weight tensor of the wrong shape", "compiled",
     lambda d, t: put(t, wkey(d, 4), np.zeros(9, np.float32)), "weights.4"),
    ("weight tensor of integers", "compiled", lambda d, t: put(t, wkey(d, 1), np.zeros(8, np.int32)),
     "weights.1"),
    ("weight tensor of another float dtype", "compiled",
     lambda d, t: put(t, wkey(d, 5), t[wkey(d, 5)].astype(np.float64)), "weights.5"),
    ("optimizer buffer of another dtype than its weight", "compiled",
     lambda d, t: put(t, wkey(d, 1), t[wkey(d, 1)].astype(np.float64)), "optimizer.state.1.exp_avg"),
    # the build shape
    ("build missing", "lazy", lambda d, t: d.pop("build"), "build"),
    ("build input_shape a string", "lazy", lambda d, t: put(d["build"], "input_shape", "6"), "build.input_shape"),
    ("build input_shape negative", "lazy", lambda d, t: put(d["build"], "input_shape", [-6]),
     "build.input_shape.0"),
    ("build input_shape of floats", "lazy", lambda d, t: put(d["build"], "input_shape", [6.0]),
     "build.input_shape.0"),
    ("build input_dtype unknown", "lazy", lambda d, t: put(d["build"], "input_dtype", "complex64"),
     "build.input_dtype"),
    ("build input_shape of another model", "lazy", lambda d, t: put(d["build"], "input_shape", [7]),
     "weights.0"),
    ("build with an unknown field", "lazy", lambda d, t: put(d["build"], "batch", 2), "build.batch"),
    # the architecture
    ("architecture missing", "compiled", lambda d, t: d.pop("architecture"), "architecture"),
    ("architecture not an object", "compiled", lambda d, t: put(d, "architecture", ["Dense"]), "architecture"),
    ("architecture class_name missing", "compiled", lambda d, t: d["architecture"].pop("class_name"),
     "architecture.class_name"),
    ("architecture class not a model", "compiled", lambda d, t: put(d["architecture"], "class_name", "Dense"),
     "architecture.class_name"),
    ("architecture layers missing", "compiled", lambda d, t: d["architecture"].pop("layers"),
     "architecture.layers"),
    ("architecture layers not a list", "compiled", lambda d, t: put(d["architecture"], "layers", {"0": "Dense"}),
     "architecture.layers"),
    ("unknown layer class", "compiled", lambda d, t: put(layer(d, 1), "class_name", "Dense2"),
     "architecture.layers.1.class_name"),
    ("layer dtype not a float dtype", "compiled", lambda d, t: put(layer(d, 1), "dtype", "int8"),
     "architecture.layers.1.dtype"),
    ("layer name not a string", "compiled", lambda d, t: put(layer(d, 3), "name", 7), "architecture.layers.3.name"),
    ("layer argument of the wrong type", "compiled", lambda d, t: put(layer(d, 1), "units", "eight"),
     "architecture"),
    ("layer of another size", "compiled", lambda d, t: put(layer(d, 4), "units", 4), "weights.6"),
    # the optimizer entry
    ("optimizer not an object", "compiled", lambda d, t: put(d, "optimizer", []), "optimizer"),
    ("optimizer config missing", "compiled", lambda d, t: opt(d).pop("config"), "optimizer.config"),
    ("optimizer of another class than compiled", "compiled",
     lambda d, t: put(opt(d)["config"], "class_name", "SGD"), "optimizer.config.class_name"),
    ("optimizer class unknown", "manual",
     lambda d, t: (d.pop("compile"), put(opt(d)["config"], "class_name", "Adamm")), "optimizer.config"),
    ("optimizer config of the wrong kind", "manual",
     lambda d, t: (d.pop("compile"), put(opt(d)["config"], "config", {"lr": [0.1]})), "optimizer.config"),
    ("optimizer param_groups not a list", "compiled", lambda d, t: put(opt(d), "param_groups", {"lr": 0.1}),
     "optimizer.param_groups"),
    ("group params missing", "compiled", lambda d, t: opt(d)["param_groups"][0].pop("params"),
     "optimizer.param_groups.0.params"),
    ("group params of a missing parameter", "compiled",
     lambda d, t: put(opt(d)["param_groups"][0], "params", [0, 1, 2, 3, 4, 9]), "optimizer.param_groups"),
    ("group lr a string", "compiled", lambda d, t: put(opt(d)["param_groups"][0], "lr", "fast"),
     "optimizer.param_groups.0.lr"),
    ("group lr negative", "manual", lambda d, t: put(opt(d)["param_groups"][0], "lr", -0.1),
     "optimizer.param_groups.0"),
    ("group betas of one number", "compiled", lambda d, t: put(opt(d)["param_groups"][0], "betas", [0.9]),
     "optimizer.param_groups.0.betas"),
    ("group hyperparameter missing", "compiled", lambda d, t: opt(d)["param_groups"][0].pop("eps"),
     "optimizer.param_groups.0.eps"),
    ("group amsgrad without its buffer", "compiled", lambda d, t: put(opt(d)["param_groups"][0], "amsgrad", True),
     "optimizer.state.0.max_exp_avg_sq"),
    ("state step a string", "compiled", lambda d, t: put(opt(d)["state"]["0"], "step", "2"),
     "optimizer.state.0.step"),
    ("state step negative", "compiled", lambda d, t: put(opt(d)["state"]["3"], "step", -1),
     "optimizer.state.3.step"),
    ("state of a parameter that does not exist", "compiled", lambda d, t: put(opt(d)["state"], "9", {"step": 1}),
     "optimizer.state.9"),
    ("state key not an index", "compiled", lambda d, t: put(opt(d)["state"], "first", {"step": 1}),
     "optimizer.state"),
    ("state entry missing for buffers", "compiled", lambda d, t: opt(d)["state"].pop("2"), "optimizer.state.2"),
    ("buffer of a parameter that does not exist", "compiled",
     lambda d, t: put(t, "optimizer/9/exp_avg", np.zeros(3, np.float32)), "optimizer.state.9.exp_avg"),
    ("buffer of the wrong shape", "compiled", lambda d, t: put(t, "optimizer/3/exp_avg", np.zeros(7, np.float32)),
     "optimizer.state.3.exp_avg"),
    ("buffer missing", "manual", lambda d, t: t.pop("optimizer/3/exp_avg_sq"), "optimizer.state.3.exp_avg_sq"),
    ("param_weights beyond the weights", "compiled", lambda d, t: put(opt(d)["param_weights"], 5, 99),
     "optimizer.param_weights.5"),
    ("param_weights twice the same weight", "compiled", lambda d, t: put(opt(d)["param_weights"], 1, 0),
     "optimizer.param_weights.1"),
    ("param_weights of a non-trainable weight", "compiled", lambda d, t: put(opt(d)["param_weights"], 2, 4),
     "optimizer.param_weights.2"),
    ("param_weights entry a string", "compiled", lambda d, t: put(opt(d)["param_weights"], 0, "0"),
     "optimizer.param_weights.0"),
    # the compile settings
    ("compile optimizer missing", "compiled", lambda d, t: d["compile"].pop("optimizer"), "compile.optimizer"),
    ("compile metrics not a list", "compiled", lambda d, t: put(d["compile"], "metrics", "accuracy"),
     "compile.metrics"),
    ("compile loss unknown", "compiled", lambda d, t: put(d["compile"]["loss"], "class_name", "NoSuchLoss"),
     "compile"),
    # the epoch
    ("epoch missing", "compiled", lambda d, t: d.pop("epoch"), "epoch"),
    ("epoch negative", "compiled", lambda d, t: put(d, "epoch", "-1"), "epoch"),
    ("epoch not an integer", "compiled", lambda d, t: put(d, "epoch", "1.5"), "epoch"),
    ("epoch not a number", "compiled", lambda d, t: put(d, "epoch", "one"), "epoch"),
    # the random state
    ("rng_state missing", "compiled", lambda d, t: d.pop("rng_state"), "rng_state"),
    ("rng_state not JSON", "compiled", lambda d, t: put(d, "rng_state", Raw("seed=1")), "rng_state"),
    ("rng_state seed a string", "compiled", lambda d, t: put(d["rng_state"], "seed", "3"), "rng_state.seed"),
    ("rng_state seed beyond 64 bits", "compiled", lambda d, t: put(d["rng_state"], "seed", 2**64),
     "rng_state.seed"),
    ("rng_state offset negative", "compiled", lambda d, t: put(d["rng_state"], "offset", -1), "rng_state.offset"),
    ("rng_state offset beyond 63 bits", "compiled", lambda d, t: put(d["rng_state"], "offset", 2**64 - 1),
     "rng_state.offset"),
    ("rng_state offset missing", "compiled", lambda d, t: d["rng_state"].pop("offset"), "rng_state.offset"),
    ("rng_state with an unknown field", "compiled", lambda d, t: put(d["rng_state"], "stream", 0),
     "rng_state.stream"),
    # the informative fields
    ("model_class missing", "compiled", lambda d, t: d.pop("model_class"), "model_class"),
]


def test_the_case_table_is_large_and_distinct():
    assert len(CASES) >= 30
    assert len({case[0] for case in CASES}) == len(CASES)


def test_a_resigned_unchanged_file_loads(tmp_path, good_files, backend):
    path = tmp_path / "same.fnn"
    path.write_bytes(good_files[backend, "compiled"])
    resign(path, lambda doc, tensors: None)
    assert io.load_model(path, backend=backend).epoch == 1


@pytest.mark.parametrize("name, kind, edit, field", CASES, ids=[case[0] for case in CASES])
def test_malformed_metadata_is_a_checkpoint_error_naming_the_field(tmp_path, good_files, backend, name, kind,
                                                                   edit, field):
    path = tmp_path / "bad.fnn"
    path.write_bytes(good_files[backend, kind])
    resign(path, edit)
    fnn.manual_seed(77)
    state = fnn.get_rng_state()
    with pytest.raises(CheckpointError, match=re.escape(f"checkpoint field '{field}'")):
        io.load_model(path, backend=backend)
    assert fnn.get_rng_state() == state  # building the model drew numbers: the failed load put the state back


# the cases of the fields load_weights reads too (it casts float64 to float32, and has no architecture)
WEIGHTS_CASES = [case for case in CASES if case[3].split(".")[0] in ("weights", "build")
                 and case[0] not in ("weight tensor of another float dtype", "layer of another size")]


@pytest.mark.parametrize("name, kind, edit, field", WEIGHTS_CASES, ids=[case[0] for case in WEIGHTS_CASES])
def test_load_weights_refuses_the_same_files_and_changes_nothing(tmp_path, good_files, backend, name, kind, edit,
                                                                 field):
    path = tmp_path / "bad.fnn"
    path.write_bytes(good_files[backend, kind])
    resign(path, edit)
    fnn.manual_seed(8)
    target = mlp(backend, lazy=(kind == "lazy"))
    before = target.get_weights()
    state = fnn.get_rng_state()
    with pytest.raises(CheckpointError, match=re.escape(f"checkpoint field '{field}'")):
        io.load_weights(target, path)
    assert fnn.get_rng_state() == state
    after = target.get_weights()
    assert len(before) == len(after) and all(np.array_equal(a, b) for a, b in zip(before, after))
    assert target.built == (kind != "lazy")


def test_an_error_names_the_file_and_says_what_was_expected(tmp_path, good_files):
    path = tmp_path / "bad.fnn"
    path.write_bytes(good_files["numpy", "compiled"])
    resign(path, lambda d, t: put(d["optimizer"]["state"]["3"], "step", "two"))
    with pytest.raises(CheckpointError) as error:
        io.load_model(path, backend="numpy")
    assert str(error.value) == (f"{str(path)!r}: checkpoint field 'optimizer.state.3.step' must be an int in "
                                f"[0, {2**63 - 1}], got 'two'")


def test_validate_metadata_decodes_a_good_file(tmp_path, good_files):
    path = tmp_path / "good.fnn"
    path.write_bytes(good_files["numpy", "compiled"])
    doc = io.validate_metadata(*io.read_checkpoint(path))
    assert doc["epoch"] == 1 and doc["build"] == {"input_shape": [6], "input_dtype": "float32"}
    assert doc["optimizer"]["param_weights"] == [0, 1, 2, 3, 6, 7]
    assert doc["architecture"]["layers"][1]["units"] == 8


def test_a_checkpoint_relabelled_as_a_weights_file(tmp_path, good_files, backend):
    """format 'fastnn.weights' on a whole checkpoint: load_model refuses it, load_weights
    finds optimizer tensors that a weights file cannot hold (its other metadata is free text)."""
    path = tmp_path / "relabelled.fnn"
    path.write_bytes(good_files[backend, "compiled"])
    resign(path, lambda d, t: put(d, "format", "fastnn.weights"))
    with pytest.raises(CheckpointError, match="weights only"):
        io.load_model(path, backend=backend)
    with pytest.raises(CheckpointError, match="checkpoint field 'weights'.*'optimizer/0/exp_avg'"):
        io.load_weights(mlp(backend), path)


def test_load_weights_reads_a_checkpoint_of_classes_it_does_not_know(tmp_path, backend):
    """load_weights needs no architecture: a user layer class named in it is no error."""
    fnn.manual_seed(7)
    model = fnn.Sequential([Input((6,)), Scale(), Dense(2)], backend=backend)
    model.set_weights([w + 1 for w in model.get_weights()])
    io.save_model(model, tmp_path / "scale.fnn")
    target = fnn.Sequential([Input((6,)), Scale(), Dense(2)], backend=backend)
    io.load_weights(target, tmp_path / "scale.fnn")
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), target.get_weights()))


# --------------------------------------------------------------------------------------
# load_weights is atomic

def weights_file(tmp_path, model, name="w.safetensors"):
    path = tmp_path / name
    io.save_weights(model, path)
    return path


def test_load_weights_mismatch_at_the_last_weight_sets_none(tmp_path, backend):
    fnn.manual_seed(1)
    source = fnn.Sequential([Input((6,)), Dense(8), BatchNormalization(), Dense(4)], backend=backend)
    path = weights_file(tmp_path, source)
    target = fnn.Sequential([Input((6,)), Dense(8), BatchNormalization(), Dense(3)], backend=backend)
    before = target.get_weights()
    with pytest.raises(CheckpointError, match=r"checkpoint field 'weights.6'.*shape \(8, 3\).*shape \(8, 4\)"):
        io.load_weights(target, path)
    assert all(np.array_equal(a, b) for a, b in zip(before, target.get_weights()))
    with pytest.raises(CheckpointError, match="checkpoint field 'weights.6'"):
        target.load_weights(path)  # the Model method too
    assert all(np.array_equal(a, b) for a, b in zip(before, target.get_weights()))


def test_failed_load_into_an_unbuilt_model_leaves_it_unbuilt(tmp_path, backend):
    fnn.manual_seed(2)
    wrong = fnn.Sequential([Input((7,)), Dense(8), BatchNormalization(), Dropout(0.25), Dense(4)], backend=backend)
    right = mlp(backend)
    target = mlp(backend, lazy=True)
    state = fnn.get_rng_state()
    with pytest.raises(CheckpointError, match="checkpoint field 'weights.6'"):  # built for 7 features, then refused
        io.load_weights(target, weights_file(tmp_path, wrong, "wrong.safetensors"))
    assert not target.built and target.get_weights() == [] and fnn.get_rng_state() == state
    assert all(not layer.built for layer in target.layers)
    # not left built for 7 features: the right file still loads
    io.load_weights(target, weights_file(tmp_path, right, "right.safetensors"))
    assert all(np.array_equal(a, b) for a, b in zip(right.get_weights(), target.get_weights()))
    assert target.weights[0].shape == (6, 8)


def test_load_weights_of_a_model_that_cannot_be_built_from_the_file(tmp_path, backend):
    from fastnn.layers import Conv2D

    fnn.manual_seed(3)
    path = weights_file(tmp_path, mlp(backend))
    target = fnn.Sequential([Conv2D(2, 3), Dense(3)], backend=backend)  # Conv2D does not take (2, 6) batches
    with pytest.raises(CheckpointError, match="checkpoint field 'build.input_shape'"):
        io.load_weights(target, path)
    assert not target.built and target.get_weights() == []


def test_load_weights_from_a_float64_file_casts(tmp_path, backend):
    """Documented: values are cast to the model's dtypes (a weights file carries no architecture)."""
    fnn.manual_seed(4)
    source = fnn.Sequential([Dense(3)], backend=backend)
    source(fnn.tensor(np.zeros((1, 6)), backend=backend))  # float64 weights
    target = fnn.Sequential([Input((6,)), Dense(3)], backend=backend)
    io.load_weights(target, weights_file(tmp_path, source))
    assert target.weights[0].dtype == np.float32
    assert np.array_equal(target.get_weights()[0], source.get_weights()[0].astype(np.float32))


# --------------------------------------------------------------------------------------
# load_model's arguments

class Scale(Layer):
    def build(self, input_shape):
        self.scale = self.add_weight("scale", input_shape, initializer="ones")

    def call(self, x):
        return x * self.scale


@pytest.fixture
def scale_file(tmp_path):
    fnn.manual_seed(6)
    path = tmp_path / "scale.fnn"
    io.save_model(fnn.Sequential([Input((6,)), Scale(), Dense(2)], backend="numpy"), path)
    return path


@pytest.mark.parametrize("custom_objects", [[("Scale", Scale)], "Scale", Scale, 3],
                         ids=["list of pairs", "string", "class", "int"])
def test_custom_objects_not_a_dict(scale_file, custom_objects):
    state = fnn.get_rng_state()
    with pytest.raises(TypeError, match=r"load_model: custom_objects must be a dict .*got"):
        io.load_model(scale_file, custom_objects=custom_objects)
    with pytest.raises(TypeError, match="custom_objects must be a dict"):
        fnn.load_model(scale_file, custom_objects=custom_objects)
    assert fnn.get_rng_state() == state


def test_custom_objects_with_names_that_are_not_strings(scale_file):
    with pytest.raises(TypeError, match="custom_objects must be a dict .* with string names, got the key"):
        io.load_model(scale_file, custom_objects={Scale: Scale})


def test_custom_objects_naming_a_layer_with_something_else(scale_file):
    with pytest.raises(TypeError, match=r"custom_objects\['Scale'\] must be a fastnn Layer or Model class"):
        io.load_model(scale_file, custom_objects={"Scale": lambda x: x})
    loaded = io.load_model(scale_file, custom_objects={"Scale": Scale})  # a mapping of the right kind works
    assert type(loaded.layers[0]) is Scale


def test_compile_must_be_a_bool(scale_file):
    with pytest.raises(TypeError, match="load_model: compile must be True or False, got 'no'"):
        io.load_model(scale_file, custom_objects={"Scale": Scale}, compile="no")
