"""fastnn.diagnostics: per-layer gradient norms and per-layer outputs, checked against NumPy by hand."""

import numpy as np
import pytest
from backend_params import BACKENDS, require

import fastnn as fnn
import fastnn.functional as F
from fastnn import diagnostics
from fastnn.layers import Activation, BatchNormalization, Dense, Dropout, Input

RNG = np.random.default_rng(7)
X = RNG.normal(size=(5, 4))                 # 5 samples, 4 features
Y = np.array([0, 2, 1, 2, 0])
W1, B1 = RNG.normal(size=(4, 3)), RNG.normal(size=3)
W2, B2 = RNG.normal(size=(3, 3)), RNG.normal(size=3)


@pytest.fixture(params=BACKENDS)
def backend(request, rng_restored):
    require(request.param)
    with fnn.use_backend(request.param):
        yield request.param


def two_layer_model(dtype="float64"):
    """relu(x W1 + b1) W2 + b2 with the known weights above (BatchNormalization in between
    and an Activation layer: neither has a kernel, so neither gets a gradient norm)."""
    model = fnn.Sequential([Input((4,), dtype=dtype), Dense(3, name="hidden"), Activation("relu", name="relu"),
                            Dense(3, name="logits")])
    model.set_weights([W1.astype(dtype), B1.astype(dtype), W2.astype(dtype), B2.astype(dtype)])
    return model


def numpy_gradients():
    """dL/dW1 and dL/dW2 of the mean cross-entropy, by the chain rule in NumPy."""
    z1 = X @ W1 + B1
    h = np.maximum(z1, 0.0)
    logits = h @ W2 + B2
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    d_logits = (p - np.eye(3)[Y]) / len(X)          # softmax cross-entropy, mean over the batch
    d_w2 = h.T @ d_logits
    d_z1 = (d_logits @ W2.T) * (z1 > 0)
    d_w1 = X.T @ d_z1
    return d_w1, d_w2, d_logits.sum(axis=0), d_z1.sum(axis=0)


# -- gradient_norms -----------------------------------------------------------------------------

def test_gradient_norms_are_the_l2_norms_of_the_kernel_gradients(backend):
    model = two_layer_model()
    F.sparse_categorical_crossentropy(model(X), Y).backward()
    norms = diagnostics.gradient_norms(model)
    d_w1, d_w2, _, _ = numpy_gradients()
    assert list(norms) == ["hidden", "logits"]     # input -> output; the Activation has no kernel
    assert norms["hidden"] == pytest.approx(np.sqrt(np.sum(d_w1 ** 2)), rel=1e-10)
    assert norms["logits"] == pytest.approx(np.sqrt(np.sum(d_w2 ** 2)), rel=1e-10)
    assert all(isinstance(v, float) for v in norms.values())


def test_gradient_norms_of_another_weight(backend):
    model = two_layer_model()
    F.sparse_categorical_crossentropy(model(X), Y).backward()
    norms = diagnostics.gradient_norms(model, weight="bias")
    _, _, d_b2, d_b1 = numpy_gradients()
    assert norms == pytest.approx({"hidden": np.linalg.norm(d_b1), "logits": np.linalg.norm(d_b2)}, rel=1e-10)


def test_gradient_norms_float32_and_layers_without_kernels(backend):
    fnn.manual_seed(0)
    model = fnn.Sequential([Input((4,)), Dense(6), BatchNormalization(), Activation("tanh"), Dropout(0.5),
                            Dense(2)])
    F.mse(model(X.astype(np.float32)), np.zeros((5, 2), np.float32)).backward()
    norms = diagnostics.gradient_norms(model)
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    assert list(norms) == [layer.name for layer in dense]
    for layer in dense:
        assert norms[layer.name] == pytest.approx(float(np.linalg.norm(layer.kernel.grad.numpy())), rel=1e-6)


def test_gradient_norms_work_on_a_subclassed_model(backend):
    class Net(fnn.Model):
        def __init__(self):
            super().__init__()
            self.first = Dense(3, activation="relu")
            self.second = Dense(3)

        def call(self, x, training=None):
            return self.second(self.first(x))

    model = Net()
    x = fnn.tensor(X)  # float64: the model builds in float64
    model(x)
    model.set_weights([W1, B1, W2, B2])
    F.sparse_categorical_crossentropy(model(x), Y).backward()
    d_w1, d_w2, _, _ = numpy_gradients()
    norms = list(diagnostics.gradient_norms(model).values())
    assert norms == pytest.approx([np.linalg.norm(d_w1), np.linalg.norm(d_w2)], rel=1e-10)


def test_gradient_norms_skip_a_layer_left_out_of_the_last_backward(backend):
    model = two_layer_model()
    F.sparse_categorical_crossentropy(model(X), Y).backward()
    model.layers[0].kernel.grad = None  # as if that layer had not been used
    assert list(diagnostics.gradient_norms(model)) == ["logits"]


def test_gradient_norms_before_backward_is_an_error(backend):
    model = two_layer_model()
    with pytest.raises(RuntimeError, match=r"no 'kernel'.*has a gradient yet.*loss.backward\(\)"):
        diagnostics.gradient_norms(model)
    F.sparse_categorical_crossentropy(model(X), Y).backward()
    model.zero_grad()
    with pytest.raises(RuntimeError, match="backward"):
        diagnostics.gradient_norms(model)


def test_gradient_norms_bad_arguments():
    with pytest.raises(TypeError, match="model must be a fastnn model or layer, got ndarray"):
        diagnostics.gradient_norms(np.zeros(3))
    model = two_layer_model()
    with pytest.raises(ValueError, match="no layer .* has a trainable weight called 'gamma'"):
        diagnostics.gradient_norms(model, weight="gamma")
    with pytest.raises(TypeError, match="weight must be a weight name"):
        diagnostics.gradient_norms(model, weight=3)
    unbuilt = fnn.Sequential([Dense(3)])
    with pytest.raises(ValueError, match="is the model built"):
        diagnostics.gradient_norms(unbuilt)


# -- layer_outputs --------------------------------------------------------------------------------

def test_layer_outputs_are_each_layers_output(backend):
    model = two_layer_model()
    outputs = diagnostics.layer_outputs(model, X)
    z1 = X @ W1 + B1
    expected = [("hidden", z1), ("relu", np.maximum(z1, 0.0)), ("logits", np.maximum(z1, 0.0) @ W2 + B2)]
    assert [name for name, _ in outputs] == [name for name, _ in expected]  # Input left out
    for (_, got), (_, want) in zip(outputs, expected):
        assert isinstance(got, np.ndarray)                                 # host numpy on any backend
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(outputs[-1][1], model.predict(X), rtol=1e-12)


def test_layer_outputs_training_flag_reaches_batch_norm(backend):
    model = fnn.Sequential([Input((4,)), BatchNormalization(momentum=0.5, epsilon=1e-3)])
    bn = model.layers[0]
    mean, var = np.array([1.0, -1.0, 0.5, 0.0]), np.array([4.0, 1.0, 0.25, 2.0])
    model.set_weights([np.ones(4), np.zeros(4), mean, var])  # gamma, beta, running mean, running var
    x = X.astype(np.float32)
    # inference: the running statistics, and nothing changes
    (_, eval_out), = diagnostics.layer_outputs(model, x)
    np.testing.assert_allclose(eval_out, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.running_mean.numpy(), mean)
    # training: the batch's own statistics (biased variance), and the running statistics move
    (_, train_out), = diagnostics.layer_outputs(model, x, training=True)
    np.testing.assert_allclose(train_out, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.5 * mean + 0.5 * x.mean(0), rtol=1e-5, atol=1e-6)


def test_layer_outputs_builds_an_unbuilt_model(backend):
    fnn.manual_seed(0)
    model = fnn.Sequential([Dense(3, activation="tanh"), Dense(2)])
    outputs = diagnostics.layer_outputs(model, X.astype(np.float32))
    assert [a.shape for _, a in outputs] == [(5, 3), (5, 2)]
    assert np.all(np.abs(outputs[0][1]) <= 1.0)
    np.testing.assert_allclose(outputs[1][1], model.predict(X.astype(np.float32)), rtol=1e-5)


def test_layer_outputs_accepts_a_tensor(backend):
    model = two_layer_model()
    outputs = diagnostics.layer_outputs(model, fnn.tensor(X))
    np.testing.assert_allclose(outputs[0][1], X @ W1 + B1, rtol=1e-12)


def test_layer_outputs_bad_arguments(backend):
    model = two_layer_model()

    class Net(fnn.Model):
        def call(self, x, training=None):
            return x

    with pytest.raises(TypeError, match="must be a fastnn.Sequential.*got Net"):
        diagnostics.layer_outputs(Net(), X)
    with pytest.raises(ValueError, match=r"x has feature shape \(3,\) \(shape \(5, 3\)\), but the model takes feature shape \(4,\)"):
        diagnostics.layer_outputs(model, X[:, :3])
    with pytest.raises(ValueError, match=r"non-empty batch.*got shape \(4,\)"):
        diagnostics.layer_outputs(model, X[0])
    with pytest.raises(ValueError, match=r"x is empty: expected at least one sample, got shape \(0, 4\)"):
        diagnostics.layer_outputs(model, X[:0])
    with pytest.raises(TypeError, match=r"x must hold numbers \(float, int or bool\), got dtype <U1"):
        diagnostics.layer_outputs(model, np.full((2, 4), "a"))
    with pytest.raises(TypeError, match="training must be True or False, got 'yes'"):
        diagnostics.layer_outputs(model, X, training="yes")
    with pytest.raises(ValueError, match="has no layers"):
        diagnostics.layer_outputs(fnn.Sequential([Input((4,))]), X)


def test_layer_outputs_tensor_on_another_backend():
    with fnn.use_backend("numpy"):
        model = two_layer_model()
    x = fnn.tensor(X, backend="cpu")
    with pytest.raises(ValueError, match="x lives on the 'cpu' backend, the model on 'numpy'"):
        diagnostics.layer_outputs(model, x)


# -- activation_statistics ------------------------------------------------------------------------

def test_activation_statistics_match_numpy(backend):
    model = two_layer_model()
    stats = diagnostics.activation_statistics(model, X)
    z1 = X @ W1 + B1
    for entry, a in zip(stats, [z1, np.maximum(z1, 0.0), np.maximum(z1, 0.0) @ W2 + B2]):
        assert entry["mean"] == pytest.approx(a.mean(), rel=1e-10)
        assert entry["std"] == pytest.approx(a.std(), rel=1e-10)
        assert entry["rms"] == pytest.approx(np.sqrt(np.mean(a ** 2)), rel=1e-10)
        assert (entry["min"], entry["max"]) == pytest.approx((a.min(), a.max()), rel=1e-10)
        assert entry["zero_fraction"] == pytest.approx(np.mean(a == 0.0))
    assert [s["name"] for s in stats] == ["hidden", "relu", "logits"]
    assert stats[1]["zero_fraction"] == pytest.approx(np.mean(z1 <= 0.0))  # the units ReLU switched off
