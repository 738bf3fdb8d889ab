"""cnn.py: a small CNN reaches >= 0.97 test accuracy on the 8x8 digits; every conv/pool output
size follows (H - k + 2p) / s + 1 and every parameter count F (C k k + 1) or n m + m, so the CNN
needs fewer weights than the MLP; MNIST is trained on only when asked for or already on disk,
never downloaded by default."""

import math

import numpy as np
import pytest
from backend_params import BACKENDS
from example_scripts import load, run_quick

import fastnn as fnn
from fastnn.datasets import mnist as mnist_module

# The lesson's network, as its docstring states it: two 3x3 convolutions (16 and 32 filters)
# with one pixel of zero padding and stride 1, each followed by 2x2 max pooling with stride 2,
# then Flatten and Dense(10); the MLP baseline is Flatten -> Dense(128) -> Dense(10).
CHANNELS, FILTERS, KERNEL, PAD, POOL, CLASSES, MLP_HIDDEN = 1, (16, 32), 3, 1, 2, 10, 128


def output_size(size, kernel, padding, stride):
    return math.floor((size - kernel + 2 * padding) / stride) + 1


def expected_shapes(size):
    """conv1, pool1, conv2, pool2 output shapes (C, H, W) for a size x size image."""
    shapes = {}
    for name, filters, kernel, padding, stride in [("conv1", FILTERS[0], KERNEL, PAD, 1),
                                                   ("pool1", FILTERS[0], POOL, 0, POOL),
                                                   ("conv2", FILTERS[1], KERNEL, PAD, 1),
                                                   ("pool2", FILTERS[1], POOL, 0, POOL)]:
        size = output_size(size, kernel, padding, stride)
        shapes[name] = [filters, size, size]
    return shapes


def expected_parameters(size):
    """Parameter counts of the CNN and the MLP for a single-channel size x size image."""
    conv1 = FILTERS[0] * (CHANNELS * KERNEL * KERNEL + 1)
    conv2 = FILTERS[1] * (FILTERS[0] * KERNEL * KERNEL + 1)
    flat = math.prod(expected_shapes(size)["pool2"])
    dense = flat * CLASSES + CLASSES
    pixels = CHANNELS * size * size
    mlp = (pixels * MLP_HIDDEN + MLP_HIDDEN) + (MLP_HIDDEN * CLASSES + CLASSES)
    return {"conv1": conv1, "conv2": conv2, "dense": dense, "cnn": conv1 + conv2 + dense, "mlp": mlp}


def write_fake_mnist(folder):
    """A stand-in for MNIST in its Keras .npz format: the 8x8 digits blown up 3x and padded to
    28x28 uint8 images, so the --mnist path runs offline, in seconds, on learnable data."""
    (x_train, y_train), (x_test, y_test) = fnn.datasets.load_digits(flat=False)

    def to_28(x):
        big = np.kron(x[:, 0], np.ones((3, 3)))                       # (n, 24, 24)
        return np.round(np.pad(big, ((0, 0), (2, 2), (2, 2))) * 255).astype(np.uint8)

    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "mnist.npz", x_train=to_28(x_train), y_train=y_train.astype(np.uint8),
             x_test=to_28(x_test), y_test=y_test.astype(np.uint8))


@pytest.fixture(scope="module", params=BACKENDS)
def results(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("cnn")
    data = tmp_path_factory.mktemp("cnn_data")
    write_fake_mnist(data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FASTNN_DATA", str(data))
        patch.setenv("FASTNN_OFFLINE", "1")          # never the network, whatever the script does
        return run_quick("cnn", request.param, out, "--mnist"), out


def test_cnn_reads_digits(results):
    numbers, _ = results
    assert numbers["digits_test_accuracy"] >= 0.97


@pytest.mark.parametrize("layer, by_hand", [("conv1", [16, 8, 8]),   # (8 - 3 + 2) / 1 + 1 = 8
                                             ("pool1", [16, 4, 4]),   # (8 - 2 + 0) / 2 + 1 = 4
                                             ("conv2", [32, 4, 4]),   # (4 - 3 + 2) / 1 + 1 = 4
                                             ("pool2", [32, 2, 2])])  # (4 - 2 + 0) / 2 + 1 = 2
def test_output_size_formula(results, layer, by_hand):
    numbers, _ = results
    assert numbers[f"{layer}_output_shape"] == expected_shapes(8)[layer] == by_hand


def test_parameter_counts_follow_the_formulas(results):
    numbers, _ = results
    expected = expected_parameters(8)
    assert expected == {"conv1": 160, "conv2": 4640, "dense": 1290, "cnn": 6090, "mlp": 9610}
    for name in ("conv1", "conv2", "dense"):
        assert numbers[f"{name}_parameters"] == expected[name]
    assert numbers["cnn_parameters"] == expected["cnn"]
    assert numbers["mlp_parameters"] == expected["mlp"]
    assert numbers["cnn_parameters"] < numbers["mlp_parameters"]


def test_weight_sharing(results):
    numbers, _ = results
    # a dense layer giving conv1's 16 x 8 x 8 outputs from the 64 pixels: n m + m weights
    outputs = 16 * 8 * 8
    assert numbers["conv1_as_dense_parameters"] == 64 * outputs + outputs == 66560
    assert numbers["conv1_parameters"] * 400 < numbers["conv1_as_dense_parameters"]


def test_mlp_is_a_working_baseline(results):
    numbers, _ = results
    assert numbers["mlp_test_accuracy"] > 0.9


def test_mnist_when_asked_for(results):
    numbers, _ = results
    expected = expected_parameters(28)
    assert numbers["mnist_cnn_parameters"] == expected["cnn"] == 20490
    assert numbers["mnist_mlp_parameters"] == expected["mlp"] == 101770
    assert numbers["mnist_test_accuracy"] > 0.8


def test_plots_written(results):
    _, out = results
    for name in ("feature_maps.png", "accuracy.png"):
        assert (out / name).stat().st_size > 0


@pytest.fixture
def no_mnist_anywhere(tmp_path, monkeypatch):
    """Every place load_mnist searches is empty, and a download attempt fails the test."""
    for variable in ("FASTNN_DATA", "XDG_CACHE_HOME", "KERAS_HOME"):
        monkeypatch.setenv(variable, str(tmp_path / variable.lower()))
    monkeypatch.delenv("FASTNN_OFFLINE", raising=False)

    def no_download(*args, **kwargs):
        raise AssertionError("cnn.py tried to download MNIST")

    monkeypatch.setattr(mnist_module, "download_all", no_download)


def test_no_mnist_lookup_and_no_download_by_default(no_mnist_anywhere):
    cnn = load("cnn")
    assert cnn.train_on_mnist(quick=True, requested=False) == {}     # quick: never looks
    assert cnn.train_on_mnist(quick=False, requested=False) == {}    # full: looks on disk only


def test_asking_for_mnist_offline_says_where_it_looked(no_mnist_anywhere, monkeypatch):
    monkeypatch.setenv("FASTNN_OFFLINE", "1")
    with pytest.raises(fnn.datasets.DatasetNotFoundError, match="FASTNN_OFFLINE"):
        load("cnn").train_on_mnist(quick=True, requested=True)
