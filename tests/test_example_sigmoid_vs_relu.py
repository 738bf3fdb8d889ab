"""sigmoid_vs_relu.py: in a deep sigmoid network the gradient vanishes towards the input (sigma' <= 1/4)
and the network barely learns with plain SGD; the same network with ReLU keeps its gradients and learns."""

import math

import pytest
from backend_params import BACKENDS
from example_scripts import run_quick


@pytest.fixture(scope="module", params=BACKENDS)
def results(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("sigmoid_vs_relu")
    return run_quick("sigmoid_vs_relu", request.param, out), out


def test_the_sigmoid_derivative_peaks_at_one_quarter_at_zero(results):
    numbers, _ = results
    # sigma'(z) = sigma(z)(1 - sigma(z)) is largest where sigma(z) = 1/2, i.e. z = 0, where it is 1/2 * 1/2
    assert numbers["max_sigmoid_derivative"] == pytest.approx(0.25, abs=1e-6)
    assert numbers["z_at_max_derivative"] == pytest.approx(0.0, abs=1e-6)


def test_sigmoid_gradients_vanish_towards_the_input(results):
    numbers, _ = results
    hidden = numbers["hidden_layers"]
    assert hidden >= 8
    norms = numbers["sigmoid_gradient_norms"]
    assert len(norms) == hidden + 1  # every hidden layer and the output layer
    # shrinking layer after layer on the way back to the input ...
    assert all(earlier < later for earlier, later in zip(norms[:hidden - 1], norms[1:hidden]))
    # ... by orders of magnitude between the last hidden layer and the first
    assert norms[0] / norms[hidden - 1] == pytest.approx(numbers["sigmoid_first_to_last_hidden_ratio"])
    assert numbers["sigmoid_first_to_last_hidden_ratio"] < 1e-3


def test_relu_gradients_keep_their_size(results):
    numbers, _ = results
    norms = numbers["relu_gradient_norms"]
    hidden = numbers["hidden_layers"]
    assert all(math.isfinite(n) and n > 0 for n in norms)
    ratio = numbers["relu_first_to_last_hidden_ratio"]
    assert ratio == pytest.approx(norms[0] / norms[hidden - 1])
    assert 0.1 < ratio < 10
    assert numbers["sigmoid_first_to_last_hidden_ratio"] < ratio / 1000


def test_relu_learns_and_sigmoid_does_not(results):
    numbers, _ = results
    # the sigmoid network's loss stays near ln 10, the cross-entropy of a uniform guess over 10 classes
    assert numbers["sigmoid_losses"][-1] > 0.9 * math.log(10)
    assert numbers["relu_losses"][-1] < 0.5 * numbers["relu_losses"][0]
    assert numbers["relu_losses"][-1] < numbers["sigmoid_losses"][-1] - 1.0
    assert numbers["sigmoid_accuracy"] < 0.3  # chance is 0.1
    assert numbers["relu_accuracy"] > 0.6
    assert numbers["relu_accuracy"] - numbers["sigmoid_accuracy"] >= 0.3


def test_plots_written(results):
    _, out = results
    assert (out / "sigmoid_vs_relu.png").stat().st_size > 0
