"""xor_mlp.py: a 2-2-1 network (tanh hidden layer, sigmoid output) trained with binary
cross-entropy solves XOR; its printed forward pass is the network's own computation."""
import numpy as np
import pytest
from backend_params import BACKENDS
from example_scripts import run_quick

INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
XOR = np.array([0, 1, 1, 0])


@pytest.fixture(scope="module", params=BACKENDS)
def results(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("xor_mlp")
    return run_quick("xor_mlp", request.param, out), out


def forward(numbers):
    """The 2-2-1 network recomputed here from the learned weights."""
    w1, b1 = np.array(numbers["W1"]), np.array(numbers["b1"])
    w2, b2 = np.array(numbers["W2"]), np.array(numbers["b2"])
    assert w1.shape == (2, 2) and b1.shape == (2,) and w2.shape == (2, 1) and b2.shape == (1,)
    z1 = INPUTS @ w1 + b1
    h = np.tanh(z1)
    z2 = h @ w2 + b2
    return z1, h, z2.ravel(), 1.0 / (1.0 + np.exp(-z2.ravel()))


def test_all_four_xor_points_are_right(results):
    numbers, _ = results
    assert numbers["solved"] is True
    _, _, _, y = forward(numbers)
    np.testing.assert_array_equal((y > 0.5).astype(int), XOR)
    # not by a hair: every output is within 0.25 of its target
    assert np.all(np.abs(y - XOR) < 0.25)
    assert numbers["final_loss"] < 0.1


def test_printed_forward_pass_is_the_network(results):
    numbers, _ = results
    z1, h, z2, y = forward(numbers)
    np.testing.assert_allclose(numbers["hidden_pre_activations"], z1, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(numbers["hidden_activations"], h, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(numbers["output_pre_activations"], z2, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(numbers["outputs"], y, rtol=1e-4, atol=1e-5)
    assert numbers["forward_matches_model"] is True


def test_hidden_layer_makes_xor_linearly_separable(results):
    # in the hidden plane the output unit's single line h W2 + b2 = 0 separates the classes
    numbers, _ = results
    _, h, _, _ = forward(numbers)
    side = h @ np.array(numbers["W2"]).ravel() + numbers["b2"][0] > 0
    np.testing.assert_array_equal(side.astype(int), XOR)


def test_some_starts_get_stuck_at_the_local_minimum(results):
    # two hidden units leave little room: some random starts end on the plateau at ln(2)/2
    # (two inputs right, two at y = 0.5), far above the solved starts' loss
    numbers, _ = results
    losses, solved = np.array(numbers["final_losses"]), np.array(numbers["start_solved"])
    assert len(losses) == numbers["starts"] == 8
    assert 1 <= numbers["starts_solved"] == solved.sum() < numbers["starts"]
    assert np.all(losses[~solved] > 0.3)
    np.testing.assert_allclose(losses[~solved].min(), np.log(2) / 2, atol=0.01)
    assert np.all(losses[solved] < 0.1)
    assert numbers["final_loss"] == losses.min()


def test_plots_written(results):
    _, out = results
    assert (out / "xor_decision_surface.png").stat().st_size > 0
