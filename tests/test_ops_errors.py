"""Bad inputs to every op fail early with ValueError / TypeError messages that name the
argument and the offending shapes or values (never a NumPy traceback from deep inside a
kernel, never a silent broadcast)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import fastnn as fnn
import fastnn.functional as F


@pytest.fixture(autouse=True)
def _numpy_backend():
    with fnn.use_backend("numpy"):
        yield


def t(*shape, dtype=np.float64):
    return fnn.tensor(np.ones(shape, dtype=dtype))


def raises(exc, *fragments):
    """pytest.raises whose message must contain every fragment (literally)."""
    return pytest.raises(exc, match="(?s)" + "".join(f"(?=.*{re.escape(f)})" for f in fragments))


# -- linear and matmul ---------------------------------------------------------------------------

def test_linear_shape_mismatch():
    with raises(ValueError, "linear", "(2, 3)", "(4, 5)"):
        F.linear(t(2, 3), t(4, 5))
    with raises(ValueError, "linear", "bias", "(5,)", "(4,)"):
        F.linear(t(2, 3), t(3, 5), t(4))
    with raises(ValueError, "linear", "weight", "2-D", "(3,)"):
        F.linear(t(2, 3), t(3))


def test_linear_dtype_mismatch_names_both():
    with raises(TypeError, "linear", "x=float32", "weight=float64"):
        F.linear(t(2, 3, dtype=np.float32), t(3, 4))
    with raises(TypeError, "linear", "x", "int64"):
        F.linear(fnn.tensor(np.ones((2, 3), dtype=np.int64)), t(3, 4))


def test_matmul_misalignment():
    with raises(ValueError, "matmul", "(2, 3)", "(4, 5)", "3 != 4"):
        t(2, 3) @ t(4, 5)
    with raises(ValueError, "matmul", "(3,)", "(4,)"):
        t(3) @ t(4)
    with raises(ValueError, "matmul", "(2, 3, 4)", "(3, 4, 5)", "batch"):
        t(2, 3, 4) @ t(3, 4, 5)
    with raises(ValueError, "matmul", "at least 1 dimension"):
        t(3) @ fnn.tensor(np.float64(2.0))


def test_elementwise_broadcast_error_names_shapes():
    with raises(ValueError, "add", "(2, 3)", "(4,)"):
        t(2, 3) + t(4)
    with raises(ValueError, "multiply", "(2, 3)", "(3, 2)"):
        t(2, 3) * t(3, 2)


# -- activations ---------------------------------------------------------------------------------

def test_activation_rejects_integer_input_and_bad_axis():
    with raises(TypeError, "relu", "x", "int64"):
        F.relu(fnn.tensor([1, 2]))
    with raises(ValueError, "softmax", "axis 2", "(2, 3)"):
        F.softmax(t(2, 3), axis=2)
    with raises(ValueError, "log_softmax", "axis -3"):
        F.log_softmax(t(2, 3), axis=-3)


def test_unknown_activation_lists_valid_names():
    with raises(ValueError, "'swish'", "relu", "sigmoid", "tanh", "gelu", "softmax", "linear"):
        F.linear(t(2, 3), t(3, 4), activation="swish")


# -- convolution and pooling ------------------------------------------------------------------------

def test_conv_channel_mismatch():
    with raises(ValueError, "conv2d", "3 channels", "(1, 3, 5, 5)", "expects 4", "(2, 4, 3, 3)"):
        F.conv2d(t(1, 3, 5, 5), t(2, 4, 3, 3))


def test_conv_kernel_bigger_than_input():
    with raises(ValueError, "conv2d", "(1, 3, 2, 2)", "kernel (3, 3)"):
        F.conv2d(t(1, 3, 2, 2), t(2, 3, 3, 3))
    # padding makes it fit
    assert F.conv2d(t(1, 3, 2, 2), t(2, 3, 3, 3), padding=1).shape == (1, 2, 2, 2)


def test_conv_bad_arguments():
    with raises(ValueError, "conv2d", "x", "4-D", "(3, 5, 5)"):
        F.conv2d(t(3, 5, 5), t(2, 3, 3, 3))
    with raises(ValueError, "conv2d", "weight", "4-D", "(2, 3, 3)"):
        F.conv2d(t(1, 3, 5, 5), t(2, 3, 3))
    with raises(ValueError, "conv2d", "bias", "(2,)", "(3,)"):
        F.conv2d(t(1, 3, 5, 5), t(2, 3, 3, 3), t(3))
    with raises(ValueError, "stride", "(0, 0)"):
        F.conv2d(t(1, 3, 5, 5), t(2, 3, 3, 3), stride=0)
    with raises(ValueError, "stride", "(1, 2, 3)"):
        F.conv2d(t(1, 3, 5, 5), t(2, 3, 3, 3), stride=(1, 2, 3))
    with raises(ValueError, "padding", "'full'", "same"):
        F.conv2d(t(1, 3, 5, 5), t(2, 3, 3, 3), padding="full")
    with raises(ValueError, "padding", "-1"):
        F.conv2d(t(1, 3, 5, 5), t(2, 3, 3, 3), padding=-1)
    with raises(ValueError, "padding", "(1, -2, 0, 0)"):
        F.conv2d(t(1, 3, 5, 5), t(2, 3, 3, 3), padding=(1, -2, 0, 0))
    with raises(ValueError, "padding", "(1, 2, 3)"):
        F.conv2d(t(1, 3, 5, 5), t(2, 3, 3, 3), padding=(1, 2, 3))
    with raises(TypeError, "conv2d", "x=float32", "weight=float64"):
        F.conv2d(t(1, 3, 5, 5, dtype=np.float32), t(2, 3, 3, 3))


@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d])
def test_pooling_errors(pool):
    name = pool.__name__
    with raises(ValueError, name, "padding 2", "half", "(2, 2)"):
        pool(t(1, 1, 5, 5), 2, padding=2)
    with raises(ValueError, name, "padding (1, 2)", "(3, 3)"):
        pool(t(1, 1, 5, 5), 3, padding=(1, 2))
    with raises(ValueError, name, "padding (0, 0, 2, 0)"):
        pool(t(1, 1, 5, 5), 2, padding=(0, 0, 2, 0))
    with raises(ValueError, name, "(1, 1, 2, 2)", "kernel (3, 3)"):
        pool(t(1, 1, 2, 2), 3)
    with raises(ValueError, name, "kernel_size", "stride", "(0, 0)"):
        pool(t(1, 1, 5, 5), 0)
    with raises(ValueError, name, "stride", "(0, 0)"):
        pool(t(1, 1, 5, 5), 3, stride=0)
    with raises(ValueError, name, "x", "4-D", "(1, 5, 5)"):
        pool(t(1, 5, 5), 2)
    with raises(ValueError, "kernel_size", "(1, 2, 3)"):
        pool(t(1, 1, 5, 5), (1, 2, 3))
    with raises(TypeError, name, "x", "int64"):
        pool(fnn.tensor(np.ones((1, 1, 4, 4), dtype=np.int64)), 2)
    # exactly half the kernel is allowed
    assert pool(t(1, 1, 5, 5), 3, stride=1, padding=1).shape == (1, 1, 5, 5)


# -- batch norm ------------------------------------------------------------------------------------

def test_batch_norm_wrong_param_shapes():
    with raises(ValueError, "batch_norm", "gamma", "(3,)", "(4, 3)", "(4,)"):
        F.batch_norm(t(4, 3), t(4), t(3), None, None, training=True)
    with raises(ValueError, "batch_norm", "beta", "(3,)", "(2,)"):
        F.batch_norm(t(4, 3), t(3), t(2), t(3), t(3), training=False)
    with raises(ValueError, "batch_norm", "running_mean", "(3,)", "(2,)"):
        F.batch_norm(t(4, 3), t(3), t(3), t(2), t(2), training=True)
    with raises(ValueError, "batch_norm", "running_var", "(5,)"):
        F.batch_norm(t(2, 5, 3, 3), None, None, t(5), t(4), training=False)
    with raises(ValueError, "batch_norm", "x", "2-D or 4-D", "(4, 3, 2)"):
        F.batch_norm(t(4, 3, 2), None, None, None, None, training=True)


def test_batch_norm_single_value_per_channel_in_training():
    with raises(ValueError, "batch_norm", "more than one value per channel", "(1, 3)"):
        F.batch_norm(t(1, 3), t(3), t(3), t(3), t(3), training=True)
    with raises(ValueError, "batch_norm", "(1, 3, 1, 1)"):
        F.batch_norm(t(1, 3, 1, 1), None, None, None, None, training=True)
    # inference with one sample is fine
    assert F.batch_norm(t(1, 3), t(3), t(3), t(3), t(3), training=False).shape == (1, 3)


def test_batch_norm_other_arguments():
    with raises(ValueError, "batch_norm", "both running_mean and running_var"):
        F.batch_norm(t(4, 3), None, None, t(3), None, training=True)
    with raises(ValueError, "batch_norm", "momentum", "2"):
        F.batch_norm(t(4, 3), None, None, None, None, training=True, momentum=2)
    with raises(ValueError, "batch_norm", "eps", "0"):
        F.batch_norm(t(4, 3), None, None, None, None, training=True, eps=0)
    with raises(TypeError, "batch_norm", "gamma=float32"):
        F.batch_norm(t(4, 3), t(3, dtype=np.float32), None, None, None, training=True)


# -- dropout ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [1.5, -0.1, float("nan"), "0.5", None, True])
def test_dropout_rate_outside_unit_interval(rate):
    with raises(ValueError, "dropout", "rate", repr(rate)):
        F.dropout(t(3), rate, training=True)


def test_dropout_accepts_numpy_rates():
    fnn.manual_seed(0)
    y = F.dropout(t(1000), np.float32(0.5), training=True).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0} and 0.4 < (y != 0).mean() < 0.6


def test_dropout_rejects_integer_tensors():
    with raises(TypeError, "dropout", "x", "int64"):
        F.dropout(fnn.tensor([1, 2, 3]), 0.5, training=True)


# -- embedding --------------------------------------------------------------------------------------

def test_embedding_errors():
    with raises(ValueError, "embedding", "indices[1]", "= 6", "[0, 5)"):
        F.embedding(np.array([0, 6, 7]), t(5, 2))
    with raises(ValueError, "embedding", "indices[0, 2]", "= -1"):
        F.embedding(np.array([[0, 1, -1]]), t(5, 2))
    with raises(TypeError, "embedding", "indices", "float64"):
        F.embedding(np.array([0.0, 1.0]), t(5, 2))
    with raises(ValueError, "embedding", "weight", "2-D", "(5,)"):
        F.embedding(np.array([0, 1]), t(5))


# -- losses -----------------------------------------------------------------------------------------

def test_labels_out_of_range_name_the_first_bad_index():
    with raises(ValueError, "sparse_categorical_crossentropy", "labels[1] = 4", "[0, 4)"):
        F.sparse_categorical_crossentropy(t(3, 4), np.array([0, 4, 5]))
    with raises(ValueError, "labels[2] = -1"):
        F.sparse_categorical_crossentropy(t(3, 4), fnn.tensor(np.array([0, 3, -1])))
    with raises(ValueError, "labels[1, 0] = 9"):
        F.sparse_categorical_crossentropy(t(2, 2, 4), np.array([[0, 1], [9, 9]]))


def test_float_labels_are_a_type_error():
    with raises(TypeError, "sparse_categorical_crossentropy", "labels", "integers", "float64"):
        F.sparse_categorical_crossentropy(t(3, 4), np.array([0.0, 1.0, 2.0]))
    with raises(TypeError, "labels", "float32"):
        F.sparse_categorical_crossentropy(t(3, 4), fnn.tensor([0.0, 1.0, 2.0]))


def test_sparse_ce_shape_errors():
    with raises(ValueError, "labels must have shape (3,)", "(3, 4)", "got (2,)"):
        F.sparse_categorical_crossentropy(t(3, 4), np.array([0, 1]))
    with raises(ValueError, "labels must have shape (3,)", "got (3, 1)"):
        F.sparse_categorical_crossentropy(t(3, 4), np.array([[0], [1], [2]]))
    with raises(ValueError, "logits", "(N, C)", "(4,)"):
        F.sparse_categorical_crossentropy(t(4), np.array([0]))


@pytest.mark.parametrize("loss,pred_name,target_name", [
    (F.mse, "pred", "target"), (F.mae, "pred", "target"),
    (F.binary_crossentropy, "logits", "targets"), (F.categorical_crossentropy, "logits", "targets"),
])
def test_loss_shape_mismatch_does_not_broadcast(loss, pred_name, target_name):
    with raises(ValueError, loss.__name__, pred_name, "(3, 1)", target_name, "(3,)", "no silent broadcasting"):
        loss(t(3, 1), t(3))
    with raises(ValueError, "(3, 4)", "(4,)"):
        loss(t(3, 4), t(4))


def test_loss_dtype_errors():
    with raises(TypeError, "mse", "target", "int64"):
        F.mse(t(3), fnn.tensor([1, 2, 3]))
    with raises(TypeError, "binary_crossentropy", "targets", "numeric"):
        F.binary_crossentropy(t(3), np.array(["1", "0", "1"]))
    with raises(TypeError, "categorical_crossentropy", "logits=float64", "targets=float32"):
        F.categorical_crossentropy(t(2, 3), t(2, 3, dtype=np.float32))
    with raises(ValueError, "categorical_crossentropy", "(N, C)"):
        F.categorical_crossentropy(t(3), t(3))
    with raises(ValueError, "l2", "lam", "-1"):
        F.l2(t(2), -1)


def test_integer_label_arrays_are_exact_targets():
    """0/1 labels as an int or bool array mean the same as the float labels (a list already did)."""
    logits = t(4)
    as_float = F.binary_crossentropy(logits, np.array([1.0, 0.0, 1.0, 1.0])).item()
    assert F.binary_crossentropy(logits, np.array([1, 0, 1, 1])).item() == as_float
    assert F.binary_crossentropy(logits, np.array([True, False, True, True])).item() == as_float
    assert F.mse(logits, np.array([1, 0, 1, 1])).item() == F.mse(logits, [1.0, 0.0, 1.0, 1.0]).item()


def test_losses_refuse_an_empty_batch():
    with raises(ValueError, "sparse_categorical_crossentropy", "empty"):
        F.sparse_categorical_crossentropy(t(0, 3), np.zeros(0, dtype=np.int64))
    with raises(ValueError, "mse", "empty"):
        F.mse(t(0), t(0))


# -- tensor-level argument errors ---------------------------------------------------------------------

def test_reduction_and_shape_errors():
    with raises(ValueError, "Tensor.sum: axis must be", "2 dimensions", "got (0, 5)"):
        t(2, 3).sum(axis=(0, 5))
    with raises(ValueError, "Tensor.mean: axis must be", "got -3"):
        t(2, 3).mean(axis=-3)
    with raises(ValueError, "reshape", "(2, 3)", "(4, 2)"):
        t(2, 3).reshape(4, 2)
    with raises(ValueError, "transpose", "(0, 2)"):
        t(2, 3).transpose(0, 2)
    with raises(ValueError, "max", "empty"):
        t(0, 3).max()


def test_unknown_initializer_lists_valid_names():
    with raises(ValueError, "'foo'", "glorot_uniform", "he_normal", "zeros", "orthogonal", "xavier_uniform"):
        fnn.init.get("foo")
    with raises(ValueError, "'foo'", "glorot_uniform"):
        fnn.init.initialize("foo", (2, 2), "float32", None)
