"""Bad inputs to compile / fit / evaluate / predict / the batch methods: each one is a
TypeError (a wrong kind) or a ValueError (a value out of range, a wrong shape) whose
message names the argument and what was given, raised before anything changes. After the
error the weights, the optimizer and its state, the random state, ``model.epoch`` and
the compiled loss and metrics are as they were, and no callback has been called.

Every case runs on the numpy and the cpu backends. The messages of the checks added with
these tests are also quoted, word for word, in the table of docs/training.md."""

import math
import pathlib

import numpy as np
import pytest

import fastnn as fnn
from backend_params import require
from fastnn.layers import BatchNormalization, Dense, Embedding, Flatten, Input

pytestmark = pytest.mark.usefixtures("rng_restored")

BACKENDS = ["numpy", "cpu"]
DOC = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "training.md").read_text()
N = 20


class Recorder(fnn.callbacks.Callback):
    """Records every hook that is called."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __getattribute__(self, name):
        if name.startswith("on_"):
            self.calls.append(name)
        return super().__getattribute__(name)


def data(n=N, features=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, features)).astype(np.float32), rng.integers(0, 4, n)


def dense_model(backend, loss="sparse_categorical_crossentropy", outputs=4, metrics=("accuracy",)):
    fnn.manual_seed(0)
    model = fnn.Sequential([Input((6,)), Dense(8, activation="relu"), Dense(outputs)], backend=backend)
    model.compile("adam", loss, list(metrics))
    return model


def ids_model(backend):
    fnn.manual_seed(0)
    model = fnn.Sequential([Embedding(10, 4, name="embedding"), Flatten(), Dense(2)], backend=backend)
    model.compile("adam", "sparse_categorical_crossentropy")
    model(np.zeros((2, 5), np.int64))  # built: its weights exist before the bad fit
    return model


def ids(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 10, (n, 5)), rng.integers(0, 2, n)


def bn_model(backend):
    fnn.manual_seed(0)
    model = fnn.Sequential([Input((6,)), Dense(8), BatchNormalization(name="batch_normalization"), Dense(4)],
                           backend=backend)
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


class TwoTables(fnn.Model):
    """A model of our own: column 0 of x are user ids (10), column 1 item ids (7)."""

    def __init__(self, backend):
        super().__init__(backend=backend)
        self.users = Embedding(10, 3)
        self.items = Embedding(7, 3)
        self.out = Dense(2)

    def call(self, x, training=None):
        return self.out(self.users(x[:, 0]) * self.items(x[:, 1]))


def snapshot(model):
    return dict(weights=[w.copy() for w in model.get_weights()],
                state=repr(model.optimizer.state) if model.optimizer is not None else None,
                rng=fnn.get_rng_state(), epoch=model.epoch, history=model.history,
                compiled=(model.optimizer, model.loss, list(model.metrics)))


def assert_unchanged(model, before):
    after = snapshot(model)
    assert len(after["weights"]) == len(before["weights"])
    assert all(np.array_equal(a, b) for a, b in zip(before["weights"], after["weights"]))
    assert after["state"] == before["state"]
    assert after["rng"] == before["rng"]   # not even a shuffle was drawn
    assert after["epoch"] == before["epoch"] and after["history"] is before["history"]
    assert after["compiled"][0] is before["compiled"][0] and after["compiled"][1] is before["compiled"][1]
    assert after["compiled"][2] == before["compiled"][2]


def rejects(model, call, error, match):
    """``call(model, recorder)`` raises ``error`` matching ``match``, changes nothing and calls no callback."""
    recorder = Recorder()
    before = snapshot(model)
    with pytest.raises(error, match=match) as info:
        call(model, recorder)
    assert type(info.value) is error
    assert recorder.calls == [], recorder.calls
    assert_unchanged(model, before)
    return str(info.value)


def fit(**kwargs):
    """fit on the default data with ``kwargs`` (x, y replaceable), the recorder as callback."""
    def call(model, recorder):
        x, y = data()
        arguments = dict(x=x, y=y, epochs=1, verbose=0, callbacks=[recorder])
        arguments.update(kwargs)
        return model.fit(**arguments)
    return call


def late(array, index, value):
    array = array.copy()
    array[index] = value
    return array


X, Y = data()
XV, YV = data(8, seed=1)

# (id, model maker, call, error, pattern): the pattern names the argument and the value given.
CASES = [
    # -- compile -------------------------------------------------------------------------
    ("compile-optimizer-kind", dense_model, lambda m, r: m.compile(1, "mse"), TypeError,
     r"compile: optimizer must be a name .* got 1 \(int\)"),
    ("compile-optimizer-name", dense_model, lambda m, r: m.compile("adm", "mse"), ValueError,
     r"compile: .*optimizer.*'adm'"),
    ("compile-optimizer-config", dense_model,
     lambda m, r: m.compile({"class_name": "Adam", "config": {"lr": -1.0}}, "mse"), ValueError,
     r"compile: .*lr.*-1"),
    ("compile-loss-kind", dense_model, lambda m, r: m.compile("adam", 1), TypeError,
     r"compile: loss must be .* got int"),
    ("compile-loss-name", dense_model, lambda m, r: m.compile("adam", "cross_entropy"), ValueError,
     r"compile: .*loss.*'cross_entropy'"),
    ("compile-metrics-kind", dense_model, lambda m, r: m.compile("adam", "mse", 1), TypeError,
     r"compile: metrics must be a list .* got int"),
    ("compile-metric-kind", dense_model, lambda m, r: m.compile("adam", "mse", [1]), TypeError,
     r"compile: .*metric must be .* got int"),
    ("compile-metric-name", dense_model, lambda m, r: m.compile("adam", "mse", ["precision"]), ValueError,
     r"compile: .*metric.*'precision'"),
    ("compile-metric-duplicate", dense_model, lambda m, r: m.compile("adam", "mse", ["mae", "mae"]), ValueError,
     r"compile: metric names must be unique .* mae clash"),
    # -- fit: arguments -----------------------------------------------------------------------
    ("fit-epochs-negative", dense_model, fit(epochs=-1), ValueError, r"fit: epochs must be an int >= 0, got -1"),
    ("fit-epochs-float", dense_model, fit(epochs=2.0), TypeError, r"fit: epochs must be an int, got 2.0"),
    ("fit-batch-size-zero", dense_model, fit(batch_size=0), ValueError,
     r"fit: batch_size must be an int >= 1, got 0"),
    ("fit-batch-size-float", dense_model, fit(batch_size=2.5), TypeError, r"fit: batch_size must be an int, got 2.5"),
    ("fit-batch-size-bool", dense_model, fit(batch_size=True), TypeError, r"fit: batch_size must be an int, got True"),
    ("fit-verbose-range", dense_model, fit(verbose=3), ValueError, r"fit: verbose must be 0 .* got 3"),
    ("fit-verbose-float", dense_model, fit(verbose=1.5), TypeError, r"fit: verbose must be 0 .* got 1.5"),
    ("fit-verbose-name", dense_model, fit(verbose="loud"), ValueError, r"fit: verbose must be .*'auto', got 'loud'"),
    ("fit-shuffle-string", dense_model, fit(shuffle="yes"), TypeError,
     r"fit: shuffle must be True or False, got 'yes'"),
    ("fit-shuffle-none", dense_model, fit(shuffle=None), TypeError, r"fit: shuffle must be True or False, got None"),
    ("fit-validation-split-one", dense_model, fit(validation_split=1.0), ValueError,
     r"fit: validation_split must be a finite number in \[0, 1\), got 1.0"),
    ("fit-validation-split-string", dense_model, fit(validation_split="0.1"), TypeError,
     r"fit: validation_split must be a real number, got '0.1'"),
    ("fit-validation-split-nan", dense_model, fit(validation_split=math.nan), ValueError,
     r"fit: validation_split must be a finite number in \[0, 1\), got nan"),
    ("fit-validation-split-empty-side", dense_model, fit(validation_split=0.01), ValueError,
     r"fit: validation_split=0.01 of 20 samples leaves 20 to train on and 0 to validate"),
    ("fit-initial-epoch-negative", dense_model, fit(initial_epoch=-1), ValueError,
     r"fit: initial_epoch must be an int >= 0, got -1"),
    ("fit-initial-epoch-past-epochs", dense_model, fit(epochs=2, initial_epoch=3), ValueError,
     r"fit: initial_epoch must be at most epochs .* got initial_epoch=3 with epochs=2"),
    ("fit-callbacks-kind", dense_model, fit(callbacks=1), TypeError,
     r"fit: callbacks must be a list of fastnn.callbacks.Callback objects, got int"),
    ("fit-callbacks-item", dense_model, lambda m, r: m.fit(X, Y, verbose=0, callbacks=[r, print]), TypeError,
     r"fit: callbacks\[1\] must be a fastnn.callbacks.Callback, got builtin_function_or_method"),
    ("fit-validation-data-kind", dense_model, fit(validation_data=XV), TypeError,
     r"fit: validation_data must be a tuple \(x_val, y_val\) or a DataLoader, got ndarray"),
    ("fit-validation-data-length", dense_model, fit(validation_data=(XV, YV, np.ones(8))), ValueError,
     r"fit: validation_data must be a tuple .* got tuple of length 3 \(sample weights are not supported\)"),
    ("fit-validation-both", dense_model, fit(validation_data=(XV, YV), validation_split=0.5), ValueError,
     r"fit: give validation_split or validation_data, not both"),
    ("fit-loader-batch-size", dense_model, fit(x=fnn.DataLoader(X, Y, batch_size=4), y=None, batch_size=64),
     ValueError, r"fit: batch_size must be None \(or the DataLoader's own 4\) when x is a DataLoader.* got 64"),
    ("fit-loader-no-batches", dense_model,
     fit(x=fnn.DataLoader(X, Y, batch_size=32, drop_last=True), y=None), ValueError,
     r"fit: the DataLoader x yields no batches: 20 samples with batch_size=32 and drop_last=True"),
    ("fit-loader-and-y", dense_model, fit(x=fnn.DataLoader(X, Y)), ValueError,
     r"fit: y must be None when x is a DataLoader"),
    ("fit-loader-split", dense_model, fit(x=fnn.DataLoader(X, Y), y=None, validation_split=0.2), ValueError,
     r"fit: validation_split needs arrays"),
    ("fit-x-missing", dense_model, fit(x=None), ValueError, r"fit: x is missing"),
    ("fit-y-missing", dense_model, fit(y=None), ValueError, r"y is missing"),
    ("fit-class-weight", dense_model, fit(class_weight={0: 2.0}), TypeError, r"class_weight"),
    # -- fit: the data, all of it before the first step ------------------------------------------
    ("fit-x-strings", dense_model, fit(x=X.astype(str)), TypeError, r"x must hold numbers .* got dtype <U"),
    ("fit-x-objects", dense_model, fit(x=np.empty((N, 6), object)), TypeError, r"x must hold numbers .* dtype object"),
    ("fit-x-ragged", dense_model, fit(x=[[1.0, 2.0], [3.0]]), TypeError, r"x must be a numeric array"),
    ("fit-x-scalar", dense_model, fit(x=np.float32(1.0)), ValueError, r"x must have a sample axis"),
    ("fit-x-empty", dense_model, fit(x=X[:0], y=Y[:0]), ValueError, r"x is empty: expected at least one sample"),
    ("fit-lengths", dense_model, fit(y=Y[:-1]), ValueError, r"x and y must hold the same number of samples, got 20"),
    ("fit-x-nan-last-row", dense_model, fit(x=late(X, (19, 2), np.nan), batch_size=4), ValueError,
     r"x\[19, 2\] is nan: x must hold finite numbers"),
    ("fit-y-inf", lambda b: dense_model(b, "mse"), fit(y=late(np.zeros((N, 4), np.float32), (18, 1), np.inf)),
     ValueError, r"y\[18, 1\] is inf"),
    ("fit-x-feature-shape", dense_model, fit(x=X[:, :5]), ValueError,
     r"x has feature shape \(5,\) \(shape \(20, 5\)\), but the model takes feature shape \(6,\)"),
    ("fit-x-one-dimensional", dense_model, fit(x=X[:, 0]), ValueError, r"x has feature shape \(\) \(shape \(20,\)\)"),
    ("fit-y-uint64-wraps", dense_model, fit(y=np.full(N, 2**63 + 5, np.uint64)), ValueError,
     r"y\[0\] is 9223372036854775813: y must hold integers that int64 holds"),
    ("fit-label-late", dense_model, fit(y=late(Y, 19, 4), batch_size=4, shuffle=False), ValueError,
     r"y\[19\] is 4, out of range: the model outputs 4 classes, so labels must be in \[0, 3\]"),
    ("fit-label-negative", dense_model, fit(y=late(Y, 7, -1)), ValueError, r"y\[7\] is -1, out of range"),
    ("fit-label-fraction", dense_model, fit(y=late(Y.astype(float), 3, 1.5)), ValueError,
     r"y\[3\] is 1.5: sparse_categorical_crossentropy expects integer class labels"),
    ("fit-label-huge-float", dense_model, fit(y=late(Y.astype(float), 2, 1e30)), ValueError,
     r"y\[2\] is 1\.0\d*e\+30, out of range: .* int64"),
    ("fit-label-one-hot", dense_model, fit(y=np.eye(4)[Y]), ValueError, r"one-hot targets need loss='categorical"),
    ("fit-binary-target-late", lambda b: dense_model(b, "binary_crossentropy", 1),
     fit(y=late(np.zeros(N), 19, 1.5), batch_size=4), ValueError,
     r"y\[19\] is 1.5: binary_crossentropy expects targets in \[0, 1\]"),
    ("fit-binary-target-negative", lambda b: dense_model(b, "binary_crossentropy", 1),
     fit(y=late(np.zeros((N, 1)), (4, 0), -0.5)), ValueError, r"y\[4, 0\] is -0.5: binary_crossentropy"),
    ("fit-categorical-target", lambda b: dense_model(b, "categorical_crossentropy"),
     fit(y=late(np.eye(4)[Y], (9, 1), 2.0)), ValueError, r"y\[9, 1\] is 2.0: categorical_crossentropy"),
    ("fit-validation-label-late", dense_model, fit(validation_data=(XV, late(YV, 7, 9))), ValueError,
     r"validation_data\[1\]\[7\] is 9, out of range"),
    ("fit-validation-x-nan", dense_model, fit(validation_data=(late(XV, (2, 1), np.nan), YV)), ValueError,
     r"validation_data\[0\]\[2, 1\] is nan"),
    ("fit-loader-label-late", dense_model, fit(x=fnn.DataLoader(X, late(Y, 17, 5), batch_size=4), y=None),
     ValueError, r"DataLoader.y\[17\] is 5, out of range"),
    # -- compiled metrics against the targets: tried before the first step ------------------------------
    ("fit-metric-one-hot", lambda b: dense_model(b, "categorical_crossentropy", metrics=["sparse_categorical_accuracy"]),
     fit(y=np.eye(4)[Y]), ValueError,
     r"y \(shape \(20, 4\)\) does not suit the metric 'sparse_categorical_accuracy' given to compile, for outputs "
     r"of shape \(None, 4\)"),
    ("fit-metric-labels", lambda b: dense_model(b, metrics=["mae"]), fit(), ValueError,
     r"y \(shape \(20,\)\) does not suit the metric 'mae' given to compile"),
    ("train-on-batch-metric", lambda b: dense_model(b, metrics=["categorical_accuracy"]),
     lambda m, r: m.train_on_batch(X, Y), ValueError, r"does not suit the metric 'categorical_accuracy'"),
    # -- Embedding ids: all of x checked before the first step -------------------------------------
    ("fit-ids-late", ids_model, lambda m, r: m.fit(late(ids()[0], (60, 2), 10), ids()[1], batch_size=8,
                                                    shuffle=False, verbose=0, callbacks=[r]), ValueError,
     r"x\[60, 2\] is 10, out of range: the model's first layer, Embedding 'embedding', takes ids in \[0, 9\]"),
    ("fit-ids-negative", ids_model, lambda m, r: m.fit(late(ids()[0], (33, 0), -1), ids()[1], batch_size=8,
                                                        verbose=0, callbacks=[r]), ValueError,
     r"x\[33, 0\] is -1, out of range: the model's first layer"),
    ("fit-ids-float", ids_model, lambda m, r: m.fit(ids()[0].astype(np.float32), ids()[1], verbose=0, callbacks=[r]),
     TypeError, r"x must hold integer ids for the model's first layer, Embedding 'embedding', got dtype float32"),
    ("fit-ids-validation", ids_model,
     lambda m, r: m.fit(*ids(), validation_data=(late(ids(16, 1)[0], (15, 4), 12), ids(16, 1)[1]), verbose=0,
                        callbacks=[r]), ValueError, r"validation_data\[0\]\[15, 4\] is 12, out of range"),
    ("fit-ids-validation-split", ids_model,
     lambda m, r: m.fit(late(ids()[0], (63, 1), 11), ids()[1], validation_split=0.25, verbose=0, callbacks=[r]),
     ValueError, r"x\[63, 1\] is 11, out of range"),
    ("fit-ids-loader", ids_model,
     lambda m, r: m.fit(fnn.DataLoader(late(ids()[0], (40, 3), 10), ids()[1], batch_size=8), verbose=0,
                        callbacks=[r]), ValueError, r"DataLoader.x\[40, 3\] is 10, out of range"),
    ("fit-ids-own-model", lambda b: _two_tables(b),
     lambda m, r: m.fit(late(np.zeros((32, 2), np.int64), (30, 1), 12), np.zeros(32, np.int64), batch_size=4,
                        verbose=0, callbacks=[r]), ValueError,
     r"x\[30, 1\] is 12, out of range: the model's Embedding layers take ids in \[0, 9\] \(the largest input_dim"),
    # -- batch normalisation: no training batch with one value per channel --------------------------
    ("fit-batchnorm-last-batch", bn_model,
     lambda m, r: m.fit(*data(33), batch_size=32, verbose=0, callbacks=[r]), ValueError,
     r"fit: batch_size=32 with 33 training samples: the last batch has 1 sample, but BatchNormalization"),
    ("fit-batchnorm-batch-of-one", bn_model, fit(batch_size=1), ValueError,
     r"fit: batch_size=1 with 20 training samples: every batch has 1 sample"),
    # -- evaluate / predict / the batch methods ------------------------------------------------------
    ("evaluate-batch-size", dense_model, lambda m, r: m.evaluate(X, Y, batch_size=0), ValueError,
     r"evaluate: batch_size must be an int >= 1, got 0"),
    ("evaluate-return-dict", dense_model, lambda m, r: m.evaluate(X, Y, return_dict="yes"), TypeError,
     r"evaluate: return_dict must be True or False, got 'yes'"),
    ("evaluate-verbose", dense_model, lambda m, r: m.evaluate(X, Y, verbose=7), ValueError,
     r"evaluate: verbose must be .* got 7"),
    ("evaluate-label", dense_model, lambda m, r: m.evaluate(X, late(Y, 12, 8)), ValueError,
     r"y\[12\] is 8, out of range"),
    ("evaluate-loader-no-batches", dense_model,
     lambda m, r: m.evaluate(fnn.DataLoader(X, Y, batch_size=64, drop_last=True)), ValueError,
     r"evaluate: the DataLoader x yields no batches"),
    ("evaluate-ids", ids_model, lambda m, r: m.evaluate(late(ids()[0], (5, 0), 10), ids()[1]), ValueError,
     r"x\[5, 0\] is 10, out of range"),
    ("predict-x-missing", dense_model, lambda m, r: m.predict(None), ValueError, r"predict: x is missing"),
    ("predict-batch-size", dense_model, lambda m, r: m.predict(X, batch_size=1.5), TypeError,
     r"predict: batch_size must be an int, got 1.5"),
    ("predict-loader-batch-size", dense_model, lambda m, r: m.predict(fnn.DataLoader(X), batch_size=8), ValueError,
     r"predict: batch_size must be None \(or the DataLoader's own 32\)"),
    ("predict-ids", ids_model, lambda m, r: m.predict(late(ids()[0], (50, 4), 99), batch_size=8), ValueError,
     r"x\[50, 4\] is 99, out of range"),
    ("predict-on-batch-missing", dense_model, lambda m, r: m.predict_on_batch(None), ValueError,
     r"predict_on_batch: x is missing"),
    ("train-on-batch-return-dict", dense_model, lambda m, r: m.train_on_batch(X, Y, return_dict=1), TypeError,
     r"train_on_batch: return_dict must be True or False, got 1"),
    ("train-on-batch-label", dense_model, lambda m, r: m.train_on_batch(X, late(Y, 5, 4)), ValueError,
     r"y\[5\] is 4, out of range"),
    ("train-on-batch-ids", ids_model, lambda m, r: m.train_on_batch(late(ids()[0], (1, 1), 10), ids()[1]),
     ValueError, r"x\[1, 1\] is 10, out of range"),
    ("test-on-batch-return-dict", dense_model, lambda m, r: m.test_on_batch(X, Y, return_dict=None), TypeError,
     r"test_on_batch: return_dict must be True or False, got None"),
]


def _two_tables(backend):
    model = TwoTables(backend)
    model.compile("adam", "sparse_categorical_crossentropy")
    model(np.zeros((2, 2), np.int64))
    return model


def test_there_are_at_least_thirty_distinct_cases():
    assert len({case[0] for case in CASES}) == len(CASES) >= 30


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, make, call, error, match", CASES, ids=[case[0] for case in CASES])
def test_bad_input_is_rejected_before_anything_changes(backend, name, make, call, error, match):
    require(backend)
    rejects(make(backend), call, error, match)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_late_bad_id_used_to_train_the_earlier_batches(backend):
    """The issue's case: an id out of range in the last batch. Before the check fit trained
    seven batches and then failed; now the same data fails before the first, and the good
    data trains as before."""
    require(backend)
    model = ids_model(backend)
    x, y = ids()
    recorder = Recorder()
    before = snapshot(model)
    with pytest.raises(ValueError, match=r"x\[60, 2\] is 10"):
        model.fit(late(x, (60, 2), 10), y, batch_size=8, shuffle=False, verbose=0, callbacks=[recorder])
    assert recorder.calls == []
    assert_unchanged(model, before)
    model.fit(x, y, batch_size=8, verbose=0, callbacks=[recorder])
    assert "on_train_begin" in recorder.calls and model.epoch == 1
    assert not all(np.array_equal(a, b) for a, b in zip(before["weights"], model.get_weights()))


def test_good_arguments_still_work():
    """The forms the checks accept: None batch sizes, a DataLoader with its own batch size,
    verbose as a bool or "auto", NumPy ints and bools, initial_epoch == epochs (nothing to do)."""
    model = dense_model("numpy")
    history = model.fit(X, Y, batch_size=np.int64(5), epochs=np.int32(1), verbose=False, shuffle=np.bool_(False))
    assert model.epoch == 1 and len(history.epoch) == 1
    model.fit(fnn.DataLoader(X, Y, batch_size=4), batch_size=4, verbose=0)
    history = model.fit(X, Y, epochs=2, initial_epoch=2, verbose=0)
    assert model.epoch == 1 and history.epoch == []
    assert isinstance(model.evaluate(X, Y, batch_size=None, verbose="auto", return_dict=True), dict)
    assert model.predict(X, batch_size=None).shape == (N, 4)
    assert model.predict_on_batch(X[:3]).shape == (3, 4)
    bn = bn_model("numpy")
    bn.fit(*data(33), batch_size=32, verbose=0, validation_split=0.05)   # the split takes the odd sample
    bn.fit(fnn.DataLoader(*data(33), batch_size=32, drop_last=True), verbose=0)


def test_compile_with_a_bad_argument_keeps_the_model_compiled_as_it_was():
    model = dense_model("numpy")
    optimizer, loss, metrics = model.optimizer, model.loss, list(model.metrics)
    for bad in [dict(optimizer="sgd", loss="mse", metrics=["precision"]), dict(optimizer="sgd", loss="nope"),
                dict(optimizer=3, loss="mse")]:
        with pytest.raises((TypeError, ValueError)):
            model.compile(**bad)
        assert model.optimizer is optimizer and model.loss is loss and model.metrics == metrics
    model.fit(X, Y, verbose=0)   # and it still trains


def test_the_new_messages_are_quoted_in_the_guide():
    """The rows of docs/training.md's table added with these checks quote real messages."""
    messages = []
    x, y = ids()
    model = ids_model("numpy")
    for bad_x in (late(x, (60, 2), 10), x.astype(np.float32)):
        with pytest.raises((TypeError, ValueError)) as info:
            model.fit(bad_x, y, verbose=0)
        messages.append(str(info.value))
    with pytest.raises(ValueError) as info:
        _two_tables("numpy").fit(late(np.zeros((8, 2), np.int64), (3, 1), 12), np.zeros(8, np.int64), verbose=0)
    messages.append(str(info.value))
    with pytest.raises(ValueError) as info:
        bn_model("numpy").fit(*data(33), batch_size=32, verbose=0)
    messages.append(str(info.value))
    with pytest.raises(ValueError) as info:
        dense_model("numpy", metrics=["mae"]).fit(X, Y, verbose=0)
    messages.append(str(info.value))
    for kwargs in (dict(x=fnn.DataLoader(X, Y, batch_size=32, drop_last=True)), dict(x=X, y=Y, batch_size=0),
                   dict(x=X, y=Y, validation_split=1.0), dict(x=X, y=Y, shuffle="yes"),
                   dict(x=X, y=np.full(N, 2**63 + 5, np.uint64))):
        with pytest.raises((TypeError, ValueError)) as info:
            dense_model("numpy").fit(verbose=0, **kwargs)
        messages.append(str(info.value))
    for message in messages:
        assert f"`{message}`" in DOC, message
