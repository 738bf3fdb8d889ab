"""fit's direct step (fastnn/direct_step.py): a plain stack of layers trains without the
autograd graph, and every number equals the graph step's (train_step): weights, optimizer
state, the gradients left on the weights, the logged losses and metrics. The plan refuses
every model, loss and optimizer it does not mirror, and fit then runs the graph step."""

import numpy as np
import pytest

import fastnn as fnn
from fastnn.direct_step import DirectStep
from fastnn.layers import Conv2D, Dense, Dropout, Flatten, Input
from backend_params import BACKENDS, require
from fastnn.backend import to_host

pytestmark = pytest.mark.usefixtures("rng_restored")

HOST_BACKENDS = ["numpy", "cpu"]



def data(n=70, shape=(6,), classes=4, seed=3, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *shape)).astype(dtype)
    y = rng.integers(0, classes, n)
    return x, y


def train(make, compile_args, x, y, backend, direct, epochs=2, batch_size=16, dtype="float32", callbacks=None):
    """(model, history, steps the direct step ran) after fit, with the direct step allowed or not."""
    fnn.manual_seed(7)
    model = make(backend, dtype)
    model.compile(**compile_args())
    calls = []
    original = DirectStep.__call__

    def counting(self, xb, yb):
        calls.append(xb.shape[0])
        return original(self, xb, yb)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DirectStep, "__call__", counting)
        if not direct:
            patch.setattr(DirectStep, "plan", classmethod(lambda cls, model, regularizers: None))
        history = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=callbacks)
    return model, history, len(calls)


def mlp(activation="relu", dropout=0.0, use_bias=True, outputs=4, features=6):
    def make(backend, dtype):
        layers = [Input((features,), dtype=dtype), Dense(9, activation=activation, use_bias=use_bias)]
        if dropout:
            layers.append(Dropout(dropout))
        layers += [Dense(7, activation="tanh"), Dense(outputs, use_bias=use_bias)]
        return fnn.Sequential(layers, backend=backend)
    return make


def flatten_net(backend, dtype):
    return fnn.Sequential([Input((3, 5), dtype=dtype), Dropout(0.25), Flatten(), Dense(8, activation="elu"),
                           Dense(4)], backend=backend)


def sparse(optimizer="adam", metrics=("accuracy",)):
    return lambda: dict(optimizer=fnn.optim.get(optimizer) if isinstance(optimizer, str) else optimizer(),
                        loss="sparse_categorical_crossentropy", metrics=list(metrics))


def assert_same_training(a, b):
    (model_a, history_a, _), (model_b, history_b, _) = a, b
    for u, v in zip(model_a.get_weights(), model_b.get_weights()):
        np.testing.assert_array_equal(u, v)
    for p, q in zip(model_a.parameters(), model_b.parameters()):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    state_a, state_b = model_a.optimizer.state_dict()["state"], model_b.optimizer.state_dict()["state"]
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        for name, value in state_a[key].items():
            np.testing.assert_array_equal(to_host(value), to_host(state_b[key][name]))
    assert history_a.history == history_b.history


CONFIGURATIONS = {
    "relu_adam": (mlp("relu"), sparse("adam"), (6,), np.float32),
    "sigmoid_no_bias_sgd_momentum": (mlp("sigmoid", use_bias=False),
                                     sparse(lambda: fnn.optim.SGD(lr=0.05, momentum=0.9, nesterov=True)),
                                     (6,), np.float32),
    "gelu_dropout_rmsprop": (mlp("gelu", dropout=0.3), sparse(lambda: fnn.optim.RMSprop(lr=1e-3, centered=True)),
                             (6,), np.float32),
    "leaky_relu_adamw_global_clipnorm": (mlp("leaky_relu"),
                                         sparse(lambda: fnn.optim.AdamW(lr=1e-2, global_clipnorm=0.5)),
                                         (6,), np.float32),
    "flatten_dropout_float64": (flatten_net, sparse("adam"), (3, 5), np.float64),
    "softplus_categorical": (mlp("softplus"), lambda: dict(optimizer="adam", loss="categorical_crossentropy",
                                                           metrics=["accuracy"]), (6,), np.float32),
    "step_free_mse": (mlp("tanh", outputs=1), lambda: dict(optimizer="sgd", loss="mse", metrics=["mae"]),
                      (6,), np.float64),
}


@pytest.mark.parametrize("backend", HOST_BACKENDS)
@pytest.mark.parametrize("name", list(CONFIGURATIONS))
def test_direct_step_trains_exactly_as_the_graph_step(name, backend):
    require(backend)
    make, compile_args, shape, dtype = CONFIGURATIONS[name]
    x, y = data(shape=shape, dtype=dtype)
    if name == "softplus_categorical":
        y = np.eye(4, dtype=dtype)[y]
    elif name == "step_free_mse":
        y = x[:, :1] * 0.5 - x[:, 1:2]
    dtype_name = np.dtype(dtype).name
    direct = train(make, compile_args, x, y, backend, True, dtype=dtype_name)
    graph = train(make, compile_args, x, y, backend, False, dtype=dtype_name)
    assert direct[2] == 2 * 5 and graph[2] == 0      # 70 samples in batches of 16: 5 steps an epoch
    assert_same_training(direct, graph)


@pytest.mark.parametrize("backend", HOST_BACKENDS)
def test_batch_callbacks_see_the_same_logs_and_weights(backend):
    require(backend)

    class Recorder(fnn.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen = []

        def on_train_batch_end(self, batch, logs=None):
            self.seen.append((dict(logs), [w.copy() for w in self.model.get_weights()]))

    x, y = data()
    runs = []
    for direct in (True, False):
        recorder = Recorder()
        train(mlp(), sparse(), x, y, backend, direct, callbacks=[recorder])
        runs.append(recorder.seen)
    assert len(runs[0]) == len(runs[1]) == 10
    for (logs_a, weights_a), (logs_b, weights_b) in zip(*runs):
        assert logs_a == logs_b
        for u, v in zip(weights_a, weights_b):
            np.testing.assert_array_equal(u, v)


def compiled(model, optimizer="adam", loss="sparse_categorical_crossentropy"):
    model.compile(optimizer=optimizer, loss=loss)
    model._attach_optimizer()
    return model


def plain(**dense):
    return fnn.Sequential([Input((6,)), Dense(5, **dense), Dense(4)], backend="numpy")


def test_plan_accepts_a_plain_stack():
    step = DirectStep.plan(compiled(plain(activation="relu")), [])
    assert step is not None and step.backward_from == 1      # the Input layer needs no backward


class CustomCall(fnn.Sequential):
    def call(self, x, training=None):
        return super().call(x, training=training) * 2.0


class ScaledDense(Dense):
    def call(self, x):
        return super().call(x) * 0.5


class OwnStep(fnn.optim.Adam):
    def step(self):
        super().step()


def refused_models():
    x_shape = (6,)
    yield "a model with its own call", compiled(CustomCall([Input(x_shape), Dense(4)], backend="numpy"))
    yield "a final softmax (not fused in the linear kernel)", compiled(plain(activation="softmax"))
    yield "a layer whose subclass overrides call", compiled(
        fnn.Sequential([Input(x_shape), ScaledDense(4)], backend="numpy"))
    yield "a layer without a direct form", compiled(
        fnn.Sequential([Input((1, 5, 5)), Conv2D(2, 3), Flatten(), Dense(4)], backend="numpy"))
    yield "a loss without a direct form", compiled(plain(), loss="binary_crossentropy")
    yield "a loss function", compiled(plain(), loss=lambda p, t: ((p - t) ** 2).mean())
    yield "an optimizer that overrides step", compiled(plain(), optimizer=OwnStep())
    unbuilt = fnn.Sequential([Dense(5), Dense(4)], backend="numpy")
    unbuilt.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    yield "an unbuilt model", unbuilt
    frozen = compiled(plain())
    frozen.optimizer.param_groups[0]["params"] = frozen.optimizer.param_groups[0]["params"][1:]
    yield "an optimizer without every weight", frozen


@pytest.mark.parametrize("case", list(refused_models()), ids=lambda case: case[0])
def test_plan_refuses_what_it_does_not_mirror(case):
    _, model = case
    assert DirectStep.plan(model, []) is None


def test_plan_refuses_penalties():
    model = compiled(plain(kernel_regularizer="l2"))
    assert DirectStep.plan(model, model._regularizers()) is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_refused_models_still_train_through_the_graph(backend):
    require(backend)
    x, y = data()
    make = lambda backend, dtype: fnn.Sequential(  # noqa: E731
        [Input((6,)), Dense(8, activation="relu", kernel_regularizer="l2"), Dense(4)], backend=backend)
    model, history, direct_calls = train(make, sparse(), x, y, backend, True)
    assert direct_calls == 0
    assert np.isfinite(history.history["loss"]).all()



@pytest.mark.gpu
def test_a_device_backend_trains_through_the_graph():
    """The direct step is host-only (the gpu's deferred label check is settled by the graph's
    backward): a model it would run on cpu is planned on cpu and refused on gpu, and fit on
    gpu still trains it to the cpu's numbers."""
    require("gpu")
    x, y = data()
    histories = {}
    for backend in ("cpu", "gpu"):
        model = mlp()(backend, "float32")
        model.compile(**sparse("sgd")())
        planned = DirectStep.plan(model, model._regularizers())
        assert (planned is None) == (backend == "gpu")
        histories[backend] = train(mlp(), sparse("sgd"), x, y, backend, True)
    assert histories["cpu"][2] == 10 and histories["gpu"][2] == 0
    np.testing.assert_allclose(histories["gpu"][1].history["loss"], histories["cpu"][1].history["loss"], rtol=1e-4)
    for u, v in zip(histories["gpu"][0].get_weights(), histories["cpu"][0].get_weights()):
        np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-5)
