"""Models: subclassed Model (tracking, modes, skip connections), Sequential (eager build with
Input, backends, numpy inputs), summary, weights round trips."""

import json

import numpy as np
import pytest

import fastnn as fnn
from fastnn import backend as backends
from fastnn.tensor import Tensor

L = fnn.layers


@pytest.fixture(autouse=True)
def numpy_backend():
    with fnn.use_backend("numpy"):
        fnn.manual_seed(0)
        yield


class Residual(fnn.Model):
    """x -> Dense(relu) -> [Dense(relu), Dense] + skip -> Dropout -> Dense."""

    def __init__(self, width=8, classes=3, **kwargs):
        super().__init__(**kwargs)
        self.stem = L.Dense(width, activation="relu")
        self.block = [L.Dense(width, activation="relu"), L.Dense(width)]
        self.add = L.Add()
        self.drop = L.Dropout(0.5)
        self.head = L.Dense(classes)

    def call(self, x, training=None):
        h = self.stem(x)
        r = h
        for layer in self.block:
            r = layer(r)
        h = self.add([h, r])
        h = self.drop(h, training=training)
        return self.head(h)


def residual_numpy(model, x):
    relu = lambda z: np.maximum(z, 0)  # noqa: E731
    (k0, b0), (k1, b1), (k2, b2), (k3, b3) = [layer.get_weights() for layer in
                                              (model.stem, model.block[0], model.block[1], model.head)]
    h = relu(x @ k0 + b0)
    r = relu(h @ k1 + b1) @ k2 + b2
    return (h + r) @ k3 + b3


def test_subclassed_model_with_skip_connection():
    model = Residual()
    x = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    model.eval()
    y = model(x)
    assert y.shape == (4, 3) and y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), residual_numpy(model, x), rtol=1e-5, atol=1e-6)

    model.train()
    loss = (model(x) ** 2).mean()
    loss.backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in model.parameters())


def test_parameter_tracking_in_assignment_order():
    model = Residual()
    model(np.ones((2, 5)))
    expected = [model.stem.kernel, model.stem.bias, model.block[0].kernel, model.block[0].bias,
                model.block[1].kernel, model.block[1].bias, model.head.kernel, model.head.bias]
    assert [id(p) for p in model.parameters()] == [id(p) for p in expected]
    assert model.layers == [model.stem, model.block[0], model.block[1], model.add, model.drop, model.head]
    assert model.count_params() == (5 * 8 + 8) + 2 * (8 * 8 + 8) + (8 * 3 + 3)


def test_parameters_are_deduplicated():
    class Shared(fnn.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(4)
            self.alias = self.dense          # the same layer under two names
            self.stack = [self.dense, L.Dense(4)]
            self.table = {"again": self.dense}

        def call(self, x, training=None):
            return self.stack[1](self.dense(self.dense(x)))  # used twice: input width 4

    model = Shared()
    model(np.ones((2, 4)))
    params = model.parameters()
    assert len(params) == 4 and len({id(p) for p in params}) == 4
    assert model.layers == [model.dense, model.stack[1]]
    assert model.count_params() == 2 * (4 * 4 + 4)
    summary = model.summary(print_fn=lambda s: None)
    assert "Total params: 40" in summary


def test_nested_models_and_layers_added_later():
    class Outer(fnn.Model):
        def __init__(self):
            super().__init__()
            self.features = fnn.Sequential([L.Dense(6, activation="relu"), L.BatchNormalization()])
            self.heads = []
            self.heads.append(L.Dense(2))  # appended after assignment: still tracked

        def call(self, x, training=None):
            return self.heads[0](self.features(x))

    model = Outer()
    model(np.ones((3, 4)))
    assert model.layers == [model.features, model.heads[0]]
    assert len(model.parameters()) == 2 + 2 + 2          # dense, bn gamma/beta, head
    assert len(model.weights) == 2 + 4 + 2               # + bn running statistics
    assert len(model.non_trainable_weights) == 2


def test_train_eval_propagate():
    model = Residual()
    model(np.ones((2, 5)))
    assert model.training and all(layer.training for layer in model._walk())
    assert model.eval() is model
    assert not model.training and not any(layer.training for layer in model._walk())
    x = np.random.default_rng(1).normal(size=(64, 5))
    np.testing.assert_array_equal(model(x).numpy(), model(x).numpy())  # no dropout in eval
    model.train()
    assert all(layer.training for layer in model._walk())
    assert not np.array_equal(model(x).numpy(), model(x).numpy())       # dropout in train
    np.testing.assert_array_equal(model(x, training=False).numpy(), model(x, training=False).numpy())


def test_explicit_training_reaches_layers_called_without_it():
    class Plain(fnn.Model):
        def __init__(self):
            super().__init__()
            self.drop = L.Dropout(0.5)
            self.bn = L.BatchNormalization()

        def call(self, x, training=None):
            return self.bn(self.drop(x))  # no training= passed on

    model = Plain()
    x = np.random.default_rng(2).normal(size=(32, 4))
    y = model(x, training=False).numpy()   # inference everywhere: identity dropout, running stats (0, 1)
    np.testing.assert_allclose(y, x / np.sqrt(1 + 1e-3), rtol=1e-5)
    np.testing.assert_array_equal(model.bn.running_mean.numpy(), 0)
    model(x)                                # the model's (training) mode: running stats move
    assert np.abs(model.bn.running_mean.numpy()).sum() > 0


def test_a_frozen_sublayer_keeps_its_mode():
    model = fnn.Sequential([L.Input((3,)), L.Dense(3), L.BatchNormalization()])
    bn = model.layers[1]
    bn.eval()                                # PyTorch's way to freeze batch-norm statistics
    model(np.random.default_rng(0).normal(size=(8, 3)))
    np.testing.assert_array_equal(bn.running_mean.numpy(), 0)
    model(np.random.default_rng(0).normal(size=(8, 3)), training=True)  # explicit wins
    assert np.abs(bn.running_mean.numpy()).sum() > 0


def test_summary_contents(capsys):
    model = fnn.Sequential([L.Input((1, 8, 8)), L.Conv2D(4, 3, padding="same", name="conv"),
                            L.BatchNormalization(name="bn"), L.MaxPooling2D(name="pool"), L.Flatten(name="flat"),
                            L.Dense(10, name="logits")], name="cnn")
    text = model.summary()
    assert capsys.readouterr().out.strip() == text.strip()
    lines = text.splitlines()
    assert 'Model: "cnn" (Sequential)' in lines[0]
    expected_rows = [("conv", "Conv2D", "(None, 4, 8, 8)", "40"), ("bn", "BatchNormalization", "(None, 4, 8, 8)", "16"),
                     ("pool", "MaxPooling2D", "(None, 4, 4, 4)", "0"), ("flat", "Flatten", "(None, 64)", "0"),
                     ("logits", "Dense", "(None, 10)", "650")]
    for name, kind, shape, params in expected_rows:
        row = next(line for line in lines if line.startswith(name + " "))
        assert kind in row and shape in row and row.rstrip().endswith(" " + params)
    assert "Total params: 706" in text
    assert "Trainable params: 698" in text
    assert "Non-trainable params: 8" in text
    assert "Backend: numpy" in text
    assert "not built" not in text


def test_summary_of_an_unbuilt_model_says_so():
    model = fnn.Sequential([L.Dense(4), L.Dense(2)])
    text = model.summary(print_fn=lambda s: None)
    assert "?" in text and "not built yet" in text
    model(np.ones((1, 3)))
    text = model.summary(print_fn=lambda s: None)
    assert "(None, 2)" in text and "Total params: 26" in text and "not built" not in text


def test_sequential_with_input_builds_eagerly():
    model = fnn.Sequential([L.Input((5,)), L.Dense(4, activation="relu"), L.Dropout(0.1)])
    model.add(L.Dense(2))
    assert model.built and all(layer.built for layer in model.layers)
    assert [w.shape for w in model.weights] == [(5, 4), (4,), (4, 2), (2,)]
    assert model.output_shape == (None, 2)
    assert all(w.backend == "numpy" and w.dtype == np.float32 for w in model.weights)
    assert len(model.layers) == 3  # the Input is not a layer of the list
    with pytest.raises(ValueError, match=r"expected inputs of feature shape \(5,\).*got \(6,\)"):
        model(np.ones((2, 6)))
    last = model.layers[-1]
    assert model.pop() is last and len(model.layers) == 2
    assert model.output_shape == (None, 4)


def test_sequential_first_layer_input_shape_argument():
    model = fnn.Sequential([L.Dense(4, input_shape=(3,)), L.Dense(1)])
    assert model.built and model.count_params() == 3 * 4 + 4 + 4 + 1


def test_sequential_add_errors():
    model = fnn.Sequential([L.Input((2,))])
    with pytest.raises(ValueError, match="Input can only be the first"):
        model.add(L.Input((2,)))
    with pytest.raises(TypeError, match="expected a layer"):
        model.add(lambda x: x)
    dense = L.Dense(3)
    model.add(dense)
    with pytest.raises(ValueError, match="already in this model"):
        model.add(dense)
    with pytest.raises(ValueError, match="needs images"):
        model.add(L.Conv2D(2, 3))  # a (N, 3) output cannot feed a convolution
    assert model.layers == [dense]  # the failed add left the model as it was


def test_backend_argument_is_validated():
    with pytest.raises(ValueError, match="unknown backend 'tpu'; valid backends are numpy, cpu, gpu"):
        fnn.Sequential([L.Dense(2)], backend="tpu")
    model = fnn.Sequential([L.Input((2,)), L.Dense(2)], backend="numpy")
    assert model.backend == "numpy" and model.layers[0].kernel.backend == "numpy"
    missing = [name for name in backends.NAMES if name not in fnn.available_backends()]
    for name in missing:  # a backend this machine lacks is refused with the reason, never replaced
        with pytest.raises(fnn.BackendError, match=f"backend '{name}' is not available"):
            fnn.Sequential([L.Dense(2)], backend=name)
    with pytest.raises(ValueError, match="unknown backend"):
        model.to("tpu")


def test_default_backend_is_current_at_construction():
    with fnn.use_backend("numpy"):
        model = fnn.Sequential([L.Dense(2)])
    assert model.backend == "numpy"


def test_inputs_on_another_backend_raise_the_mixed_backend_error():
    model = fnn.Sequential([L.Input((3,)), L.Dense(2)], backend="numpy")
    # A tensor that claims to live on another backend (this machine may have only numpy):
    # the model must refuse it before any kernel runs.
    other = Tensor._make(np.ones((2, 3), dtype=np.float32), backends._REGISTRY["cpu"])
    with pytest.raises(ValueError, match=r"inputs live on different backends, 'numpy' \(the model\) and 'cpu'"):
        model(other)


def test_to_moves_weights_in_place():
    model = fnn.Sequential([L.Input((3,)), L.Dense(2)])
    params = model.parameters()
    before = model.get_weights()
    assert model.to("numpy") is model
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_numpy_inputs_are_converted():
    model = fnn.Sequential([L.Input((3,)), L.Dense(2)])
    y = model(np.ones((4, 3), dtype=np.float64))
    assert isinstance(y, Tensor) and y.dtype == np.float32 and y.backend == "numpy"
    emb = fnn.Sequential([L.Embedding(10, 4), L.Flatten()])
    assert emb(np.array([[1, 2], [3, 9]])).shape == (2, 8)
    f64 = fnn.Sequential([L.Input((3,), dtype="float64"), L.Dense(2)])
    assert f64(np.ones((1, 3), dtype=np.float32)).dtype == np.float64


def test_get_set_weights_round_trip_and_errors():
    def make():
        return fnn.Sequential([L.Input((4,)), L.Dense(5, activation="tanh"), L.BatchNormalization(), L.Dense(2)])

    a, b = make(), make()
    x = np.random.default_rng(0).normal(size=(6, 4))
    a(x)  # move a's running statistics off their initial values
    a.eval()
    b.eval()
    assert not np.allclose(a(x).numpy(), b(x).numpy())
    b.set_weights(a.get_weights())
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())
    assert len(a.get_weights()) == 2 + 4 + 2
    weights = a.get_weights()
    weights[2] = np.zeros(4)
    with pytest.raises(ValueError, match=r"array 2 is for .*/gamma of shape \(5,\), got an array of shape \(4,\)"):
        b.set_weights(weights)
    with pytest.raises(ValueError, match="expected 8 arrays"):
        b.set_weights(a.get_weights()[:-1])
    lazy = fnn.Sequential([L.Dense(2)])
    with pytest.raises(ValueError, match="build the layer first"):
        lazy.set_weights([np.zeros((3, 2)), np.zeros(2)])


def test_losses_and_a_hand_written_training_loop():
    model = fnn.Sequential([L.Input((2,)), L.Dense(16, activation="tanh", kernel_regularizer=1e-4),
                            L.Dense(1, kernel_regularizer=fnn.regularizers.l2(1e-4))])
    assert len(model.losses) == 2
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 2)).astype(np.float32)
    y = fnn.tensor((x[:, :1] * x[:, 1:2] > 0).astype(np.float32))  # XOR of the signs
    losses = []
    for _ in range(200):
        model.zero_grad()
        loss = fnn.functional.binary_crossentropy(model(x), y) + sum(model.losses)
        loss.backward()
        for p in model.parameters():
            p.data -= 0.5 * p.grad.data
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_regularizer_gradient_through_the_model():
    model = fnn.Sequential([L.Input((3,), dtype="float64"), L.Dense(2, kernel_regularizer=0.5)])
    sum(model.losses).backward()
    kernel = model.layers[0].kernel
    np.testing.assert_allclose(kernel.grad.numpy(), 2 * 0.5 * kernel.numpy(), rtol=1e-12)


def test_model_errors():
    class Forgot(fnn.Model):
        def __init__(self):
            self.dense = L.Dense(2)

        def call(self, x, training=None):
            return self.dense(x)

    with pytest.raises(RuntimeError, match=r"must call super\(\).__init__\(\)"):
        Forgot()(np.ones((1, 2)))

    class NoCall(fnn.Model):
        pass

    with pytest.raises(NotImplementedError, match="must define call"):
        NoCall()(np.ones((1, 2)))
    model = Residual()
    assert model.get_layer(index=0) is model.stem
    with pytest.raises(ValueError, match="no layer called 'nope'"):
        model.get_layer("nope")


def test_sequential_config_round_trip():
    model = fnn.Sequential([L.Input((1, 6, 6)), L.Conv2D(2, 3), L.Flatten(), L.Dense(3, activation="softmax")],
                           name="tiny")
    config = json.loads(json.dumps(model.get_config()))
    clone = fnn.Sequential.from_config(config)
    assert clone.name == "tiny" and clone.built
    assert [type(layer) for layer in clone.layers] == [type(layer) for layer in model.layers]
    assert clone.count_params() == model.count_params() == (2 * 9 + 2) + (2 * 16 * 3 + 3)
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(0).normal(size=(2, 1, 6, 6))
    np.testing.assert_array_equal(clone(x).numpy(), model(x).numpy())


def test_tied_weights_count_once():
    encoder, decoder = L.Dense(3, use_bias=False), L.Dense(3, use_bias=False)
    model = fnn.Sequential([L.Input((3,)), encoder, decoder])
    decoder.kernel = encoder.kernel  # one matrix used by two layers
    assert len(model.parameters()) == 1 and model.count_params() == 9
    x = np.eye(3, dtype=np.float32)
    k = encoder.kernel.numpy()
    np.testing.assert_allclose(model(x).numpy(), k @ k, rtol=1e-6)


def test_a_model_may_assign_self_layers():
    class Stack(fnn.Model):
        def __init__(self):
            super().__init__()
            self.layers = [L.Dense(3, activation="relu"), L.Dense(2)]

        def call(self, x, training=None):
            for layer in self.layers:
                x = layer(x)
            return x

    model = Stack()
    assert model(np.ones((4, 5))).shape == (4, 2)
    assert len(model.layers) == 2 and len(model.parameters()) == 4


def test_embedding_weights_are_float32_and_checked():
    emb = L.Embedding(6, 2)
    emb(np.array([[0, 5]]))
    assert emb.dtype == np.float32 and emb.embeddings.dtype == np.float32
    with pytest.raises(ValueError, match=r"indices\[0, 1\] = 6 is outside \[0, 6\)"):
        emb(np.array([[0, 6]]))
