"""Fuzzing checkpoint files: whatever happens to a file, loading it either raises a
CheckpointError (leaving fastnn's random state and the target model as they were) or
gives exactly what the file holds; never another exception, a crash or a hang.

Two families of damage, on a compiled, trained, lazily built model:

- bytes: random flips, truncations, insertions and deletions anywhere in the file (the
  length prefix and the JSON header favoured, where the structure lives). The checksum
  is not recomputed, so a file that loads must give exactly the saved model;
- metadata: the JSON of one field edited (a key or item deleted, a value replaced by one
  of another type, a number changed, a list duplicated or shortened), or one tensor
  dropped, reshaped or recast; the checksum recomputed (what a buggy or hostile writer
  produces) or not. A re-signed file that loads must give what it holds (weights,
  optimizer state, epoch, random state); a file that is not re-signed, the saved model.

Hypothesis runs derandomized (the same examples on every run, for CI).
"""

import copy
import json

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import fastnn as fnn
from backend_params import require
from fastnn import io
from fastnn.io import CheckpointError
from fastnn.layers import BatchNormalization, Dense, Dropout

HOST = ["numpy", "cpu"]
JSON_FIELDS = ("weights", "build", "architecture", "optimizer", "compile", "rng_state")
OPTIMIZER = "optimizer/"  # the tensor keys of optimizer buffers (fastnn.io docstring)

RNG = np.random.default_rng(9)
X = RNG.standard_normal((16, 6)).astype(np.float32)
Y = RNG.integers(0, 3, 16)

# function-scoped fixtures run once per test, not per example: each example restores the
# random state it changes itself, and writes its own file over the last one
FUZZ = settings(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])
pytestmark = pytest.mark.usefixtures("rng_restored")


def lazy_mlp(backend):
    return fnn.Sequential([Dense(8, activation="relu"), BatchNormalization(), Dropout(0.25), Dense(3)],
                          backend=backend)


class Saved:
    """A compiled model trained one epoch (so every metadata field is there, a build shape
    too), its file's bytes, and its metadata with the JSON fields decoded."""

    def __init__(self, folder, backend):
        require(backend)
        self.backend = backend
        fnn.manual_seed(17)
        model = lazy_mlp(backend)
        model.compile(optimizer=fnn.optim.Adam(lr=1e-2), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
        self.model, self.path = model, folder / f"{backend}.fnn"
        io.save_model(model, self.path)
        self.data = self.path.read_bytes()
        metadata, self.tensors = io.read_checkpoint(self.path)
        self.doc = decode(metadata)
        self.header_end = 8 + int.from_bytes(self.data[:8], "little")
        self.work = folder / f"{backend}-fuzz.fnn"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder, state = tmp_path_factory.mktemp("fuzz"), fnn.get_rng_state()
    made = {backend: Saved(folder, backend) for backend in HOST}
    fnn.set_rng_state(state)
    return made


@pytest.fixture(params=HOST)
def backend(request):
    require(request.param)
    return request.param


# --------------------------------------------------------------------------------------
# the metadata as a tree of JSON values

def decode(metadata):
    return {key: (json.loads(value) if key in JSON_FIELDS else value) for key, value in metadata.items()}


def encode(doc):
    return {key: (value if key not in JSON_FIELDS or isinstance(value, Raw) else json.dumps(value))
            for key, value in doc.items()}


class Raw(str):
    """Text put in a JSON field as it is (not JSON)."""


def node_paths(node, prefix=()):
    """The path (keys and indices) of every value in the tree."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield prefix + (key,)
        yield from node_paths(value, prefix + (key,))


def at(node, path):
    for key in path:
        node = node[key]
    return node


OTHER_VALUES = [None, True, False, 0, -1, 7, 1.5, float("nan"), float("inf"), "", "x", "7", [], [1, 2], {},
                {"a": 1}]


def other_type(value):
    """Values of a JSON type other than ``value``'s."""
    kind = type(value) if not isinstance(value, bool) else bool
    return [v for v in OTHER_VALUES if (type(v) if not isinstance(v, bool) else bool) is not kind
            and not (isinstance(v, (int, float)) and not isinstance(v, bool)
                     and isinstance(value, (int, float)) and not isinstance(value, bool))]


def new_numbers(value):
    numbers = [value + 1, value - 1, -value, 0, 2 * value, value + 0.5, 2**64, 10**30, 1e308]
    return [n for n in numbers if n != value or type(n) is not type(value)]


class Edit:
    """An edited metadata doc and tensors; shown by what was done (hypothesis prints it)."""

    def __init__(self, doc, tensors, what):
        self.doc, self.tensors, self.what = doc, tensors, what

    def __repr__(self):
        return self.what


@st.composite
def metadata_edit(draw, saved):
    return Edit(*draw(_metadata_edit(saved)))


@st.composite
def _metadata_edit(draw, saved):
    """(edited metadata doc, edited tensors, description): one edit, sometimes two or three."""
    doc, tensors, done = copy.deepcopy(saved.doc), dict(saved.tensors), []
    for _ in range(draw(st.sampled_from([1, 1, 1, 1, 2, 3]))):
        paths = list(node_paths(doc))
        if not paths or draw(st.integers(0, 9)) == 0:
            done.append(_edit_a_tensor(draw, tensors))
        else:
            done.append(_edit_a_value(draw, doc, draw(st.sampled_from(paths))))
    return doc, tensors, "; ".join(done)


def _edit_a_tensor(draw, tensors):
    """One tensor dropped, reshaped or recast."""
    key = draw(st.sampled_from(sorted(tensors)))
    how = draw(st.sampled_from(["drop", "flatten", "grow", "float64", "int32"]))
    array = tensors.pop(key)
    if how == "flatten":
        tensors[key] = array.reshape(-1)[:, None]
    elif how == "grow":
        tensors[key] = np.concatenate([array.reshape(-1), array.reshape(-1)[:1]])
    elif how in ("float64", "int32"):
        tensors[key] = array.astype(how)
    return f"tensor {key!r}: {how}"


def _edit_a_value(draw, doc, path):
    parent, key = at(doc, path[:-1]), path[-1]
    value = parent[key]
    if len(path) == 1 and key not in JSON_FIELDS:  # a plain metadata string ("epoch", "format", ...)
        choices = ["delete", "", "x", "-1", "1.5", "00", value + "0", " " + value, "fastnn.weights"]
        if value.isdigit():
            choices += [str(int(value) + 1), str(int(value) - 1), str(2**64)]
        choice = draw(st.sampled_from(choices))
        if choice == "delete":
            del doc[key]
        else:
            doc[key] = choice
        return f"{key} = {choice!r}"
    ops = ["delete", "retype"]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        ops.append("renumber")
    if isinstance(value, list) and value:
        ops += ["duplicate", "shorten"]
    if len(path) == 1:
        ops.append("not json")
    op = draw(st.sampled_from(ops))
    if op == "delete":
        del parent[key]
    elif op == "retype":
        parent[key] = draw(st.sampled_from(other_type(value)))
    elif op == "renumber":
        parent[key] = draw(st.sampled_from(new_numbers(value)))
    elif op == "duplicate":
        if draw(st.booleans()):
            parent[key] = value + copy.deepcopy(value)
        else:
            i = draw(st.integers(0, len(value) - 1))
            parent[key] = value[:i + 1] + [copy.deepcopy(value[i])] + value[i + 1:]
    elif op == "shorten":
        parent[key] = value[:draw(st.integers(0, len(value) - 1))]
    else:
        parent[key] = Raw(json.dumps(value)[:-1])
    return f"{op} {'.'.join(map(str, path))}"


def write(path, doc, tensors, resign):
    """The file of ``doc`` and ``tensors``: with the checksum of its content (``resign``),
    or with the one ``doc`` carries (the saved file's, unless the edit removed it)."""
    metadata = encode(doc)
    if resign:
        metadata.pop("sha256", None)
        metadata["sha256"] = io.content_sha256(metadata, tensors)
    path.write_bytes(safetensors.numpy.save(tensors, metadata=metadata))


@st.composite
def byte_edit(draw, saved):
    data, n = saved.data, len(saved.data)
    position = st.one_of(st.integers(0, 15), st.integers(0, saved.header_end), st.integers(0, n - 1))
    how = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
    if how == "flip":
        out = bytearray(data)
        flips = draw(st.lists(st.tuples(position, st.integers(1, 255)), min_size=1, max_size=3))
        for where, mask in flips:
            out[where] ^= mask
        return Damage(bytes(out), f"flip {flips}")
    if how == "truncate":
        size = draw(st.integers(0, n - 1))
        return Damage(data[:size], f"truncate to {size} of {n} bytes")
    where = draw(position)
    if how == "insert":
        extra = draw(st.binary(min_size=1, max_size=12))
        return Damage(data[:where] + extra + data[where:], f"insert {extra!r} at {where}")
    size = draw(st.integers(1, 64))
    return Damage(data[:where] + data[where + size:], f"delete {size} bytes at {where}")


class Damage:
    def __init__(self, data, what):
        self.data, self.what = data, what

    def __repr__(self):
        return self.what


# --------------------------------------------------------------------------------------
# the oracle

def canonical(value):
    """Comparable text of hyperparameters: tuples as lists, every number a float (an
    optimizer may keep lr=0 as 0.0), NaN spelled NaN (so equal to itself)."""
    def numbers_as_floats(v):
        if isinstance(v, dict):
            return {k: numbers_as_floats(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [numbers_as_floats(x) for x in v]
        return float(v) if isinstance(v, (int, float, np.number)) and not isinstance(v, bool) else v

    return json.dumps(numbers_as_floats(value), sort_keys=True)


def assert_holds_the_file(model, path):
    """The loaded model is what the file holds: weights, optimizer state, epoch, random state."""
    metadata, tensors = io.read_checkpoint(path)
    doc = decode(metadata)
    weights = model.get_weights()
    assert len(weights) == len(doc["weights"])
    for entry, weight in zip(doc["weights"], weights):
        saved = tensors[entry["key"]]
        assert weight.dtype == saved.dtype and np.array_equal(weight, saved), entry
    assert model.epoch == int(metadata["epoch"])
    assert fnn.get_rng_state() == doc["rng_state"]
    meta = doc.get("optimizer")
    if meta is None or not meta["param_groups"]:
        return
    optimizer = model.optimizer
    assert [id(p) for p in optimizer.parameters()] == [id(model.weights[w]) for w in meta["param_weights"]]
    state = optimizer.state_dict()
    assert canonical(state["param_groups"]) == canonical(meta["param_groups"])
    expected = {int(i): dict(entry) for i, entry in meta["state"].items()}
    for key, array in tensors.items():
        if key.startswith(OPTIMIZER):
            index, buffer = key[len(OPTIMIZER):].split("/", 1)
            expected[int(index)][buffer] = array
    assert sorted(state["state"]) == sorted(expected)
    for i, entries in expected.items():
        assert sorted(state["state"][i]) == sorted(entries)
        for name, value in entries.items():
            assert np.array_equal(state["state"][i][name], value), (i, name)


def assert_is_the_saved_model(model, saved):
    for a, b in zip(saved.model.get_weights(), model.get_weights(), strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert model.epoch == saved.model.epoch
    a, b = saved.model.optimizer.state_dict(), model.optimizer.state_dict()
    assert canonical(a["param_groups"]) == canonical(b["param_groups"])
    assert sorted(a["state"]) == sorted(b["state"])
    for i in a["state"]:
        assert sorted(a["state"][i]) == sorted(b["state"][i])
        for name, value in a["state"][i].items():
            assert np.array_equal(value, b["state"][i][name])


def load_everything(saved, expect_saved):
    """load_model and load_weights of ``saved.work``: a CheckpointError that changed
    nothing, or exactly the file's content (and, with ``expect_saved``, the saved model)."""
    fnn.manual_seed(123)
    before = fnn.get_rng_state()
    try:
        model = io.load_model(saved.work, backend=saved.backend)
    except CheckpointError:
        assert fnn.get_rng_state() == before
        model = None
    if model is not None:
        assert_holds_the_file(model, saved.work)
        if expect_saved:
            assert_is_the_saved_model(model, saved)

    fnn.manual_seed(321)
    before, target = fnn.get_rng_state(), lazy_mlp(saved.backend)
    try:
        io.load_weights(target, saved.work)
    except CheckpointError:
        assert not target.built and target.get_weights() == []
    else:
        metadata, tensors = io.read_checkpoint(saved.work)
        for entry, weight in zip(decode(metadata)["weights"], target.get_weights(), strict=True):
            assert np.array_equal(weight, tensors[entry["key"]].astype(weight.dtype))
    assert fnn.get_rng_state() == before
    return model is not None


# --------------------------------------------------------------------------------------
# the tests

def test_the_unchanged_file_loads(saved, backend):
    case = saved[backend]
    case.work.write_bytes(case.data)
    assert load_everything(case, expect_saved=True)


@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_damaged_bytes_are_refused_or_harmless(saved, backend, data):
    case = saved[backend]
    damaged = data.draw(byte_edit(case), label="damage")
    case.work.write_bytes(damaged.data)
    event("loaded" if load_everything(case, expect_saved=True) else "refused")


@settings(FUZZ, max_examples=800)
@given(data=st.data())
def test_edited_metadata_is_refused_or_loads_as_written(saved, backend, data):
    case = saved[backend]
    edit = data.draw(metadata_edit(case), label="edit")
    resign = data.draw(st.sampled_from([True, True, True, False]), label="re-signed")  # else the checksum fails
    write(case.work, edit.doc, edit.tensors, resign)
    loaded = load_everything(case, expect_saved=not resign)
    event(f"{'re-signed' if resign else 'old checksum'}: {'loaded' if loaded else 'refused'}")


def test_the_fuzzer_reaches_both_outcomes(saved):
    """Sanity of the strategies: some edits load (a changed epoch, a renamed layer) and
    some are refused; so both branches of the oracle run."""
    case = saved["numpy"]
    doc = copy.deepcopy(case.doc)
    doc["epoch"] = "7"
    doc["architecture"]["layers"][2]["rate"] = 0.5
    write(case.work, doc, case.tensors, resign=True)
    assert load_everything(case, expect_saved=False)
    write(case.work, doc, case.tensors, resign=False)
    assert not load_everything(case, expect_saved=True)
