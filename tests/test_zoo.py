"""The residual block layer and the ready-made models of ``fastnn.zoo``."""

import numpy as np
import pytest

import fastnn as fnn
import fastnn.functional as F
from fastnn import zoo
from fastnn.layers import Input, ResidualBlock


def _images(shape, seed=0, dtype="float64"):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


@pytest.mark.parametrize("channels, filters, strides", [(4, 4, 1), (3, 5, 1), (4, 4, 2), (2, 6, 2)])
def test_residual_block_is_relu_of_branch_plus_shortcut(numpy_backend_and_rng_restored, channels, filters, strides):
    block = ResidualBlock(filters, strides=strides, dtype="float64")
    x = fnn.tensor(_images((2, channels, 7, 5)))
    block.eval()  # running statistics: each sub-layer then gives the same output called alone
    y = block(x)
    branch = block.bn2(block.conv2(F.relu(block.bn1(block.conv1(x)))))
    if channels == filters and strides == 1:
        assert block.projection is None
        shortcut = x
    else:
        shortcut = block.projection_bn(block.projection(x))
    expected = np.maximum(branch.numpy() + shortcut.numpy(), 0.0)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert y.shape == (2, filters, -(-7 // strides), -(-5 // strides))
    assert block.compute_output_shape((channels, 7, 5)) == y.shape[1:]


def test_residual_block_parameter_count_follows_the_formula():
    model = fnn.Sequential([Input((3, 6, 6)), ResidualBlock(4, strides=2)], backend="numpy")
    convs = 3 * 3 * 3 * 4 + 3 * 3 * 4 * 4 + 1 * 1 * 3 * 4  # two 3x3 convolutions and the 1x1 projection
    batch_norms = 3 * 4 * 4  # gamma, beta, running mean and variance for each of three BN layers
    assert model.count_params() == convs + batch_norms


def test_residual_block_gradient_check(numpy_backend_and_rng_restored):
    block = ResidualBlock(3, strides=2, dtype="float64")
    x = fnn.tensor(_images((2, 2, 5, 5), seed=1), requires_grad=True)
    block(x)  # build
    assert fnn.testing.gradcheck(lambda x: (block(x) * block(x)).sum(), [x])


def test_residual_block_config_round_trip_rebuilds_the_same_structure():
    model = fnn.Sequential([Input((2, 5, 5)), ResidualBlock(4), ResidualBlock(6, strides=2)], backend="numpy")
    copy = fnn.layers.deserialize(model.get_config())
    assert [w.shape for w in copy.weights] == [w.shape for w in model.weights]
    assert [layer.get_config()["strides"] for layer in copy.layers] == [1, 2]


def test_residual_block_rejects_flat_inputs():
    with pytest.raises(ValueError, match="needs images"):
        fnn.Sequential([Input((16,)), ResidualBlock(4)], backend="numpy")


@pytest.mark.parametrize("name", sorted(zoo.MODELS))
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28)])
def test_zoo_models_output_one_logit_per_class(numpy_backend_and_rng_restored, name, shape):
    model = zoo.build(name, shape, 7, backend="numpy")
    assert model.output_shape == (None, 7)
    logits = model(_images((3,) + shape, dtype="float32"), training=False)
    assert logits.shape == (3, 7) and np.isfinite(logits.numpy()).all()


def test_zoo_rejects_unknown_names_and_flat_inputs_for_convolutions():
    with pytest.raises(ValueError, match="unknown model 'vgg'"):
        zoo.build("vgg", (1, 8, 8), 10)
    with pytest.raises(ValueError, match=r"cnn: needs image inputs"):
        zoo.build("cnn", (64,), 10)
