"""Layers: shapes, parameter counts (Keras' formulas), initial values, training/inference
behaviour, regularizers, shape errors and the recurrent equations against plain numpy."""

import json

import numpy as np
import pytest

import fastnn as fnn
import fastnn.functional as F

L = fnn.layers


def t64(array, requires_grad=False):
    return fnn.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad, backend="numpy")


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


@pytest.fixture(autouse=True)
def numpy_backend():
    with fnn.use_backend("numpy"):
        fnn.manual_seed(0)
        yield


# -- shapes ------------------------------------------------------------------------------

SHAPE_CASES = [
    (lambda: L.Dense(4), (3, 7), (3, 4)),
    (lambda: L.Dense(4), (3, 5, 7), (3, 5, 4)),
    (lambda: L.Conv2D(4, 3), (2, 3, 9, 8), (2, 4, 7, 6)),
    (lambda: L.Conv2D(4, 3, strides=2), (2, 3, 9, 8), (2, 4, 4, 3)),
    (lambda: L.Conv2D(4, 3, strides=2, padding="same"), (2, 3, 9, 8), (2, 4, 5, 4)),
    (lambda: L.Conv2D(4, 2, padding="same"), (2, 3, 9, 8), (2, 4, 9, 8)),
    (lambda: L.Conv2D(4, (3, 5), padding=(1, 2)), (2, 3, 9, 8), (2, 4, 9, 8)),
    (lambda: L.Conv2D(4, 3, padding=1, strides=(2, 1)), (2, 3, 9, 8), (2, 4, 5, 8)),
    (lambda: L.MaxPooling2D(), (2, 3, 9, 8), (2, 3, 4, 4)),
    (lambda: L.MaxPooling2D(3, strides=2, padding="same"), (2, 3, 9, 8), (2, 3, 5, 4)),
    (lambda: L.AveragePooling2D((2, 3)), (2, 3, 9, 8), (2, 3, 4, 2)),
    (lambda: L.GlobalAveragePooling2D(), (2, 3, 9, 8), (2, 3)),
    (lambda: L.GlobalMaxPooling2D(), (2, 3, 9, 8), (2, 3)),
    (lambda: L.Flatten(), (2, 3, 9, 8), (2, 216)),
    (lambda: L.BatchNormalization(), (4, 3, 2, 2), (4, 3, 2, 2)),
    (lambda: L.BatchNormalization(), (4, 3), (4, 3)),
    (lambda: L.Dropout(0.5), (4, 3), (4, 3)),
    (lambda: L.Activation("softmax"), (4, 3), (4, 3)),
    (lambda: L.SimpleRNN(6), (3, 4, 5), (3, 6)),
    (lambda: L.SimpleRNN(6, return_sequences=True), (3, 4, 5), (3, 4, 6)),
    (lambda: L.LSTM(6), (3, 4, 5), (3, 6)),
    (lambda: L.LSTM(6, return_sequences=True), (3, 4, 5), (3, 4, 6)),
    (lambda: L.GRU(6), (3, 4, 5), (3, 6)),
    (lambda: L.GRU(6, return_sequences=True), (3, 4, 5), (3, 4, 6)),
]


@pytest.mark.parametrize("factory,in_shape,out_shape", SHAPE_CASES)
def test_output_shape_and_compute_output_shape(factory, in_shape, out_shape):
    layer = factory()
    y = layer(fnn.randn(*in_shape))
    assert y.shape == out_shape
    assert tuple(layer.compute_output_shape(in_shape[1:])) == out_shape[1:]
    assert layer.output_shape == (None,) + out_shape[1:]


def test_embedding_and_add_shapes():
    emb = L.Embedding(10, 4)
    ids = np.array([[1, 2, 3], [9, 0, 0]])
    out = emb(ids)
    assert out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out.numpy(), emb.embeddings.numpy()[ids])
    assert L.Add()([fnn.randn(2, 3), fnn.randn(2, 3), fnn.randn(2, 3)]).shape == (2, 3)


# -- parameter counts: Keras' formulas ------------------------------------------------------

def n_params(layer, in_shape):
    layer(fnn.randn(*in_shape) if layer.__class__ is not L.Embedding else np.zeros(in_shape, dtype=np.int64))
    return layer.count_params(), sum(p.size for p in layer.parameters())


@pytest.mark.parametrize("layer,in_shape,total,trainable", [
    (L.Dense(7), (2, 5), 5 * 7 + 7, 5 * 7 + 7),
    (L.Dense(7, use_bias=False), (2, 5), 5 * 7, 5 * 7),
    (L.Conv2D(6, (3, 2)), (2, 4, 8, 8), 6 * 4 * 3 * 2 + 6, 6 * 4 * 3 * 2 + 6),
    (L.Conv2D(6, 3, use_bias=False), (2, 4, 8, 8), 6 * 4 * 9, 6 * 4 * 9),
    (L.BatchNormalization(), (3, 5, 2, 2), 4 * 5, 2 * 5),
    (L.BatchNormalization(center=False), (3, 5), 3 * 5, 5),
    (L.Embedding(11, 4), (2, 3), 11 * 4, 11 * 4),
    (L.SimpleRNN(6), (2, 3, 5), 5 * 6 + 6 * 6 + 6, 5 * 6 + 6 * 6 + 6),
    (L.LSTM(6), (2, 3, 5), 4 * (5 * 6 + 6 * 6 + 6), 4 * (5 * 6 + 6 * 6 + 6)),
    (L.GRU(6), (2, 3, 5), 3 * (5 * 6 + 6 * 6 + 2 * 6), 3 * (5 * 6 + 6 * 6 + 2 * 6)),
    (L.Flatten(), (2, 3, 4), 0, 0),
], ids=lambda v: type(v).__name__ if isinstance(v, L.Layer) else None)
def test_parameter_counts_match_keras(layer, in_shape, total, trainable):
    assert n_params(layer, in_shape) == (total, trainable)
    assert all(p.requires_grad for p in layer.parameters())
    assert not any(w.requires_grad for w in layer.non_trainable_weights)


def test_weight_layouts():
    dense = L.Dense(3)
    dense(fnn.randn(2, 5))
    assert dense.kernel.shape == (5, 3) and dense.bias.shape == (3,)
    conv = L.Conv2D(4, (3, 2))
    conv(fnn.randn(1, 2, 6, 6))
    assert conv.kernel.shape == (4, 2, 3, 2)
    gru = L.GRU(3)
    gru(fnn.randn(2, 4, 5))
    assert [w.shape for w in gru.weights] == [(5, 9), (3, 9), (2, 9)]
    assert [name for name, _ in gru.named_weights()] == [f"{gru.name}/kernel", f"{gru.name}/recurrent_kernel",
                                                        f"{gru.name}/bias"]


# -- initial values -------------------------------------------------------------------------

def test_dense_he_normal_statistics():
    fan_in, units = 1000, 800
    layer = L.Dense(units, kernel_initializer="he_normal")
    layer.build((fan_in,))
    w = layer.kernel.numpy()
    assert w.dtype == np.float32
    assert abs(w.mean()) < 0.002
    assert w.std() == pytest.approx(np.sqrt(2 / fan_in), rel=0.02)
    np.testing.assert_array_equal(layer.bias.numpy(), 0)


def test_dense_glorot_uniform_statistics():
    fan_in, fan_out = 600, 400
    layer = L.Dense(fan_out)  # glorot_uniform is the default
    layer.build((fan_in,))
    w = layer.kernel.numpy()
    limit = np.sqrt(6 / (fan_in + fan_out))
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.99 * limit
    assert w.var() == pytest.approx(limit ** 2 / 3, rel=0.02)


def test_conv2d_initializer_fans():
    c_in, c_out, k = 32, 64, 5
    conv = L.Conv2D(c_out, k, kernel_initializer="he_normal")
    conv.build((c_in, 16, 16))
    fan_in = c_in * k * k
    assert conv.kernel.numpy().std() == pytest.approx(np.sqrt(2 / fan_in), rel=0.02)
    glorot = L.Conv2D(c_out, k)
    glorot.build((c_in, 16, 16))
    limit = np.sqrt(6 / (c_in * k * k + c_out * k * k))
    w = glorot.kernel.numpy()
    assert np.abs(w).max() <= limit and w.var() == pytest.approx(limit ** 2 / 3, rel=0.02)


def test_recurrent_initial_values():
    lstm = L.LSTM(5)
    lstm.build((4, 3))
    u = lstm.recurrent_kernel.numpy()
    np.testing.assert_allclose(u @ u.T, np.eye(5), atol=1e-5)  # orthogonal rows
    np.testing.assert_array_equal(lstm.bias.numpy(), np.r_[np.zeros(5), np.ones(5), np.zeros(10)])
    plain = L.LSTM(5, unit_forget_bias=False)
    plain.build((4, 3))
    np.testing.assert_array_equal(plain.bias.numpy(), 0)


def test_initializer_callable_and_errors():
    layer = L.Dense(3, kernel_initializer=lambda shape, dtype: np.full(shape, 0.5))
    layer.build((2,))
    np.testing.assert_array_equal(layer.kernel.numpy(), 0.5)
    with pytest.raises(ValueError, match="unknown initializer 'nope'"):
        L.Dense(3, kernel_initializer="nope")
    with pytest.raises(ValueError, match="unknown activation 'nope'"):
        L.Dense(3, activation="nope")
    with pytest.raises(ValueError, match="units"):
        L.Dense(0)


# -- dtype and building -----------------------------------------------------------------------

def test_weights_follow_input_dtype():
    layer = L.Dense(3)
    assert not layer.built and layer.weights == []
    layer(t64(np.ones((2, 4))))
    assert layer.built and layer.input_shape == (4,)
    assert layer.kernel.dtype == np.float64 and layer.dtype == np.float64
    with pytest.raises(TypeError, match="float64 but the input is float32"):
        layer(fnn.ones(2, 4))
    assert L.Dense(3)(fnn.ones(2, 4)).dtype == np.float32
    assert L.Dense(3)(np.ones((2, 4))).dtype == np.float32  # numpy float64 -> the layer's float32


def test_feature_shape_error_after_build():
    dense = L.Dense(3)
    dense(fnn.ones(2, 4))
    with pytest.raises(ValueError, match=r"expected inputs of feature shape \(\.\.\., 4\).*got \(5,\).*\(2, 5\)"):
        dense(fnn.ones(2, 5))
    assert dense(fnn.ones(7, 6, 4)).shape == (7, 6, 3)  # extra leading axes are fine

    conv = L.Conv2D(2, 3)
    conv(fnn.ones(1, 3, 8, 8))
    assert conv(fnn.ones(1, 3, 10, 9)).shape == (1, 2, 8, 7)  # other image sizes are fine...
    with pytest.raises(ValueError, match=r"Conv2D.*expected inputs of feature shape \(3, \?, \?\).*got \(4, 8, 8\)"):
        conv(fnn.ones(1, 4, 8, 8))  # ...other channel counts are not

    rnn = L.GRU(2)
    rnn(fnn.ones(2, 5, 3))
    assert rnn(fnn.ones(2, 9, 3)).shape == (2, 2)  # any number of steps
    with pytest.raises(ValueError, match=r"GRU.*\(\?, 3\).*got \(5, 4\)"):
        rnn(fnn.ones(2, 5, 4))

    flat_bn = L.BatchNormalization()
    flat_bn(fnn.randn(4, 3))
    with pytest.raises(ValueError, match=r"BatchNormalization.*got \(4,\)"):
        flat_bn(fnn.randn(4, 4))


def test_wrong_rank_at_build():
    with pytest.raises(ValueError, match="channels first"):
        L.Conv2D(2, 3)(fnn.ones(2, 8, 8))
    with pytest.raises(ValueError, match=r"sequences \(N, T, features\)"):
        L.LSTM(2)(fnn.ones(2, 8))


def test_input_layer_checks_shape():
    inp = L.Input((3, None))
    assert inp(fnn.ones(2, 3, 7)).shape == (2, 3, 7)
    with pytest.raises(ValueError, match=r"expected inputs of feature shape \(3, None\).*got \(4, 7\)"):
        inp(fnn.ones(2, 4, 7))


# -- dropout ----------------------------------------------------------------------------------

def test_dropout_train_and_eval():
    layer = L.Dropout(0.25)
    x = fnn.ones(200, 100)
    np.testing.assert_array_equal(layer(x, training=False).numpy(), 1.0)
    y = layer(x, training=True).numpy()
    dropped = (y == 0).mean()
    assert 0.23 < dropped < 0.27
    np.testing.assert_allclose(y[y != 0], 1 / 0.75, rtol=1e-6)
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), 1.0)
    layer.train()
    assert (layer(x).numpy() == 0).any()
    fnn.manual_seed(7)
    a = layer(x, training=True).numpy()
    fnn.manual_seed(7)
    np.testing.assert_array_equal(a, layer(x, training=True).numpy())  # seeded masks repeat
    with pytest.raises(ValueError, match="rate"):
        L.Dropout(1.0)


def test_dropout_gradient_uses_the_mask():
    x = fnn.ones(10, 10, requires_grad=True)
    y = L.Dropout(0.5)(x, training=True)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.numpy())  # d(sum y)/dx = mask / (1 - rate) = y for x = 1


# -- batch normalization ------------------------------------------------------------------------

def test_batch_norm_running_statistics_match_numpy():
    momentum, eps = 0.8, 1e-3
    layer = L.BatchNormalization(momentum=momentum, epsilon=eps)
    rng = np.random.default_rng(0)
    batches = [rng.normal(2.0, 3.0, size=(6, 3, 2, 2)) for _ in range(3)]
    run_mean, run_var = np.zeros(3), np.ones(3)
    for xb in batches:
        y = layer(t64(xb), training=True).numpy()
        mean = xb.mean(axis=(0, 2, 3))
        var = xb.var(axis=(0, 2, 3))
        m = xb.size // 3
        # Keras' convention: momentum weighs the old running value; the variance kept is unbiased.
        run_mean = momentum * run_mean + (1 - momentum) * mean
        run_var = momentum * run_var + (1 - momentum) * var * m / (m - 1)
        expected = (xb - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + eps)
        np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-10)  # gamma = 1, beta = 0
        np.testing.assert_allclose(layer.running_mean.numpy(), run_mean, rtol=1e-12)
        np.testing.assert_allclose(layer.moving_variance.numpy(), run_var, rtol=1e-12)

    x_eval = rng.normal(size=(4, 3, 2, 2))
    layer.gamma.data[:] = [1.5, -1.0, 0.5]
    layer.beta.data[:] = [0.1, 0.2, 0.3]
    y = layer(t64(x_eval), training=False).numpy()
    shape = (1, 3, 1, 1)
    expected = (layer.gamma.numpy().reshape(shape) * (x_eval - run_mean.reshape(shape))
                / np.sqrt(run_var.reshape(shape) + eps) + layer.beta.numpy().reshape(shape))
    np.testing.assert_allclose(y, expected, rtol=1e-10)
    np.testing.assert_allclose(layer.running_mean.numpy(), run_mean, rtol=1e-12)  # eval leaves them alone
    layer.eval()
    np.testing.assert_allclose(layer(t64(x_eval)).numpy(), expected, rtol=1e-10)
    assert layer.get_weights()[2] is not layer.running_mean.data  # copies


def test_batch_norm_default_momentum_is_keras():
    layer = L.BatchNormalization()
    x = np.arange(12.0).reshape(4, 3)
    layer(t64(x), training=True)
    np.testing.assert_allclose(layer.running_mean.numpy(), 0.01 * x.mean(axis=0), rtol=1e-12)
    with pytest.raises(ValueError, match="momentum"):
        L.BatchNormalization(momentum=1.5)


# -- regularizers -------------------------------------------------------------------------------

def test_l2_regularizer_penalty_and_gradient():
    layer = L.Dense(3, kernel_regularizer=fnn.regularizers.l2(0.1))
    assert layer.losses == []  # nothing to penalise before the weights exist
    layer(t64(np.ones((2, 4))))
    (penalty,) = layer.losses
    w = layer.kernel.numpy()
    assert penalty.item() == pytest.approx(0.1 * (w ** 2).sum(), rel=1e-12)
    sum(layer.losses).backward()
    np.testing.assert_allclose(layer.kernel.grad.numpy(), 0.2 * w, rtol=1e-12)
    assert layer.bias.grad is None  # the bias is not regularized


@pytest.mark.parametrize("spec,expected", [(0.05, 0.05), ("l2", 0.01), (fnn.regularizers.L2(0.3), 0.3)])
def test_regularizer_spellings(spec, expected):
    layer = L.Conv2D(2, 3, kernel_regularizer=spec)
    layer(fnn.randn(1, 2, 5, 5, dtype="float64"))
    w = layer.kernel.numpy()
    assert layer.losses[0].item() == pytest.approx(expected * (w ** 2).sum(), rel=1e-12)


def test_l1_and_callable_regularizers():
    layer = L.Dense(2, kernel_regularizer="l1", bias_regularizer=lambda b: (b * b).sum() * 3.0,
                    bias_initializer="ones")
    layer(t64(np.ones((1, 3))))
    l1, custom = layer.losses
    assert l1.item() == pytest.approx(0.01 * np.abs(layer.kernel.numpy()).sum())
    assert custom.item() == pytest.approx(6.0)
    with pytest.raises(ValueError, match="unknown regularizer"):
        fnn.regularizers.get("l3")
    with pytest.raises(ValueError, match="non-negative"):
        fnn.regularizers.l2(-1.0)


def test_recurrent_regularizers():
    layer = L.LSTM(2, kernel_regularizer=0.1, recurrent_regularizer=0.2)
    layer(fnn.randn(2, 3, 4, dtype="float64"))
    k, r = layer.losses
    assert k.item() == pytest.approx(0.1 * (layer.kernel.numpy() ** 2).sum())
    assert r.item() == pytest.approx(0.2 * (layer.recurrent_kernel.numpy() ** 2).sum())


# -- add ------------------------------------------------------------------------------------------

def test_add_values_gradient_and_shape_error():
    a, b = t64(np.ones((2, 3)), True), t64(np.full((2, 3), 2.0), True)
    y = L.Add()([a, b])
    np.testing.assert_array_equal(y.numpy(), 3.0)
    y.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), 1.0)
    np.testing.assert_array_equal(b.grad.numpy(), 1.0)
    with pytest.raises(ValueError, match=r"same shape, got \(2, 3\), \(2, 4\)"):
        L.Add()([fnn.ones(2, 3), fnn.ones(2, 4)])
    with pytest.raises(TypeError, match="list of at least two tensors"):
        L.Add()(fnn.ones(2, 3))


# -- activations --------------------------------------------------------------------------------------

def softmax_numpy(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("activation,formula", [
    (None, lambda z: z), ("linear", lambda z: z), ("relu", lambda z: np.maximum(z, 0)), ("tanh", np.tanh),
    ("sigmoid", sigmoid), ("softmax", softmax_numpy), (lambda z: z * 2.0, lambda z: 2 * z),
], ids=["none", "linear", "relu", "tanh", "sigmoid", "softmax", "callable"])
def test_dense_matches_its_formula(activation, formula):
    x = fnn.randn(4, 5, dtype="float64")
    layer = L.Dense(3, activation=activation, bias_initializer="normal")
    y = layer(x)
    kernel, bias = layer.get_weights()
    np.testing.assert_allclose(y.numpy(), formula(x.numpy() @ kernel + bias), rtol=1e-12, atol=1e-14)


def test_activation_layer():
    x = fnn.randn(4, 5, dtype="float64")
    np.testing.assert_allclose(L.Activation("relu")(x).numpy(), np.maximum(x.numpy(), 0))
    np.testing.assert_allclose(L.Activation("softmax")(x).numpy(), softmax_numpy(x.numpy()), rtol=1e-12)
    with pytest.raises(ValueError, match="unknown activation"):
        L.Activation("swishy")


# -- recurrent layers against numpy --------------------------------------------------------------------

def simple_rnn_numpy(x, W, U, b):
    h = np.zeros((x.shape[0], U.shape[0]))
    out = []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ W + h @ U + b)
        out.append(h)
    return np.stack(out, axis=1)


def lstm_numpy(x, W, U, b):
    u = U.shape[0]
    h = c = np.zeros((x.shape[0], u))
    out = []
    for t in range(x.shape[1]):
        z = x[:, t] @ W + h @ U + b
        i, f, g, o = sigmoid(z[:, :u]), sigmoid(z[:, u:2 * u]), np.tanh(z[:, 2 * u:3 * u]), sigmoid(z[:, 3 * u:])
        c = f * c + i * g
        h = o * np.tanh(c)
        out.append(h)
    return np.stack(out, axis=1)


def gru_numpy(x, W, U, b):
    u = U.shape[0]
    h = np.zeros((x.shape[0], u))
    out = []
    for t in range(x.shape[1]):
        xw = x[:, t] @ W + b[0]
        hu = h @ U + b[1]
        z = sigmoid(xw[:, :u] + hu[:, :u])
        r = sigmoid(xw[:, u:2 * u] + hu[:, u:2 * u])
        n = np.tanh(xw[:, 2 * u:] + r * hu[:, 2 * u:])
        h = z * h + (1 - z) * n
        out.append(h)
    return np.stack(out, axis=1)


@pytest.mark.parametrize("cls,reference", [(L.SimpleRNN, simple_rnn_numpy), (L.LSTM, lstm_numpy),
                                           (L.GRU, gru_numpy)])
def test_recurrent_layers_match_numpy_step_by_step(cls, reference):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 6, 5))
    seq = cls(4, return_sequences=True)
    seq(t64(x))
    weights = [rng.normal(scale=0.5, size=w.shape) for w in seq.weights]  # random biases too
    seq.set_weights(weights)
    expected = reference(x, *weights)
    np.testing.assert_allclose(seq(t64(x)).numpy(), expected, rtol=1e-10, atol=1e-12)
    last = cls(4)
    last(t64(x))
    last.set_weights(weights)
    np.testing.assert_allclose(last(t64(x)).numpy(), expected[:, -1], rtol=1e-10, atol=1e-12)


def test_rnn_backprop_through_time_reaches_first_step():
    x = t64(np.random.default_rng(0).normal(size=(2, 5, 3)), requires_grad=True)
    y = L.LSTM(4)(x)
    y.sum().backward()
    assert np.abs(x.grad.numpy()[:, 0]).sum() > 0  # the first input influences the last output


# -- weights API ---------------------------------------------------------------------------------------

def test_get_set_weights_on_a_layer():
    layer = L.Dense(3)
    with pytest.raises(ValueError, match="build the layer first"):
        layer.set_weights([np.zeros((2, 3)), np.zeros(3)])
    layer.build((2,))
    kernel = layer.kernel
    layer.set_weights([np.full((2, 3), 0.5), np.arange(3.0)])
    assert layer.kernel is kernel and layer.kernel.dtype == np.float32  # in place, dtype kept
    np.testing.assert_array_equal(layer(fnn.ones(1, 2)).numpy(), [[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match=r"array 1 is for dense_\d+/bias of shape \(3,\), got an array of shape \(4,\)"):
        layer.set_weights([np.zeros((2, 3)), np.zeros(4)])
    with pytest.raises(ValueError, match="expected 2 arrays"):
        layer.set_weights([np.zeros((2, 3))])
    np.testing.assert_array_equal(layer.kernel.numpy(), 0.5)  # a failed set_weights wrote nothing


def test_get_config_is_json_and_round_trips():
    layers = [L.Dense(3, activation="relu", kernel_regularizer=0.1), L.Conv2D(2, (3, 1), strides=2, padding="same"),
              L.MaxPooling2D(3, strides=1), L.BatchNormalization(momentum=0.9), L.Dropout(0.2),
              L.Embedding(5, 2), L.LSTM(3, return_sequences=True), L.GRU(2), L.SimpleRNN(2), L.Add(),
              L.Flatten(), L.Activation("tanh"), L.Input((3, 4))]
    for layer in layers:
        config = json.loads(json.dumps(layer.get_config()))
        assert config["class_name"] == type(layer).__name__
        clone = L.deserialize(config)
        assert type(clone) is type(layer)
        assert clone.get_config() == layer.get_config()


def test_custom_layer_with_sublayer_and_weight():
    class Scaled(L.Layer):
        def __init__(self, units):
            super().__init__()
            self.inner = L.Dense(units)

        def build(self, input_shape):
            self.scale = self.add_weight("scale", (1,), "ones")

        def call(self, x):
            return self.inner(x) * self.scale

    layer = Scaled(3)
    y = layer(fnn.ones(2, 4))
    assert y.shape == (2, 3) and layer.built
    assert [w.name for w in layer.weights] == [f"{layer.name}/scale", f"{layer.inner.name}/kernel",
                                               f"{layer.inner.name}/bias"]
    assert layer.compute_output_shape((4,)) == (3,)  # the generic fallback runs the layer
    with pytest.raises(ValueError, match=r"expected inputs of feature shape \(4,\)"):
        layer(fnn.ones(2, 5))


def test_layer_names_are_unique():
    a, b = L.Dense(1), L.Dense(1)
    assert a.name != b.name and a.name.startswith("dense")
    assert L.BatchNormalization(name="bn").name == "bn"
    assert L.Conv2D(1, 1).name.startswith("conv2d")


def test_functional_ops_and_layers_agree():
    x = fnn.randn(3, 4, dtype="float64")
    layer = L.Dense(2, activation="tanh", dtype="float64")
    y = layer(x)
    np.testing.assert_allclose(y.numpy(), F.tanh(x @ layer.kernel + layer.bias).numpy(), rtol=1e-12)


# -- the case table ------------------------------------------------------------------------------------

def test_layer_cases_differentiate_every_weight():
    """A gradient check cannot notice an input the function ignores (both gradients are 0), so
    check here that every row really uses each array it differentiates: all get a gradient."""
    from fastnn.testing.cases_layers import LAYER_CASES
    from fastnn.testing.table import ALL_CASES

    names = [case.name for case in ALL_CASES]
    assert len(names) == len(set(names)), "case names must be unique"
    for case in LAYER_CASES:
        for mode in case.modes:
            instance = case.instance(dtype="float64", size="small", mode=mode)
            tensors = instance.tensors("numpy")
            out = instance.fn(*tensors)
            (out * fnn.tensor(np.random.default_rng(0).normal(size=out.shape), backend="numpy")).sum().backward()
            for i, (t, grad) in enumerate(zip(tensors, instance.grad)):
                if grad:
                    assert t.grad is not None and np.abs(t.grad.numpy()).sum() > 0, (case.name, mode, i)
