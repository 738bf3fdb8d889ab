"""compile / fit / evaluate / predict: real accuracy on the digits on every backend, and the
Keras semantics of each argument (validation_split, validation_data, shuffle,
initial_epoch, stop_training, unbuilt models, DataLoader input, single batches, return
forms, regularization, final softmax / sigmoid handled by the losses)."""

import numpy as np
import pytest

import fastnn as fnn
import fastnn.functional as F
from fastnn.layers import Activation, Conv2D, Dense, Flatten, Input, MaxPooling2D
from backend_params import BACKENDS, require

pytestmark = pytest.mark.usefixtures("rng_restored")


@pytest.fixture(scope="module")
def digits():
    datasets = pytest.importorskip("sklearn.datasets")
    bunch = datasets.load_digits()
    x = (bunch.data / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    return (x[:1400], y[:1400]), (x[1400:], y[1400:])


def toy(n=96, features=6, classes=4, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + 2 * (x[:, 1] > 0).astype(np.int64)
    return x, y % classes


def mlp(backend="numpy", features=6, classes=4, final=None):
    return fnn.Sequential([Input((features,)), Dense(16, activation="relu"), Dense(classes, activation=final)],
                          backend=backend)


def same_weights(a, b):
    return all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))


# -- real accuracy on the digits --------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_mlp_reaches_95_percent_on_digits(digits, backend):
    require(backend)
    (x, y), (x_test, y_test) = digits
    fnn.manual_seed(0)
    model = fnn.Sequential([Input((64,)), Dense(64, activation="relu"), Dense(10)], backend=backend)
    model.compile(fnn.optim.Adam(lr=3e-3), "sparse_categorical_crossentropy", ["accuracy"])
    history = model.fit(x, y, epochs=10, batch_size=32, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "lr"}
    assert history.epoch == list(range(10))
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    loss, accuracy = model.evaluate(x_test, y_test)
    assert accuracy >= 0.95
    probabilities = model.predict(x_test)
    assert isinstance(probabilities, np.ndarray) and probabilities.shape == (len(x_test), 10)
    assert np.mean(probabilities.argmax(axis=1) == y_test) == pytest.approx(accuracy)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cnn_with_softmax_output_reaches_95_percent_on_digits(digits, backend):
    require(backend)
    (x, y), (x_test, y_test) = digits
    fnn.manual_seed(0)
    model = fnn.Sequential([Input((1, 8, 8)), Conv2D(16, 3, padding="same", activation="relu"), MaxPooling2D(2),
                            Flatten(), Dense(10, activation="softmax")], backend=backend)
    model.compile(fnn.optim.Adam(lr=3e-3), "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x.reshape(-1, 1, 8, 8), y, epochs=10, verbose=0)
    loss, accuracy = model.evaluate(x_test.reshape(-1, 1, 8, 8), y_test)
    assert accuracy >= 0.95
    probabilities = model.predict(x_test.reshape(-1, 1, 8, 8))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)  # the softmax output, as returned


@pytest.mark.parametrize("backend", [pytest.param("cpu"), pytest.param("gpu", marks=pytest.mark.gpu)])
def test_fit_history_is_the_same_on_every_backend(backend):
    require(backend)
    x, y = toy()

    def run(name):
        fnn.manual_seed(5)
        model = mlp(name)
        model.compile(fnn.optim.SGD(lr=0.1, momentum=0.9), "sparse_categorical_crossentropy", ["accuracy"])
        return model.fit(x, y, epochs=3, batch_size=16, verbose=0, validation_split=0.25).history, model

    expected, reference = run("numpy")
    actual, model = run(backend)
    for key in expected:
        np.testing.assert_allclose(actual[key], expected[key], rtol=1e-4, err_msg=key)
    for a, e in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-6)


@pytest.mark.gpu
def test_cupy_arrays_on_the_gpu_backend():
    require("gpu")
    cupy = pytest.importorskip("cupy")
    x, y = toy()
    fnn.manual_seed(0)
    model = mlp("gpu")
    model.compile(fnn.optim.Adam(lr=1e-2), "sparse_categorical_crossentropy", ["accuracy"])
    history = model.fit(cupy.asarray(x), cupy.asarray(y), epochs=20, batch_size=16, verbose=0,
                        validation_data=(cupy.asarray(x), cupy.asarray(y)))
    assert history.history["accuracy"][-1] > 0.8
    loss, accuracy = model.evaluate(cupy.asarray(x), cupy.asarray(y))
    assert accuracy == pytest.approx(history.history["val_accuracy"][-1])
    out = model.predict(cupy.asarray(x))
    assert isinstance(out, np.ndarray) and np.mean(out.argmax(1) == y) == pytest.approx(accuracy)
    bad = cupy.asarray(x)
    bad[3, 2] = cupy.nan
    with pytest.raises(ValueError, match=r"x\[3, 2\] is nan"):
        model.fit(bad, cupy.asarray(y), verbose=0)


# -- the step and the order of samples ----------------------------------------------------------

def test_fit_is_the_hand_written_loop_with_shuffling_from_the_global_generator():
    x, y = toy(n=80)
    fnn.manual_seed(11)
    model = mlp()
    model.compile(fnn.optim.Adam(lr=1e-2), "sparse_categorical_crossentropy")
    fnn.manual_seed(11)
    manual = mlp()
    manual.set_weights(model.get_weights())
    opt = fnn.optim.Adam(manual.parameters(), lr=1e-2)

    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    fnn.manual_seed(11)
    mlp()  # the state fit started from: after one model's initialisation
    for _ in range(2):
        order = fnn.random.default_generator.permutation(len(x))
        for start in range(0, len(x), 32):
            idx = order[start:start + 32]
            opt.zero_grad()
            loss = F.sparse_categorical_crossentropy(manual(x[idx], training=True), y[idx])
            loss.backward()
            opt.step()
    for a, b in zip(model.get_weights(), manual.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_shuffle_false_trains_in_order_and_draws_nothing():
    x, y = toy(n=64)
    fnn.manual_seed(2)
    a, b = mlp(), mlp()
    b.set_weights(a.get_weights())
    a.compile(fnn.optim.SGD(lr=0.1), "sparse_categorical_crossentropy")
    state = fnn.get_rng_state()
    a.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    assert fnn.get_rng_state() == state
    opt = fnn.optim.SGD(b.parameters(), lr=0.1)
    for _ in range(2):
        for start in range(0, 64, 16):
            opt.zero_grad()
            F.sparse_categorical_crossentropy(b(x[start:start + 16]), y[start:start + 16]).backward()
            opt.step()
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7)
    # with shuffling the order differs, so the weights do too
    fnn.manual_seed(2)
    c = mlp()
    c.compile(fnn.optim.SGD(lr=0.1), "sparse_categorical_crossentropy")
    c.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert not same_weights(a, c)


def test_validation_split_holds_out_the_last_samples_before_shuffling():
    x, y = toy(n=100)
    fnn.manual_seed(0)
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    seen = []

    class Steps(fnn.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(self.params["steps"])

    history = model.fit(x, y, epochs=2, batch_size=10, validation_split=0.2, callbacks=[Steps()], verbose=0)
    assert seen == [8]  # 80 training samples in batches of 10
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    val_loss, val_accuracy = model.evaluate(x[-20:], y[-20:])
    assert history.history["val_loss"][-1] == pytest.approx(val_loss, rel=1e-6)
    assert history.history["val_accuracy"][-1] == pytest.approx(val_accuracy)


def test_validation_split_training_never_sees_the_held_out_samples():
    x, y = toy(n=40)
    x[-10:] = np.nan  # would poison any step that used them... but validation data is checked too
    fnn.manual_seed(0)
    model = mlp()
    model.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"x\[30, 0\] is nan"):
        model.fit(x, y, validation_split=0.25, verbose=0)
    x, y = toy(n=40)
    y[-10:] = 0
    a = mlp()
    b = mlp()
    b.set_weights(a.get_weights())
    a.compile(fnn.optim.SGD(lr=0.1), "sparse_categorical_crossentropy")
    b.compile(fnn.optim.SGD(lr=0.1), "sparse_categorical_crossentropy")
    state = fnn.get_rng_state()
    a.fit(x, y, epochs=1, batch_size=8, validation_split=0.25, verbose=0)
    fnn.set_rng_state(state)
    b.fit(x[:30], y[:30], epochs=1, batch_size=8, verbose=0)
    assert same_weights(a, b)


def test_validation_data_as_tuple_and_as_dataloader():
    x, y = toy(n=64)
    xv, yv = toy(n=24, seed=9)
    fnn.manual_seed(0)
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    history = model.fit(x, y, epochs=2, validation_data=(xv, yv), verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(model.evaluate(xv, yv)[0], rel=1e-6)
    state = fnn.get_rng_state()
    loader = fnn.DataLoader(xv, yv, batch_size=5, shuffle=True)  # validation ignores the shuffling
    history = model.fit(x, y, epochs=1, shuffle=False, validation_data=loader, verbose=0)
    assert fnn.get_rng_state() == state
    assert history.history["val_loss"][-1] == pytest.approx(model.evaluate(xv, yv)[0], rel=1e-6)
    with pytest.raises(ValueError, match="validation_data must be a tuple"):
        model.fit(x, y, validation_data=(xv, yv, np.ones(24)), verbose=0)
    with pytest.raises(ValueError, match="not both"):
        model.fit(x, y, validation_data=(xv, yv), validation_split=0.5, verbose=0)


def test_initial_epoch_resumes_exactly_like_an_uninterrupted_run():
    x, y = toy(n=64)
    fnn.manual_seed(4)
    whole = mlp()
    whole.compile(fnn.optim.Adam(lr=1e-2), "sparse_categorical_crossentropy")
    fnn.manual_seed(4)
    split = mlp()
    split.compile(fnn.optim.Adam(lr=1e-2), "sparse_categorical_crossentropy")
    start = fnn.get_rng_state()
    full = whole.fit(x, y, epochs=4, batch_size=16, verbose=0)
    fnn.set_rng_state(start)
    first = split.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert split.epoch == 2 and first.epoch == [0, 1]
    second = split.fit(x, y, epochs=4, batch_size=16, verbose=0, initial_epoch=split.epoch)
    assert second.epoch == [2, 3] and split.epoch == 4
    assert same_weights(whole, split)
    assert first.history["loss"] + second.history["loss"] == full.history["loss"]
    assert split.history is second


def test_stop_training_ends_after_the_current_epoch_and_epoch_is_set_before_on_epoch_end():
    x, y = toy()
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy")
    recorded = []

    class Stop(fnn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            recorded.append((epoch, self.model.epoch, sorted(logs)))
            if epoch == 1:
                self.model.stop_training = True

    history = model.fit(x, y, epochs=10, callbacks=[Stop()], verbose=0)
    assert history.epoch == [0, 1] and model.epoch == 2
    assert recorded == [(0, 1, ["loss", "lr"]), (1, 2, ["loss", "lr"])]
    history = model.fit(x, y, epochs=3, initial_epoch=2, verbose=0)  # stop_training is reset by fit
    assert history.epoch == [2]


def test_callback_hooks_order_and_batch_logs():
    x, y = toy(n=40)
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    events = []

    class Recorder(fnn.callbacks.Callback):
        def on_train_begin(self, logs=None): events.append("train_begin")
        def on_epoch_begin(self, epoch, logs=None): events.append(f"epoch_begin {epoch}")
        def on_train_batch_begin(self, batch, logs=None): events.append(f"batch_begin {batch}")

        def on_train_batch_end(self, batch, logs=None):
            assert set(logs) == {"loss", "accuracy"} and np.isfinite(logs["loss"])
            assert all(p.grad is not None for p in self.model.parameters())  # this batch's gradients
            events.append(f"batch_end {batch}")

        def on_test_begin(self, logs=None): events.append("test_begin")
        def on_test_end(self, logs=None): events.append("test_end")
        def on_epoch_end(self, epoch, logs=None): events.append(f"epoch_end {epoch}")
        def on_train_end(self, logs=None): events.append("train_end")

    model.fit(x, y, epochs=1, batch_size=20, validation_data=(x[:8], y[:8]), callbacks=[Recorder()], verbose=0)
    assert events == ["train_begin", "epoch_begin 0", "batch_begin 0", "batch_end 0", "batch_begin 1", "batch_end 1",
                      "test_begin", "test_end", "epoch_end 0", "train_end"]


def test_lr_is_logged_per_epoch():
    x, y = toy()
    model = mlp()
    model.compile(fnn.optim.SGD(lr=0.05), "sparse_categorical_crossentropy")

    class Halve(fnn.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                self.model.optimizer.lr = 0.025

    history = model.fit(x, y, epochs=2, callbacks=[Halve()], verbose=0)
    assert history.history["lr"] == [0.05, 0.025]


# -- models, data and losses ----------------------------------------------------------------------

class Subclassed(fnn.Model):
    def __init__(self, final="logits"):
        super().__init__(backend="numpy")
        self.hidden = Dense(16, activation="relu")
        self.out = Dense(4)
        self.final = final

    def call(self, x, training=None):
        z = self.out(self.hidden(x))
        return F.softmax(z) if self.final == "softmax" else z


@pytest.mark.parametrize("make", [lambda: fnn.Sequential([Dense(16, activation="relu"), Dense(4)], backend="numpy"),
                                  lambda: Subclassed()], ids=["sequential", "subclassed"])
def test_unbuilt_models_are_built_on_the_first_batch(make):
    x, y = toy()
    fnn.manual_seed(0)
    model = make()
    model.compile(fnn.optim.Adam(lr=1e-2), "sparse_categorical_crossentropy", ["accuracy"])
    assert not model.parameters()
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert [id(p) for p in model.optimizer.parameters()] == [id(p) for p in model.parameters()]
    assert len(model.parameters()) == 4
    assert history.history["accuracy"][-1] > 0.8


def test_dataloader_input_for_fit_evaluate_and_predict():
    x, y = toy(n=70)
    fnn.manual_seed(0)
    a, b = mlp(), mlp()
    b.set_weights(a.get_weights())
    for model in (a, b):
        model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    state = fnn.get_rng_state()
    a.fit(fnn.DataLoader(x, y, batch_size=16, shuffle=True, seed=3), epochs=2, verbose=0)
    assert fnn.get_rng_state() == state  # the loader's own generator shuffled
    b.fit(fnn.DataLoader(x, y, batch_size=16, shuffle=True, seed=3), epochs=2, verbose=0)
    assert same_weights(a, b)
    assert a.evaluate(fnn.DataLoader(x, y, batch_size=7)) == pytest.approx(a.evaluate(x, y))
    np.testing.assert_allclose(a.predict(fnn.DataLoader(x, y, batch_size=9, shuffle=True)), a.predict(x), rtol=1e-6)
    with pytest.raises(ValueError, match="y must be None"):
        a.fit(fnn.DataLoader(x, y), y, verbose=0)
    with pytest.raises(ValueError, match="no targets"):
        a.fit(fnn.DataLoader(x), verbose=0)
    with pytest.raises(ValueError, match="validation_split needs arrays"):
        a.fit(fnn.DataLoader(x, y), validation_split=0.2, verbose=0)


def _logits_and_softmax_models(kind):
    fnn.manual_seed(1)
    logits = mlp()
    if kind == "dense":
        probs = mlp(final="softmax")
    elif kind == "activation":
        probs = fnn.Sequential([Input((6,)), Dense(16, activation="relu"), Dense(4), Activation("softmax")],
                               backend="numpy")
    else:
        probs = Subclassed(final="softmax")
        probs(np.zeros((1, 6), np.float32))
    probs.set_weights([w * 30 for w in logits.get_weights()])  # large logits: naive log(softmax) overflows
    logits.set_weights([w * 30 for w in logits.get_weights()])
    return logits, probs


@pytest.mark.parametrize("kind", ["dense", "activation", "subclassed"])
def test_softmax_output_model_gets_the_loss_of_its_logits(kind):
    x, y = toy()
    logits, probs = _logits_and_softmax_models(kind)
    for model in (logits, probs):
        model.compile(fnn.optim.SGD(lr=0.01), "sparse_categorical_crossentropy", ["accuracy"])
    expected = logits.evaluate(x, y)
    assert np.isfinite(expected[0]) and expected[0] > 5  # confident and often wrong: large, finite
    np.testing.assert_allclose(probs.evaluate(x, y), expected, rtol=1e-6)
    with np.errstate(divide="ignore"):  # the naive form from probabilities is not finite here
        naive = -np.log(probs.predict(x)[np.arange(len(y)), y]).mean()
    assert not np.isfinite(naive)
    np.testing.assert_allclose(probs.train_on_batch(x, y), logits.train_on_batch(x, y), rtol=1e-6)
    for a, b in zip(logits.get_weights(), probs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_sigmoid_output_model_gets_the_binary_crossentropy_of_its_logits():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    fnn.manual_seed(0)
    logits = fnn.Sequential([Input((3,)), Dense(1)], backend="numpy")
    probs = fnn.Sequential([Input((3,)), Dense(1, activation="sigmoid")], backend="numpy")
    logits.set_weights([w * 40 for w in logits.get_weights()])
    probs.set_weights(logits.get_weights())
    for model in (logits, probs):
        model.compile(fnn.optim.SGD(lr=0.1), "binary_crossentropy", ["accuracy"])
    z = x @ logits.get_weights()[0][:, 0] + logits.get_weights()[1][0]
    expected = np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
    loss, accuracy = probs.evaluate(x, y)
    assert loss == pytest.approx(expected, rel=1e-5)
    assert accuracy == pytest.approx(np.mean((z > 0) == y))
    assert logits.evaluate(x, y) == pytest.approx([loss, accuracy], rel=1e-6)
    probs.fit(x, y, epochs=1, batch_size=10, shuffle=False, verbose=0)
    logits.fit(x, y, epochs=1, batch_size=10, shuffle=False, verbose=0)
    for a, b in zip(logits.get_weights(), probs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_mse_does_not_peel_a_final_sigmoid():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((20, 3)).astype(np.float32)
    t = rng.uniform(size=(20, 1)).astype(np.float32)
    model = fnn.Sequential([Input((3,)), Dense(1, activation="sigmoid")], backend="numpy")
    model.compile("sgd", "mse", ["mae"])
    w, b = model.get_weights()
    p = 1 / (1 + np.exp(-(x @ w + b)))
    loss, mae = model.evaluate(x, t)
    assert loss == pytest.approx(np.mean((p - t) ** 2), rel=1e-5)
    assert mae == pytest.approx(np.mean(np.abs(p - t)), rel=1e-5)


def test_regression_learns_a_linear_map_with_column_or_flat_targets():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((200, 4)).astype(np.float32)
    y = x @ np.array([1.0, -2.0, 0.5, 3.0], np.float32) + 0.25
    fnn.manual_seed(0)
    model = fnn.Sequential([Input((4,)), Dense(1)], backend="cpu")
    model.compile(fnn.optim.Adam(lr=0.05), "mse", ["mae"])
    history = model.fit(x, y, epochs=30, batch_size=20, verbose=0)
    assert history.history["loss"][-1] < 1e-3
    assert model.evaluate(x, y[:, None])[0] == pytest.approx(model.evaluate(x, y)[0])
    np.testing.assert_allclose(model.predict(x)[:, 0], y, atol=0.1)


def test_regularization_penalties_are_part_of_the_loss():
    x, y = toy()
    fnn.manual_seed(0)
    model = fnn.Sequential([Input((6,)), Dense(16, activation="relu", kernel_regularizer=fnn.regularizers.l2(0.1)),
                            Dense(4)], backend="numpy")
    model.compile(fnn.optim.SGD(lr=0.1), "sparse_categorical_crossentropy")
    data_loss = F.sparse_categorical_crossentropy(model(x, training=False), y).item()
    penalty = 0.1 * float(np.sum(model.get_weights()[0].astype(np.float64) ** 2))
    assert penalty > 0.1
    assert model.evaluate(x, y) == pytest.approx(data_loss + penalty, rel=1e-5)
    plain = fnn.Sequential([Input((6,)), Dense(16, activation="relu"), Dense(4)], backend="numpy")
    plain.set_weights(model.get_weights())
    F.sparse_categorical_crossentropy(plain(x), y).backward()
    data_grad = plain.parameters()[0].grad.numpy()
    kernel = model.get_weights()[0]
    assert model.train_on_batch(x, y) == pytest.approx(data_loss + penalty, rel=1e-5)
    # the penalty's gradient 2 * 0.1 * W took part in the step
    np.testing.assert_allclose(model.get_weights()[0], kernel - 0.1 * (data_grad + 0.2 * kernel), rtol=1e-5, atol=1e-6)


def test_evaluate_and_single_batch_return_forms():
    x, y = toy()
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy")
    assert isinstance(model.evaluate(x, y), float)
    assert isinstance(model.train_on_batch(x[:8], y[:8]), float)
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy", "top_k_accuracy"])
    result = model.evaluate(x, y)
    assert isinstance(result, list) and len(result) == 3
    assert result[2] == 1.0  # 4 classes: the true one is always among the top 5
    logs = model.evaluate(x, y, return_dict=True)
    assert list(logs) == ["loss", "accuracy", "top_k_accuracy"] and logs["loss"] == result[0]
    before = model.get_weights()
    test = model.test_on_batch(x[:10], y[:10], return_dict=True)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))  # no update
    assert test["loss"] == pytest.approx(model.evaluate(x[:10], y[:10])[0])
    train = model.train_on_batch(x[:10], y[:10])
    assert train[0] == pytest.approx(test["loss"], rel=1e-6) and train[1] == test["accuracy"]
    assert not all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    out = model.predict_on_batch(x[:5])
    np.testing.assert_allclose(out, model(x[:5], training=False).numpy(), rtol=1e-6)


def test_errors_before_compile_and_on_bad_arguments():
    x, y = toy()
    model = mlp()
    with pytest.raises(RuntimeError, match="not compiled"):
        model.fit(x, y)
    model.compile("adam")
    with pytest.raises(RuntimeError, match="no loss"):
        model.fit(x, y)
    model.compile("adam", "sparse_categorical_crossentropy")
    for kwargs, match in [({"epochs": -1}, "epochs"), ({"batch_size": 0}, "batch_size"),
                          ({"verbose": 3}, "verbose"), ({"validation_split": 1.0}, "validation_split")]:
        with pytest.raises(ValueError, match=match):
            model.fit(x, y, **kwargs)
    with pytest.raises(ValueError, match="unknown loss"):
        model.compile("adam", "cross_entropy")
    with pytest.raises(ValueError, match="unknown metric"):
        model.compile("adam", "mse", ["precision"])


def test_compile_config_round_trip():
    model = mlp()
    model.compile(fnn.optim.SGD(lr=0.3, momentum=0.5), "binary_crossentropy",
                  ["accuracy", fnn.metrics.TopKAccuracy(k=2)])
    config = model.compile_config()
    import json
    config = json.loads(json.dumps(config))
    other = mlp()
    other.compile_from_config(config)
    assert isinstance(other.optimizer, fnn.optim.SGD) and other.optimizer.lr == 0.3
    assert isinstance(other.loss, fnn.losses.BinaryCrossentropy)
    assert [m.name for m in other.metrics] == ["accuracy", "top_2_accuracy"]
    assert isinstance(other.metrics[0], fnn.metrics.BinaryAccuracy) and other.metrics[1].k == 2
    assert other.compile_config() == config


def test_plain_function_loss():
    x, y = toy()
    model = mlp()
    model.compile("adam", lambda pred, target: F.sparse_categorical_crossentropy(pred, target) * 2.0)
    reference = F.sparse_categorical_crossentropy(model(x, training=False), y).item()
    assert model.evaluate(x, y) == pytest.approx(2 * reference, rel=1e-6)


def test_weights_round_trip_through_the_model_wrappers(tmp_path):
    pytest.importorskip("safetensors")
    x, y = toy()
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    model.save_weights(tmp_path / "w.safetensors")
    other = mlp()
    other.load_weights(tmp_path / "w.safetensors")
    assert same_weights(model, other)
    model.save(tmp_path / "model.fnn")
    restored = fnn.load_model(tmp_path / "model.fnn")
    np.testing.assert_allclose(restored.predict(x), model.predict(x), rtol=1e-6)
    assert restored.epoch == 1
