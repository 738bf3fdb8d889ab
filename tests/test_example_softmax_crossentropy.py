"""Softmax cross-entropy lesson: one-hot (categorical) and integer (sparse) labels give the same
loss, the same gradient p - onehot and the same trained weights; binary cross-entropy on z is
the two-class softmax cross-entropy on (0, z); one-hot labels cost C * 4 / 8 times the memory.
Every expected value is recomputed here with NumPy from the formulas."""

import numpy as np
import pytest
from backend_params import BACKENDS
from example_scripts import run_quick


@pytest.fixture(scope="module", params=BACKENDS)
def results(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("softmax_crossentropy")
    return run_quick("softmax_crossentropy", request.param, out), out


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_softmax_is_the_normalised_exponential(results):
    numbers, _ = results
    z = np.array(numbers["example_logits"])
    probs = np.array(numbers["softmax_probabilities"])
    np.testing.assert_allclose(probs, np.exp(z) / np.exp(z).sum(axis=1, keepdims=True), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)


def test_crossentropy_is_minus_log_p_of_the_true_class_for_both_label_forms(results):
    numbers, _ = results
    z, y = np.array(numbers["example_logits"]), np.array(numbers["example_labels"])
    expected = np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(z)), y])   # log-sum-exp - z_y
    assert numbers["loss_sparse"] == pytest.approx(expected, rel=1e-12)
    assert numbers["loss_categorical"] == pytest.approx(expected, rel=1e-12)
    assert numbers["loss_sparse"] == pytest.approx(numbers["loss_categorical"], rel=1e-14)


def test_gradient_is_p_minus_onehot_for_both_label_forms(results):
    numbers, _ = results
    z, y = np.array(numbers["example_logits"]), np.array(numbers["example_labels"])
    expected = (softmax(z) - np.eye(z.shape[1])[y]) / len(z)   # the loss is a batch mean
    np.testing.assert_allclose(numbers["grad_sparse"], expected, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(numbers["grad_categorical"], expected, rtol=1e-10, atol=1e-14)
    # each row of the gradient sums to zero: the probabilities and the one-hot row both sum to 1
    np.testing.assert_allclose(np.sum(numbers["grad_sparse"], axis=1), 0.0, atol=1e-15)


def test_binary_crossentropy_is_the_two_class_softmax_on_zero_and_z(results):
    numbers, _ = results
    z, t = np.array(numbers["binary_logits"]), np.array(numbers["binary_targets"], dtype=float)
    assert 0 < t.sum() < len(t)   # both classes present, so both branches of BCE are checked
    sigmoid = 1 / (1 + np.exp(-z))
    expected = np.mean(-(t * np.log(sigmoid) + (1 - t) * np.log(1 - sigmoid)))
    two_class = np.stack([np.zeros_like(z), z], axis=1)
    expected_ce = np.mean(-np.log(softmax(two_class)[np.arange(len(z)), t.astype(int)]))
    assert expected == pytest.approx(expected_ce, rel=1e-12)   # the identity itself, in NumPy
    assert numbers["bce"] == pytest.approx(expected, rel=1e-12)
    assert numbers["two_class_ce"] == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(numbers["bce_grad"], (sigmoid - t) / len(z), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(numbers["two_class_grad"], (sigmoid - t) / len(z), rtol=1e-10, atol=1e-15)


def test_training_with_onehot_or_integer_labels_gives_the_same_weights(results):
    numbers, _ = results
    assert numbers["train_weight_change"] > 0.1          # training moved the weights ...
    assert numbers["train_weight_max_difference"] < 1e-5  # ... the same way for both label forms (float32)
    assert numbers["train_loss_sparse"] == pytest.approx(numbers["train_loss_categorical"], rel=1e-5)
    assert numbers["train_accuracy_sparse"] == numbers["train_accuracy_categorical"]
    assert numbers["train_accuracy_sparse"] > 0.3        # it learned something (chance: 0.1)


@pytest.mark.parametrize("name", ["10", "1000"])
def test_onehot_labels_take_classes_times_itemsize_ratio_more_memory(results, name):
    numbers, _ = results
    n, classes = numbers[f"memory_labels_{name}"], numbers[f"memory_classes_{name}"]
    assert classes == int(name)
    float32, int64 = np.dtype(np.float32).itemsize, np.dtype(np.int64).itemsize
    assert numbers[f"memory_onehot_bytes_{name}"] == n * classes * float32
    assert numbers[f"memory_integer_bytes_{name}"] == n * int64
    assert numbers[f"memory_ratio_{name}"] == pytest.approx(classes * float32 / int64)


def test_imagenet_sized_onehot_table_is_gigabytes(results):
    numbers, _ = results
    assert numbers["memory_onehot_gigabytes_imagenet"] == pytest.approx(1_281_167 * 1000 * 4 / 1e9)
    assert numbers["memory_integer_megabytes_imagenet"] == pytest.approx(1_281_167 * 8 / 1e6)


def test_plots_written(results):
    _, out = results
    assert (out / "softmax_crossentropy.png").stat().st_size > 0
