"""fastnn.losses and fastnn.metrics: values against NumPy formulas, the logits of a final
softmax / sigmoid used by the cross-entropies, lookup by name, configs, stateful means."""

import numpy as np
import pytest

import fastnn as fnn
import fastnn.functional as F
from fastnn import losses, metrics
from fastnn.layers import Dense


def t(array, requires_grad=False, backend="numpy"):
    return fnn.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad, backend=backend)


RNG = np.random.default_rng(0)
Z = RNG.standard_normal((6, 4)) * 3
LABELS = np.array([0, 3, 1, 1, 2, 0])


def log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


# -- losses ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, cls", [
    ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy),
    ("categorical_crossentropy", losses.CategoricalCrossentropy),
    ("binary_crossentropy", losses.BinaryCrossentropy),
    ("mse", losses.MeanSquaredError), ("mean_squared_error", losses.MeanSquaredError),
    ("mae", losses.MeanAbsoluteError), ("mean_absolute_error", losses.MeanAbsoluteError),
])
def test_get_by_name(name, cls):
    assert type(losses.get(name)) is cls


def test_get_errors_and_passthrough():
    with pytest.raises(ValueError, match=r"unknown loss 'hinge'; valid names are sparse_categorical_crossentropy"):
        losses.get("hinge")
    with pytest.raises(TypeError, match="got int"):
        losses.get(3)
    loss = losses.BinaryCrossentropy()
    assert losses.get(loss) is loss
    wrapped = losses.get(F.mse)
    assert isinstance(wrapped, losses.LossFunctionWrapper) and wrapped.name == "mse"


def test_values_match_the_formulas():
    soft = np.abs(RNG.standard_normal((6, 4)))
    soft /= soft.sum(axis=1, keepdims=True)
    p, target = RNG.standard_normal((6, 2)), RNG.uniform(size=(6, 2))
    expected = {
        "sparse": -log_softmax(Z)[np.arange(6), LABELS].mean(),
        "categorical": -(soft * log_softmax(Z)).sum(axis=1).mean(),
        "binary": np.mean(np.maximum(p, 0) - p * target + np.log1p(np.exp(-np.abs(p)))),
        "mse": np.mean((p - target) ** 2),
        "mae": np.mean(np.abs(p - target)),
    }
    actual = {
        "sparse": losses.SparseCategoricalCrossentropy()(t(Z), LABELS).item(),
        "categorical": losses.CategoricalCrossentropy()(t(Z), soft).item(),
        "binary": losses.BinaryCrossentropy()(t(p), target).item(),
        "mse": losses.MeanSquaredError()(t(p), target).item(),
        "mae": losses.MeanAbsoluteError()(t(p), target).item(),
    }
    for key in expected:
        assert actual[key] == pytest.approx(expected[key], rel=1e-12), key


def test_flat_targets_against_a_single_output_column_and_integer_targets():
    p = RNG.standard_normal((5, 1))
    y = np.array([0, 1, 1, 0, 1])
    bce = losses.BinaryCrossentropy()
    assert bce(t(p), y).item() == pytest.approx(bce(t(p), y[:, None].astype(float)).item())
    assert losses.MeanSquaredError()(t(p), y).item() == pytest.approx(np.mean((p[:, 0] - y) ** 2))
    onehot = fnn.tensor(np.eye(4, dtype=np.int64)[LABELS], backend="numpy")  # integer one-hot tensor: cast
    assert losses.CategoricalCrossentropy()(t(Z), onehot).item() == pytest.approx(
        losses.SparseCategoricalCrossentropy()(t(Z), LABELS).item())


@pytest.mark.parametrize("backend", ["numpy", "cpu"])
def test_cross_entropy_of_a_softmax_output_uses_its_logits_value_and_gradient(backend):
    big = Z * 100  # probabilities round to 0 and 1: log(probability) would be -inf
    loss = losses.SparseCategoricalCrossentropy()
    z1, z2 = t(big, True, backend), t(big, True, backend)
    direct = loss(z1, LABELS)
    peeled = loss(F.softmax(z2), LABELS)
    assert np.isfinite(direct.item()) and peeled.item() == pytest.approx(direct.item(), rel=1e-12)
    direct.backward()
    peeled.backward()
    np.testing.assert_allclose(z2.grad.numpy(), z1.grad.numpy(), rtol=1e-12)
    onehot = np.eye(4)[LABELS]
    assert losses.CategoricalCrossentropy()(F.softmax(t(big, backend=backend)), onehot).item() == pytest.approx(
        direct.item(), rel=1e-12)
    with fnn.no_grad():  # evaluation: the record is there without a graph too
        assert loss(F.softmax(t(big, backend=backend)), LABELS).item() == pytest.approx(direct.item(), rel=1e-12)


def test_binary_crossentropy_of_a_sigmoid_output_uses_its_logits():
    z = RNG.standard_normal((8, 1)) * 60
    y = (RNG.uniform(size=(8, 1)) > 0.5).astype(float)
    loss = losses.BinaryCrossentropy()
    expected = loss(t(z), y).item()
    assert np.isfinite(expected)
    assert loss(F.sigmoid(t(z)), y).item() == pytest.approx(expected, rel=1e-12)
    # Dense(activation="sigmoid") fuses the sigmoid into the linear kernel: its logits are recomputed
    dense = Dense(1, activation="sigmoid", dtype="float64")
    x = t(RNG.standard_normal((8, 3)))
    out = dense(x)
    logits = x.numpy() @ dense.kernel.numpy() + dense.bias.numpy()
    ref = np.mean(np.maximum(logits, 0) - logits * y + np.log1p(np.exp(-np.abs(logits))))
    assert loss(out, y).item() == pytest.approx(ref, rel=1e-12)
    out = dense(x)
    loss(out, y).backward()
    x_plain = t(x.numpy())
    plain = Dense(1, dtype="float64")
    plain(x_plain)
    plain.set_weights(dense.get_weights())
    loss(plain(x_plain), y).backward()
    np.testing.assert_allclose(dense.kernel.grad.numpy(), plain.kernel.grad.numpy(), rtol=1e-12)


def test_what_is_not_peeled():
    z = t(Z)
    y = np.eye(4)[LABELS]
    probs = F.softmax(z)
    # regression losses take the output as it is
    assert losses.MeanSquaredError()(probs, y).item() == pytest.approx(np.mean((probs.numpy() - y) ** 2))
    # an op after the activation: the output is taken as logits
    scaled = probs * 1.0
    assert losses.CategoricalCrossentropy()(scaled, y).item() == pytest.approx(
        -(y * log_softmax(probs.numpy())).sum(axis=1).mean())
    # a sigmoid output is not peeled by the categorical cross-entropy
    sig = F.sigmoid(z)
    assert losses.CategoricalCrossentropy()(sig, y).item() == pytest.approx(
        -(y * log_softmax(sig.numpy())).sum(axis=1).mean())
    # softmax over another axis keeps no record
    assert fnn.ops.activations.pre_activation(F.softmax(z, axis=0), "softmax") is None


def test_loss_configs_round_trip_and_functions_need_custom_objects():
    for loss in (losses.SparseCategoricalCrossentropy(), losses.MeanAbsoluteError(name="l1")):
        again = losses.from_config(loss.get_config())
        assert type(again) is type(loss) and again.name == loss.name
        assert losses.get(loss.get_config()).get_config() == loss.get_config()

    def my_loss(pred, target):
        return F.mse(pred, target)

    config = losses.get(my_loss).get_config()
    with pytest.raises(ValueError, match=r"custom_objects=\{'my_loss': fn\}"):
        losses.from_config(config)
    assert losses.from_config(config, {"my_loss": my_loss}).fn is my_loss


def test_plain_function_must_return_a_one_element_tensor():
    loss = losses.get(lambda pred, target: 1.0)
    with pytest.raises(TypeError, match="must return a one-element fastnn Tensor, got float"):
        loss(t(Z), LABELS)


# -- metrics --------------------------------------------------------------------------------------

def test_sparse_accuracy_is_a_mean_over_samples_across_batches():
    metric = metrics.SparseCategoricalAccuracy()
    metric.update_state(t(Z[:4]), LABELS[:4])
    metric.update_state(t(Z[4:]), LABELS[4:])
    hits = Z.argmax(axis=1) == LABELS
    assert metric.result() == pytest.approx(hits.mean())
    assert metric.batch_result() == pytest.approx(hits[4:].mean())
    assert metric.count == 6
    metric.reset_state()
    assert metric.result() == 0.0 and metric.count == 0
    assert metric(t(Z), LABELS) == pytest.approx(hits.mean())  # stateless call


def test_categorical_and_top_k_accuracy():
    onehot = np.eye(4)[LABELS]
    assert metrics.CategoricalAccuracy()(t(Z), onehot) == pytest.approx(np.mean(Z.argmax(1) == LABELS))
    rank = (Z > Z[np.arange(6), LABELS][:, None]).sum(axis=1)  # classes scored above the true one
    for k in (1, 2, 3):
        metric = metrics.TopKAccuracy(k=k)
        assert metric(t(Z), LABELS) == pytest.approx(np.mean(rank < k))
        assert metric(t(Z), onehot) == pytest.approx(np.mean(rank < k))
    assert metrics.TopKAccuracy(k=1)(t(Z), LABELS) == metrics.SparseCategoricalAccuracy()(t(Z), LABELS)
    assert metrics.TopKAccuracy().name == "top_k_accuracy" and metrics.TopKAccuracy(k=3).name == "top_3_accuracy"
    with pytest.raises(ValueError, match="k must be a positive int"):
        metrics.TopKAccuracy(k=0)


def test_binary_accuracy_thresholds_probabilities_or_logits():
    z = np.array([[-2.0], [-0.1], [0.2], [3.0]])
    y = np.array([0, 1, 1, 0])
    probs = F.sigmoid(t(z))
    assert metrics.BinaryAccuracy()(probs, y) == 0.5
    assert metrics.BinaryAccuracy(from_logits=True)(t(z), y) == 0.5  # logit > 0 is probability > 0.5
    assert metrics.BinaryAccuracy(from_logits=True)(probs, y) == 0.5  # a sigmoid output is a probability
    assert metrics.BinaryAccuracy()(t(z), y) == 0.25  # values compared with 0.5 as they are: 0.2 is below
    assert metrics.BinaryAccuracy(threshold=0.1)(t(z), y) == 0.5
    assert metrics.BinaryAccuracy(threshold=0.9, from_logits=True)(t(z), y) == 0.25  # logit(0.9) = 2.2


def test_regression_metrics():
    p, target = RNG.standard_normal((5, 2)), RNG.standard_normal((5, 2))
    assert metrics.MeanAbsoluteError()(t(p), target) == pytest.approx(np.mean(np.abs(p - target)))
    assert metrics.MeanSquaredError()(t(p), target) == pytest.approx(np.mean((p - target) ** 2))
    column = RNG.standard_normal((5, 1))
    assert metrics.MeanSquaredError()(t(column), target[:, 0]) == pytest.approx(
        np.mean((column[:, 0] - target[:, 0]) ** 2))


@pytest.mark.parametrize("loss, cls", [
    ("sparse_categorical_crossentropy", metrics.SparseCategoricalAccuracy),
    ("categorical_crossentropy", metrics.CategoricalAccuracy),
    ("binary_crossentropy", metrics.BinaryAccuracy),
    ("mse", metrics.Accuracy), (None, metrics.Accuracy),
])
def test_accuracy_follows_the_loss(loss, cls):
    metric = metrics.get("accuracy", None if loss is None else losses.get(loss))
    assert type(metric) is cls and metric.name == "accuracy"
    assert metrics.get("acc", None if loss is None else losses.get(loss)).name == "acc"
    if loss == "binary_crossentropy":
        assert metric.from_logits


def test_auto_accuracy_picks_its_kind_from_the_shapes():
    metric = metrics.Accuracy()
    assert metric(t(Z), LABELS) == pytest.approx(np.mean(Z.argmax(1) == LABELS))
    assert metric(t(Z), np.eye(4)[LABELS]) == pytest.approx(np.mean(Z.argmax(1) == LABELS))
    assert metric(t([[0.2], [0.7]]), [0, 0]) == 0.5


def test_metric_names_configs_and_errors():
    for name, cls in [("top_k_accuracy", metrics.TopKAccuracy), ("sparse_top_k_categorical_accuracy",
                                                                   metrics.TopKAccuracy),
                      ("mae", metrics.MeanAbsoluteError), ("mse", metrics.MeanSquaredError),
                      ("binary_accuracy", metrics.BinaryAccuracy)]:
        metric = metrics.get(name)
        assert type(metric) is cls and metric.name == name
        again = metrics.from_config(metric.get_config())
        assert type(again) is cls and again.get_config() == metric.get_config()
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        metrics.get("f1")
    with pytest.raises(ValueError, match=r"labels must have shape \(6,\)"):
        metrics.SparseCategoricalAccuracy()(t(Z), LABELS[:5])


def test_metrics_on_the_cpu_backend_match_numpy():
    metric = metrics.SparseCategoricalAccuracy()
    metric.update_state(t(Z, backend="cpu"), fnn.tensor(LABELS, backend="cpu"))
    assert metric.result() == pytest.approx(np.mean(Z.argmax(1) == LABELS))
