"""fastnn.viz: the autograd graph of a tensor as Graphviz DOT, checked by hand on small graphs."""

import re

import numpy as np
import pytest

import fastnn as fnn
import fastnn.functional as F
from fastnn import viz
from fastnn.layers import Dense, Input

pytestmark = pytest.mark.usefixtures("numpy_backend_and_rng_restored")

NODE = re.compile(r'^  (\w+) \[label="((?:[^"\\]|\\.)*)", shape=(\w+)')
EDGE = re.compile(r"^  (\w+) -> (\w+);$")


def parse(dot):
    """(nodes {id: (label, shape)}, edges [(source, target)]) of to_dot's output."""
    nodes, edges = {}, []
    for line in dot.splitlines():
        if (m := NODE.match(line)):
            nodes[m.group(1)] = (m.group(2), m.group(3))
        elif (m := EDGE.match(line)):
            edges.append((m.group(1), m.group(2)))
    return nodes, edges


def leaves():
    a = fnn.tensor([1.0, 2.0], requires_grad=True)
    b = fnn.tensor([3.0, 4.0], requires_grad=True)
    c = fnn.tensor([0.5, 0.5])  # no gradient: a constant
    return a, b, c


def test_tiny_graph_exactly_as_drawn_by_hand():
    # (a*b + c).sum(): tensors a, b, a*b, c, a*b+c, the sum; ops Mul, Add, Sum
    a, b, c = leaves()
    s = (a * b + c).sum()
    expected = "\n".join([
        'digraph "fastnn" {',
        "  rankdir=LR;",
        '  node [fontname="Helvetica", fontsize=10];',
        '  t0 [label="a\\n(2,) float32", shape=ellipse, style=filled, fillcolor=lightblue];',
        '  t1 [label="b\\n(2,) float32", shape=ellipse, style=filled, fillcolor=lightblue];',
        '  op0 [label="Mul", shape=box, style="rounded,filled", fillcolor=lightyellow];',
        '  t2 [label="(2,) float32", shape=ellipse, style=filled, fillcolor=white];',
        '  t3 [label="c\\n(2,) float32", shape=ellipse, style=filled, fillcolor=lightgrey];',
        '  op1 [label="Add", shape=box, style="rounded,filled", fillcolor=lightyellow];',
        '  t4 [label="(2,) float32", shape=ellipse, style=filled, fillcolor=white];',
        '  op2 [label="Sum", shape=box, style="rounded,filled", fillcolor=lightyellow];',
        '  t5 [label="() float32", shape=ellipse, style=filled, fillcolor=white, peripheries=2];',
        "  t0 -> op0;",
        "  t1 -> op0;",
        "  op0 -> t2;",
        "  t2 -> op1;",
        "  t3 -> op1;",
        "  op1 -> t4;",
        "  t4 -> op2;",
        "  op2 -> t5;",
        "}",
    ]) + "\n"
    assert viz.to_dot(s, params={"a": a, "b": b, "c": c}) == expected


def test_output_is_deterministic_across_calls_and_rebuilt_graphs():
    a, b, c = leaves()
    first = viz.to_dot((a * b + c).sum())
    assert viz.to_dot((a * b + c).sum()) == first
    a2, b2, c2 = leaves()
    assert viz.to_dot((a2 * b2 + c2).sum()) == first


def test_a_leaf_is_one_node_without_edges():
    a, _, _ = leaves()
    nodes, edges = parse(viz.to_dot(a, params={"a": a}))
    assert nodes == {"t0": ("a\\n(2,) float32", "ellipse")}
    assert edges == []
    # a result computed without any gradient has no graph either
    with fnn.no_grad():
        nodes, edges = parse(viz.to_dot(a * 2.0))
    assert list(nodes) == ["t0"] and edges == []


@pytest.mark.parametrize("bad", [[1.0, 2.0], np.ones(3), 3.0, None])
def test_a_non_tensor_is_a_type_error_naming_argument_and_type(bad):
    with pytest.raises(TypeError, match=rf"to_dot: tensor must be a fastnn Tensor, got {type(bad).__name__}"):
        viz.to_dot(bad)
    with pytest.raises(TypeError, match=rf"save_dot: tensor must be a fastnn Tensor, got {type(bad).__name__}"):
        viz.save_dot(bad, "unused.dot")


def test_bad_params_are_type_errors_naming_the_entry():
    a, b, _ = leaves()
    with pytest.raises(TypeError, match=r"to_dot: params\['w'\] must be a Tensor, got ndarray"):
        viz.to_dot(a * b, params={"w": np.ones(2)})
    with pytest.raises(TypeError, match=r"to_dot: params must be a mapping .* got int"):
        viz.to_dot(a * b, params=3)
    with pytest.raises(TypeError, match=r"to_dot: params\[0\] must be a \(name, Tensor\) pair, got Tensor"):
        viz.to_dot(a * b, params=[a])


def test_bad_rankdir_is_a_value_error():
    a, _, _ = leaves()
    with pytest.raises(ValueError, match=r"rankdir must be one of LR, TB, RL, BT, got 'XY'"):
        viz.to_dot(a, rankdir="XY")


def test_a_freed_graph_says_to_draw_before_backward():
    a, b, _ = leaves()
    s = (a * b).sum()
    s.backward()
    with pytest.raises(RuntimeError, match=r"freed by backward\(\).*retain_graph=True"):
        viz.to_dot(s)
    kept = (a * b).sum()
    kept.backward(retain_graph=True)
    assert parse(viz.to_dot(kept))[1] == [("t0", "op0"), ("t1", "op0"), ("op0", "t2"), ("t2", "op1"),
                                          ("op1", "t3")]


def test_a_tensor_used_twice_is_one_node_with_one_edge_per_op():
    a, b, _ = leaves()
    nodes, edges = parse(viz.to_dot((a * a + a * b).sum(), params={"a": a, "b": b}))
    tensors = [label for label, shape in nodes.values() if shape == "ellipse"]
    assert tensors.count("a\\n(2,) float32") == 1
    # a*a: a single edge a -> Mul; a*b: a -> the second Mul
    assert edges == [("t0", "op0"), ("op0", "t1"), ("t0", "op1"), ("t2", "op1"), ("op1", "t3"),
                     ("t1", "op2"), ("t3", "op2"), ("op2", "t4"), ("t4", "op3"), ("op3", "t5")]


def test_model_weights_are_named_and_ops_say_which_activation():
    model = fnn.Sequential([Input((4,)), Dense(3, activation="relu", name="hidden"), Dense(2, name="out")])
    x = np.ones((5, 4), np.float32)
    loss = F.sparse_categorical_crossentropy(F.relu(model(x)), np.array([0, 1, 0, 1, 1]))
    nodes, edges = parse(viz.to_dot(loss, params=model))
    labels = {label.split("\\n")[0] for label, _ in nodes.values()}
    assert {"hidden/kernel", "hidden/bias", "out/kernel", "out/bias"} <= labels
    assert {"Linear: relu", "Linear", "Activation: relu", "SparseSoftmaxCE"} <= labels
    # every edge joins a tensor and an op, never two of a kind
    for source, target in edges:
        assert {nodes[source][1], nodes[target][1]} == {"ellipse", "box"}
    # names from named pairs win over the tensor's own name
    renamed = parse(viz.to_dot(loss, params=[("W1", model.get_layer("hidden").kernel)]))[0]
    assert "W1\\n(4, 3) float32" in {label for label, _ in renamed.values()}


def test_labels_are_escaped():
    a, _, _ = leaves()
    dot = viz.to_dot(a, params={'say "hi"\\now': a})
    assert 'label="say \\"hi\\"\\\\now\\n(2,) float32"' in dot


def test_show_values_and_shapes_options():
    a, b, _ = leaves()
    s = (a * b).sum()
    s.backward(retain_graph=True)
    nodes, _ = parse(viz.to_dot(s, params={"a": a}, show_values=True, show_shapes=False))
    assert nodes["t0"][0] == "a\\nvalue [1, 2]\\ngrad [3, 4]"
    assert nodes["t3"][0] == "value 11"


def test_multi_output_op_is_one_node():
    x = fnn.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    first, second = fnn.unstack(x)
    nodes, edges = parse(viz.to_dot(first * second))
    ops = [label for label, shape in nodes.values() if shape == "box"]
    assert ops == ["Unstack", "Mul"]
    assert ("op0", "t1") in edges and ("op0", "t2") in edges


def test_long_chain_does_not_recurse():
    x = fnn.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0
    graph = viz.trace(y)
    assert len(graph.nodes) == 1 + 2 * 3000
    assert graph.depths()[graph.root] == 2 * 3000


def test_trace_depths_put_every_edge_forward():
    a, b, c = leaves()
    graph = viz.trace((a * b + c).sum())
    depth = graph.depths()
    assert depth == {"t0": 0, "t1": 0, "op0": 1, "t2": 2, "t3": 0, "op1": 3, "t4": 4, "op2": 5, "t5": 6}
    assert graph.node("op1").label == "Add" and graph.root == "t5"
    with pytest.raises(KeyError, match="no node with id 'x9'"):
        graph.node("x9")


def test_save_dot_writes_the_text(tmp_path):
    a, b, _ = leaves()
    s = (a * b).sum()
    path = viz.save_dot(s, tmp_path / "sub" / "graph.dot", params={"a": a})
    assert path.read_text() == viz.to_dot(s, params={"a": a})
