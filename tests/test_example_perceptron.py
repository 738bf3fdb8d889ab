"""perceptron.py: one step-activation neuron trained with the perceptron rule learns AND and OR
(accuracy 1.0) and cannot learn XOR (at most 3 of 4 right)."""
import numpy as np
import pytest
from backend_params import BACKENDS
from example_scripts import run_quick

INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
TRUTH = {"and": [0, 0, 0, 1], "or": [0, 1, 1, 1], "xor": [0, 1, 1, 0]}


@pytest.fixture(scope="module", params=BACKENDS)
def results(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("perceptron")
    return run_quick("perceptron", request.param, out), out


def gate_outputs(numbers, gate):
    """The learned perceptron, evaluated here: step(x . w + b) with step(z) = [z > 0]."""
    w, b = np.array(numbers[f"weights_{gate}"]), numbers[f"bias_{gate}"]
    return (INPUTS @ w + b > 0).astype(int)


@pytest.mark.parametrize("gate", ["and", "or"])
def test_linearly_separable_gates_are_learned(results, gate):
    numbers, _ = results
    assert numbers[f"accuracy_{gate}"] == 1.0
    np.testing.assert_array_equal(gate_outputs(numbers, gate), TRUTH[gate])
    # the convergence theorem: once a clean epoch happens, the rule stops changing anything
    first = numbers[f"first_epoch_without_mistakes_{gate}"]
    assert first is not None and first < numbers["epochs"]
    assert all(m == 0 for m in numbers[f"mistakes_{gate}"][first - 1:])


def test_xor_is_not_learned(results):
    numbers, _ = results
    assert numbers["accuracy_xor"] <= 0.75
    outputs = gate_outputs(numbers, "xor")
    assert (outputs == TRUTH["xor"]).mean() <= 0.75
    # the rule keeps making mistakes every epoch: no line separates XOR's classes
    assert numbers["first_epoch_without_mistakes_xor"] is None
    assert min(numbers["mistakes_xor"]) >= 1


def test_plots_written(results):
    _, out = results
    assert (out / "perceptron_boundaries.png").stat().st_size > 0
