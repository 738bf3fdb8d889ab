"""Input validation before training: every error says what was expected and what was given,
and nothing is trained on bad data (weights, optimizer state and random state untouched)."""

import numpy as np
import pytest

import fastnn as fnn
from fastnn.layers import Dense, Embedding, Flatten, Input


pytestmark = pytest.mark.usefixtures("rng_restored")


def data(n=20, features=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, features)).astype(np.float32), rng.integers(0, 4, n)


def model_for(loss="sparse_categorical_crossentropy", outputs=4, activation=None, backend="numpy"):
    fnn.manual_seed(0)
    model = fnn.Sequential([Input((6,)), Dense(8, activation="relu"), Dense(outputs, activation=activation)],
                           backend=backend)
    model.compile("adam", loss, ["accuracy"])
    return model


def rejects(model, error, match, x, y, **kwargs):
    """fit raises ``error`` matching ``match`` and trains nothing."""
    weights = model.get_weights()
    rng = fnn.get_rng_state()
    with pytest.raises(error, match=match):
        model.fit(x, y, verbose=0, **kwargs)
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))
    assert model.optimizer.state == {}
    assert fnn.get_rng_state() == rng  # not even a shuffle was drawn
    assert model.epoch == 0


@pytest.mark.parametrize("backend", ["numpy", "cpu"])
def test_length_mismatch(backend):
    x, y = data()
    rejects(model_for(backend=backend), ValueError, r"same number of samples, got 20 in x \(shape \(20, 6\)\) and 19 in y",
            x, y[:19])


def test_wrong_feature_shape_for_a_built_model():
    x, _ = data(features=7)
    rejects(model_for(), ValueError, r"x has feature shape \(7,\) \(shape \(20, 7\)\), but the model takes feature "
                                     r"shape \(6,\)", x, np.zeros(20, np.int64))


def test_wrong_feature_shape_for_a_subclassed_model_names_both_shapes():
    class Net(fnn.Model):
        def __init__(self):
            super().__init__(backend="numpy")
            self.out = Dense(4)

        def call(self, x, training=None):
            return self.out(x)

    model = Net()
    model(np.zeros((2, 6), np.float32))
    model.compile("adam", "sparse_categorical_crossentropy")
    x, y = data(features=5)
    rejects(model, ValueError, r"x has feature shape \(5,\).*takes feature shape \(6,\)", x, y)


@pytest.mark.parametrize("bad, index", [(4, 3), (-1, 5)])
def test_sparse_labels_out_of_range(bad, index):
    x, y = data()
    y[index] = bad
    rejects(model_for(), ValueError, rf"y\[{index}\] is {bad}, out of range: the model outputs 4 classes, so labels "
                                     r"must be in \[0, 3\]", x, y)


def test_labels_out_of_range_for_an_unbuilt_model_are_found_before_training():
    x, y = data()
    y[2] = 9
    model = fnn.Sequential([Dense(8), Dense(4)], backend="numpy")
    model.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"y\[2\] is 9, out of range"):
        model.fit(x, y, verbose=0)
    assert model.optimizer.state == {} and model.epoch == 0


def test_float_sparse_labels_must_be_integral_and_are_accepted_when_they_are():
    x, y = data()
    rejects(model_for(), ValueError, r"y\[0\] is 0.5: sparse_categorical_crossentropy expects integer class labels",
            x, np.full(20, 0.5))
    a, b = model_for(), model_for()
    a.fit(x, y, epochs=1, shuffle=False, verbose=0)
    b.fit(x, y.astype(np.float64), epochs=1, shuffle=False, verbose=0)
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))
    b.fit(x, y[:, None], epochs=1, shuffle=False, verbose=0)  # a column of labels works too


def test_sparse_labels_of_the_wrong_shape():
    x, y = data()
    rejects(model_for(), ValueError, r"y has shape \(20, 4\), but the model's outputs have shape \(None, 4\).*"
                                     r"one-hot targets need loss='categorical_crossentropy'", x, np.eye(4)[y])


def test_categorical_targets_must_match_the_output():
    x, y = data()
    rejects(model_for("categorical_crossentropy"), ValueError,
            r"y has shape \(20,\), but the model's outputs have shape \(None, 4\).*sparse_categorical_crossentropy",
            x, y)
    onehot = np.eye(4)[y]
    onehot[7, 1] = 2.0
    rejects(model_for("categorical_crossentropy"), ValueError, r"y\[7, 1\] is 2.0: categorical_crossentropy expects "
                                                               r"targets in \[0, 1\]", x, onehot)


def test_binary_targets_must_be_in_unit_interval():
    x, _ = data()
    y = np.zeros(20)
    y[11] = 3
    rejects(model_for("binary_crossentropy", outputs=1, activation="sigmoid"), ValueError,
            r"y\[11\] is 3.0: binary_crossentropy expects targets in \[0, 1\]", x, y)
    rejects(model_for("binary_crossentropy", outputs=1), ValueError,
            r"y has shape \(20, 2\), but the model's outputs have shape \(None, 1\)", x, np.zeros((20, 2)))


def test_regression_targets_must_match_the_output():
    x, _ = data()
    rejects(model_for("mse", outputs=2), ValueError, r"y has shape \(20,\), but the model's outputs have shape "
                                                     r"\(None, 2\)", x, np.zeros(20))


@pytest.mark.parametrize("backend", ["numpy", "cpu"])
def test_non_finite_values_name_the_first_bad_element(backend):
    x, y = data()
    x[17, 3] = np.nan
    x[18, 0] = np.inf
    rejects(model_for(backend=backend), ValueError, r"x\[17, 3\] is nan: x must hold finite numbers", x, y)
    x, _ = data()
    t = np.zeros((20, 4), np.float32)
    t[5, 2] = -np.inf
    rejects(model_for("mse", backend=backend), ValueError, r"y\[5, 2\] is -inf", x, t)


def test_empty_input():
    rejects(model_for(), ValueError, r"x is empty: expected at least one sample, got shape \(0, 6\)",
            np.zeros((0, 6), np.float32), np.zeros(0, np.int64))


@pytest.mark.parametrize("x, match", [
    (np.array([["a"] * 6] * 20), r"x must hold numbers \(float, int or bool\), got dtype <U1"),
    (np.empty((20, 6), dtype=object), "got dtype object"),
    (np.zeros((20, 6), dtype=np.complex64), "complex numbers are not supported"),
])
def test_wrong_dtype_is_a_type_error(x, match):
    rejects(model_for(), TypeError, match, x, np.zeros(20, np.int64))


def test_string_labels_are_a_type_error():
    x, _ = data()
    rejects(model_for(), TypeError, r"y must hold numbers", x, np.array(["cat"] * 20))


def test_integer_features_are_converted_to_the_model_dtype():
    x, y = data()
    xi = np.round(x * 4).astype(np.int32)
    a, b = model_for(), model_for()
    a.fit(xi, y, epochs=1, shuffle=False, verbose=0)
    b.fit(xi.astype(np.float32), y, epochs=1, shuffle=False, verbose=0)
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))


def test_integer_ids_stay_integers_for_an_embedding_model():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 10, (30, 5))
    y = (ids[:, 0] > 4).astype(np.int64)
    model = fnn.Sequential([Embedding(10, 4), Flatten(), Dense(2)], backend="numpy")
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(ids, y, epochs=2, verbose=0)
    assert model.predict(ids).shape == (30, 2)


def test_bad_validation_data_and_dataloaders_are_caught_before_training():
    x, y = data()
    xv, yv = data(n=8, seed=1)
    xv[2, 1] = np.nan
    rejects(model_for(), ValueError, r"validation_data\[0\]\[2, 1\] is nan", x, y, validation_data=(xv, yv))
    xl, yl = data()
    yl[4] = 7
    model = model_for()
    with pytest.raises(ValueError, match=r"DataLoader.y\[4\] is 7, out of range"):
        model.fit(fnn.DataLoader(xl, yl), verbose=0)
    assert model.optimizer.state == {}
    with pytest.raises(ValueError, match=r"validation_data.y\[4\] is 7"):
        model.fit(x, y, validation_data=fnn.DataLoader(xl, yl), verbose=0)
    assert model.optimizer.state == {}


def test_evaluate_and_predict_validate_too():
    model = model_for()
    x, y = data()
    with pytest.raises(ValueError, match=r"y\[0\] is 5, out of range"):
        model.evaluate(x, np.full(20, 5))
    with pytest.raises(ValueError, match=r"x has feature shape \(3,\)"):
        model.predict(np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match="x is empty"):
        model.predict(np.zeros((0, 6), np.float32))
    with pytest.raises(TypeError, match="must hold numbers"):
        model.predict(np.array([["x"] * 6]))
    weights = model.get_weights()
    with pytest.raises(ValueError, match=r"x\[1, 1\] is nan"):
        bad = x[:4].copy()
        bad[1, 1] = np.nan
        model.train_on_batch(bad, y[:4])
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))


def test_validation_split_must_leave_samples_on_both_sides():
    x, y = data(n=3)
    rejects(model_for(), ValueError, r"validation_split=0.2 of 3 samples leaves 3 to train on and 0 to validate",
            x, y, validation_split=0.2)
