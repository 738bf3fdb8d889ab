"""backprop_by_hand.py: the graph f = sigma(w0 x0 + w1 x1 + w2) at w = (2, -3, -3), x = (-1, -2):
the issue's numbers (to 2 decimals), autograd equal to the chain rule by hand (1e-12) and to
central differences (gradcheck), one SGD step, and the graph written as DOT."""
import math
import re

import numpy as np
import pytest
from backend_params import BACKENDS
from example_scripts import run_quick

W0, X0, W1, X1, W2 = 2.0, -1.0, -3.0, -2.0, -3.0


@pytest.fixture(scope="module", params=BACKENDS)
def results(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("backprop_by_hand")
    return run_quick("backprop_by_hand", request.param, out), out


def closed_form():
    """f and its gradients from sigma'(z) = sigma(z) (1 - sigma(z)), independently of the script."""
    z = W0 * X0 + W1 * X1 + W2
    s = 1.0 / (1.0 + math.exp(-z))
    ds = s * (1.0 - s)
    return s, {"w0": X0 * ds, "x0": W0 * ds, "w1": X1 * ds, "x1": W1 * ds, "w2": ds}


def test_numbers_of_the_issue_to_two_decimals(results):
    numbers, _ = results
    assert round(numbers["output"], 2) == 0.73
    assert round(numbers["output_autograd"], 2) == 0.73
    expected = {"w0": -0.20, "x0": 0.39, "w1": -0.39, "x1": -0.59, "w2": 0.20}
    for name, value in expected.items():
        assert round(numbers[f"grad_{name}"], 2) == value, name
    assert round(numbers["reciprocal_input"], 2) == 1.37
    assert round(numbers["reciprocal_local_gradient"], 2) == -0.53
    assert round(numbers["w0_after_sgd_step"], 2) == 2.02


def test_gradients_equal_the_closed_form(results):
    numbers, _ = results
    s, grads = closed_form()
    assert numbers["output_autograd"] == pytest.approx(s, abs=1e-12)
    for name, value in grads.items():
        assert numbers[f"grad_{name}"] == pytest.approx(value, abs=1e-12), name
    h = 1.0 + math.exp(-(W0 * X0 + W1 * X1 + W2))
    assert numbers["reciprocal_local_gradient"] == pytest.approx(-1.0 / h**2, abs=1e-12)
    assert numbers["sigmoid_local_gradient"] == pytest.approx(s * (1 - s), abs=1e-12)
    # one step of gradient descent, w <- w - 0.1 df/dw
    assert numbers["w0_after_sgd_step"] == pytest.approx(W0 - 0.1 * grads["w0"], abs=1e-12)
    assert numbers["w1_after_sgd_step"] == pytest.approx(W1 - 0.1 * grads["w1"], abs=1e-12)
    assert numbers["w2_after_sgd_step"] == pytest.approx(W2 - 0.1 * grads["w2"], abs=1e-12)


def test_autograd_equals_the_chain_rule_by_hand_node_by_node(results):
    numbers, _ = results
    assert numbers["node_names"] == ["a", "b", "c", "d", "e", "g", "h", "f"]
    np.testing.assert_allclose(numbers["values_autograd"], numbers["values_by_hand"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(numbers["grads_autograd"], numbers["grads_by_hand"], rtol=0, atol=1e-12)
    assert numbers["max_difference_hand_vs_autograd"] <= 1e-12
    # the forward values of the classic picture
    np.testing.assert_allclose(numbers["values_by_hand"][:5], [-2.0, 6.0, 4.0, 1.0, -1.0])
    assert numbers["values_by_hand"][5] == pytest.approx(math.exp(-1.0), abs=1e-15)


def test_gradcheck_and_the_one_node_sigmoid_agree(results):
    numbers, _ = results
    assert numbers["gradcheck_passed"] is True
    assert numbers["sigmoid_gate_max_difference"] <= 1e-12


def test_graph_exported_as_dot(results):
    numbers, out = results
    dot = (out / numbers["dot_file"]).read_text()
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    nodes = dict(re.findall(r'^  (\w+) \[label="((?:[^"\\]|\\.)*)"', dot, flags=re.MULTILINE))
    edges = re.findall(r"^  (\w+) -> (\w+);$", dot, flags=re.MULTILINE)
    ops = [label for node_id, label in nodes.items() if node_id.startswith("op")]
    tensors = [label.split("\\n")[0] for node_id, label in nodes.items() if node_id.startswith("t")]
    # *(-1), exp, +1 and 1/x: the sigmoid spelled out
    assert ops == ["Mul", "Mul", "Add", "Add", "Mul", "Exp", "Add", "Div"]
    assert sorted(tensors) == sorted(["w0", "x0", "w1", "x1", "w2", "a", "b", "c", "d", "e", "g", "h", "f"])
    assert len(edges) == 20 and all(a in nodes and b in nodes for a, b in edges)
    assert "grad -0.1966" in nodes[next(i for i, label in nodes.items() if label.startswith("w0\\n"))]


def test_plots_written(results):
    _, out = results
    assert (out / "backprop_graph.png").stat().st_size > 0
