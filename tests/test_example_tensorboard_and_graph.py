"""tensorboard_and_graph.py: the TensorBoard callback logs the loss of every epoch and a
histogram of every weight and gradient (read back from the event files), and the graph of
the loss is written as Graphviz DOT naming its ops and parameters."""
import re
from pathlib import Path

import numpy as np
import pytest
from backend_params import BACKENDS
from example_scripts import run_quick

from fastnn import tensorboard

WEIGHTS = ["hidden/kernel", "hidden/bias", "logits/kernel", "logits/bias"]


@pytest.fixture(scope="module", params=BACKENDS)
def results(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("tensorboard_and_graph")
    return run_quick("tensorboard_and_graph", request.param, out), out


def parse_dot(text):
    """(nodes {id: (label, shape)}, edges [(source, target)]) of a DOT digraph, checking that
    every line is a graph attribute, a node statement or an edge statement."""
    lines = text.strip().splitlines()
    assert re.fullmatch(r'digraph "?\w+"? \{', lines[0]) and lines[-1] == "}"
    nodes, edges = {}, []
    for line in lines[1:-1]:
        if (m := re.fullmatch(r'  (\w+) \[label="((?:[^"\\]|\\.)*)", shape=(\w+).*\];', line)):
            assert m.group(1) not in nodes, f"node {m.group(1)} declared twice"
            nodes[m.group(1)] = (m.group(2), m.group(3))
        elif (m := re.fullmatch(r"  (\w+) -> (\w+);", line)):
            edges.append((m.group(1), m.group(2)))
        else:
            assert re.fullmatch(r"  (rankdir=\w+|node \[.*\]);", line), f"unexpected DOT line: {line!r}"
    assert all(a in nodes and b in nodes for a, b in edges), "an edge names an undeclared node"
    return nodes, edges


def test_event_files_hold_the_loss_of_every_epoch(results):
    numbers, out = results
    epochs = numbers["epochs"]
    scalars = tensorboard.read_scalars(out / "logs" / "train")      # read here, independently
    assert [step for step, _ in scalars["epoch_loss"]] == list(range(epochs))
    np.testing.assert_allclose([v for _, v in scalars["epoch_loss"]], numbers["history_loss"], rtol=1e-6)
    assert {"epoch_loss", "epoch_accuracy"} <= set(scalars)
    validation = tensorboard.read_scalars(out / "logs" / "validation")
    assert [step for step, _ in validation["epoch_loss"]] == list(range(epochs))
    # the logged curve shows the training working
    assert scalars["epoch_loss"][-1][1] < scalars["epoch_loss"][0][1]


def test_event_files_hold_weight_and_gradient_histograms(results):
    numbers, out = results
    histograms = tensorboard.read_histograms(out / "logs" / "train")
    expected = set(WEIGHTS) | {f"{name}_grad" for name in WEIGHTS}
    assert set(histograms) == expected
    for tag, records in histograms.items():
        assert [step for step, _ in records] == list(range(numbers["epochs"])), tag
    sizes = {"hidden/kernel": 64 * 32, "hidden/bias": 32, "logits/kernel": 32 * 10, "logits/bias": 10}
    for name, size in sizes.items():
        for _, h in histograms[name] + histograms[f"{name}_grad"]:
            assert h["num"] == size and sum(h["bucket"]) == size
    # the weights moved: the first and last histograms of the hidden kernel differ
    first, last = histograms["hidden/kernel"][0][1], histograms["hidden/kernel"][-1][1]
    assert (first["sum"], first["sum_squares"]) != (last["sum"], last["sum_squares"])


def test_graph_dot_names_the_ops_and_parameters(results):
    numbers, out = results
    path = out / "graph.dot"
    assert numbers["dot_file"] == path.name
    nodes, edges = parse_dot(path.read_text())
    ops = {i: label for i, (label, shape) in nodes.items() if shape == "box"}
    tensors = {i: label.split("\\n")[0] for i, (label, shape) in nodes.items() if shape == "ellipse"}
    assert len(nodes) == len(ops) + len(tensors) == numbers["graph_nodes"]
    # dense layer (fused matmul + bias + relu), output layer, softmax cross-entropy
    assert sorted(ops.values()) == sorted(["Linear: relu", "Linear", "SparseSoftmaxCE"])
    # bipartite: every edge joins a tensor and an op
    for a, b in edges:
        assert (a in ops) != (b in ops)
    by_name = {name: i for i, name in tensors.items()}
    for name in WEIGHTS:
        assert name in by_name, f"parameter {name} is not in the graph"
    hidden_op = next(i for i, label in ops.items() if label == "Linear: relu")
    output_op = next(i for i, label in ops.items() if label == "Linear")
    loss_op = next(i for i, label in ops.items() if label == "SparseSoftmaxCE")
    for name in ("x (images)", "hidden/kernel", "hidden/bias"):
        assert (by_name[name], hidden_op) in edges
    for name in ("logits/kernel", "logits/bias"):
        assert (by_name[name], output_op) in edges
    # hidden -> output -> loss: each op's output tensor feeds the next op
    (hidden_out,) = [b for a, b in edges if a == hidden_op]
    (logits,) = [b for a, b in edges if a == output_op]
    assert (hidden_out, output_op) in edges and (logits, loss_op) in edges
    assert nodes[hidden_out][0] == "(32, 32) float32" and nodes[logits][0] == "(32, 10) float32"
    (loss,) = [b for a, b in edges if a == loss_op]
    assert nodes[loss][0] == "() float32" and not any(a == loss for a, _ in edges)
    assert 'peripheries=2' in next(line for line in path.read_text().splitlines() if line.startswith(f"  {loss} "))


def test_plots_written(results):
    _, out = results
    assert (Path(out) / "tensorboard_logs.png").stat().st_size > 0
