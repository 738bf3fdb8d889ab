"""Backpropagation by hand: the chain rule, node by node, on a small computational graph equals fastnn's autograd.

The function is one sigmoid neuron with two inputs,

    f(w, x) = sigma(w0 x0 + w1 x1 + w2),      sigma(z) = 1 / (1 + exp(-z)),

evaluated at w = (2, -3, -3), x = (-1, -2). Written with the sigmoid spelled out, it is a
graph of eight elementary nodes, each with a local derivative we know by heart:

    node   computed as       value     local gradient (d node / d its input)
    a      w0 * x0           -2        d a/d w0 = x0,  d a/d x0 = w0
    b      w1 * x1            6        d b/d w1 = x1,  d b/d x1 = w1
    c      a + b              4        1 to each input
    d      c + w2             1        1 to each input
    e      d * (-1)          -1        -1
    g      exp(e)             0.37     exp(e) = 0.37
    h      g + 1              1.37     1
    f      1 / h              0.73     -1 / h^2 = -0.53

The forward pass computes the values from left to right. The backward pass starts from
df/df = 1 at the output and walks the graph from right to left; the chain rule says that the
gradient arriving at a node's input is the node's local gradient times the gradient arriving
at its output (and a value used twice adds its two gradients):

    df/dh  = -1/h^2          * 1      = -0.53
    df/dg  = 1               * -0.53  = -0.53
    df/de  = exp(e)          * -0.53  = -0.20
    df/dd  = -1              * -0.20  =  0.20
    df/dc  = df/dw2 = 1      *  0.20  =  0.20      (+ hands its gradient to both inputs)
    df/da  = df/db  = 1      *  0.20  =  0.20
    df/dw0 = x0 * 0.20 = -0.20     df/dx0 = w0 * 0.20 =  0.39    (* swaps its inputs)
    df/dw1 = x1 * 0.20 = -0.39     df/dx1 = w1 * 0.20 = -0.59

The nodes e, g, h, f together are the sigmoid, whose derivative is sigma(z)(1 - sigma(z)) =
0.73 * 0.27 = 0.20: the same number in one step. One step of gradient descent with learning
rate 0.1 moves w0 against its gradient: w0 <- 2 - 0.1 * (-0.20) = 2.02.

fastnn does the same thing automatically: every operation on tensors that need a gradient
records its node (the tape), and ``f.backward()`` runs the chain rule through the recorded
graph. The script computes the graph three ways, in float64, and prints them side by side:
by hand (the chain rule above, in plain Python), by fastnn's autograd (``retain_grad`` keeps
every intermediate gradient), and by ``fastnn.testing.gradcheck`` (central differences). You
should see the two gradient columns agree to about 1e-16 and gradcheck pass. It writes the
graph as Graphviz DOT (``fastnn.viz``; render it with ``dot -Tpng`` where Graphviz is
installed) and draws it as a circuit: values above the wires, gradients below.

    python examples/backprop_by_hand.py [--backend numpy|cpu|gpu] [--quick] [--out DIR] [--seed N]
"""

import math

import lesson
import numpy as np
from matplotlib.patches import Circle

import fastnn as fnn
import fastnn.functional as F
from fastnn import viz

START = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}
LEAVES = tuple(START)
NODES = ("a", "b", "c", "d", "e", "g", "h", "f")
BACKWARD_ORDER = ("f", "h", "g", "e", "d", "c", "w2", "a", "b", "w0", "x0", "w1", "x1")   # output first
FORMULAS = {"a": "w0 * x0", "b": "w1 * x1", "c": "a + b", "d": "c + w2", "e": "d * (-1)", "g": "exp(e)",
            "h": "g + 1", "f": "1 / h"}
LEARNING_RATE = 0.1


# -- by hand: plain Python floats --------------------------------------------------------------
def forward_by_hand(w0, x0, w1, x1, w2):
    """The forward pass, one node a line: {name: value} of every leaf and node."""
    a = w0 * x0
    b = w1 * x1
    c = a + b
    d = c + w2
    e = d * -1.0
    g = math.exp(e)
    h = g + 1.0
    f = 1.0 / h
    return dict(w0=w0, x0=x0, w1=w1, x1=x1, w2=w2, a=a, b=b, c=c, d=d, e=e, g=g, h=h, f=f)


def backward_by_hand(v):
    """The chain rule from f back to the leaves: {name: df/dname}. Each line multiplies the
    node's local gradient by the gradient that arrived at its output."""
    grad = {"f": 1.0}
    grad["h"] = (-1.0 / v["h"] ** 2) * grad["f"]   # f = 1/h
    grad["g"] = 1.0 * grad["h"]                    # h = g + 1
    grad["e"] = math.exp(v["e"]) * grad["g"]       # g = exp(e)
    grad["d"] = -1.0 * grad["e"]                   # e = -d
    grad["c"] = 1.0 * grad["d"]                    # d = c + w2: both inputs get the gradient
    grad["w2"] = 1.0 * grad["d"]
    grad["a"] = 1.0 * grad["c"]                    # c = a + b
    grad["b"] = 1.0 * grad["c"]
    grad["w0"] = v["x0"] * grad["a"]               # a = w0 x0: each input gets the other one
    grad["x0"] = v["w0"] * grad["a"]
    grad["w1"] = v["x1"] * grad["b"]               # b = w1 x1
    grad["x1"] = v["w1"] * grad["b"]
    return grad


def local_gradients(v):
    """d node / d input of the one-input nodes (what the table above lists)."""
    return {"e": -1.0, "g": math.exp(v["e"]), "h": 1.0, "f": -1.0 / v["h"] ** 2}


# -- by fastnn's autograd --------------------------------------------------------------------
def circuit(w0, x0, w1, x1, w2):
    """The same graph built from fastnn tensors; returns every node by name."""
    a = w0 * x0
    b = w1 * x1
    c = a + b
    d = c + w2
    e = d * -1.0
    g = e.exp()
    h = g + 1.0
    f = 1.0 / h
    return dict(a=a, b=b, c=c, d=d, e=e, g=g, h=h, f=f)


def leaf_tensors():
    return {name: fnn.tensor(value, dtype="float64", requires_grad=True) for name, value in START.items()}


def autograd(leaves):
    """Forward through fastnn, then f.backward(); every intermediate keeps its gradient."""
    nodes = circuit(*leaves.values())
    for t in nodes.values():
        t.retain_grad()
    nodes["f"].backward(retain_graph=True)   # keep the graph: it is drawn afterwards
    return nodes


# -- the report -----------------------------------------------------------------------------
def print_table(values, grads, tensors):
    print(f"{'node':<5}{'computed as':<12}{'value (hand)':>14}{'value (fastnn)':>16}"
          f"{'df/dnode (hand)':>17}{'df/dnode (fastnn)':>19}{'|difference|':>14}")
    worst = 0.0
    for name in BACKWARD_ORDER:   # the order in which backpropagation reaches them
        t = tensors[name]
        value, grad = t.item(), t.grad.item()
        difference = max(abs(value - values[name]), abs(grad - grads[name]))
        worst = max(worst, difference)
        print(f"{name:<5}{FORMULAS.get(name, 'input'):<12}{values[name]:>14.6f}{value:>16.6f}"
              f"{grads[name]:>17.6f}{grad:>19.6f}{difference:>14.1e}")
    return worst


def sigmoid_gate_gradients():
    """The same function with fastnn's sigmoid op in one node: d sigma/dz = sigma (1 - sigma)."""
    leaves = leaf_tensors()
    w0, x0, w1, x1, w2 = leaves.values()
    F.sigmoid(w0 * x0 + w1 * x1 + w2).backward()
    return {name: t.grad.item() for name, t in leaves.items()}


def check_with_gradcheck():
    """Central differences against backward() for all five inputs (float64)."""
    return fnn.testing.gradcheck(lambda *inputs: circuit(*inputs)["f"], list(leaf_tensors().values()),
                                 eps=1e-6, atol=1e-8, rtol=1e-6)


def sgd_step(leaves):
    """One step of gradient descent on the weights: w <- w - lr df/dw."""
    weights = [leaves["w0"], leaves["w1"], leaves["w2"]]
    fnn.optim.SGD(weights, lr=LEARNING_RATE).step()
    return {name: leaves[name].item() for name in ("w0", "w1", "w2")}


# -- the picture ------------------------------------------------------------------------------
OP_SYMBOLS = {"a": "*", "b": "*", "c": "+", "d": "+", "e": "*(-1)", "g": "exp", "h": "+1", "f": "1/x"}


def draw_circuit(graph, names, out):
    """The traced graph as a circuit: ops are circles, tensors are the wires between them,
    each wire labelled with its value (green, above) and its gradient (red, below)."""
    fig, ax = lesson.figure(figsize=(11, 5.2))
    ops = [n for n in graph.nodes if n.is_op]
    produced_by = {target: source for source, target in graph.edges if graph.node(source).is_op}
    made = {source: target for source, target in graph.edges if graph.node(source).is_op}
    inputs = {op.id: [s for s, t in graph.edges if t == op.id] for op in ops}

    # op columns: set by the longest chain of ops before it; leaves in column 0, one row each
    column, row = {}, {}
    leaf_rows = iter(range(len(graph.nodes)))
    for op in ops:   # trace lists every op after the ops that feed it
        feeding = [produced_by[s] for s in inputs[op.id] if s in produced_by]
        column[op.id] = 1.5 + max((column[p] for p in feeding), default=0)   # 1.5: room for the labels
        for s in inputs[op.id]:
            if s not in produced_by and s not in row:
                row[s] = 1.4 * next(leaf_rows)   # room for the labels of neighbouring wires
        row[op.id] = float(np.mean([row[produced_by[s]] if s in produced_by else row[s] for s in inputs[op.id]]))

    def wire(start, end, tensor_id, at=0.5):
        """An arrow from start to end carrying a tensor: value above it, gradient below, written
        at the fraction ``at`` of its length."""
        t = graph.node(tensor_id).obj
        ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="->", color="0.3"))
        middle_x, middle_y = start[0] + at * (end[0] - start[0]), start[1] + at * (end[1] - start[1])
        ax.text(middle_x, middle_y - 0.1, f"{t.item():.2f}", color="green", ha="center", va="bottom")
        ax.text(middle_x, middle_y + 0.1, f"{t.grad.item():.2f}", color="red", ha="center", va="top")

    radius = 0.24
    for op in ops:
        x, y = column[op.id], row[op.id]
        for s in inputs[op.id]:
            if s in produced_by:   # a wire from the op that made this tensor
                source = produced_by[s]
                wire((column[source] + radius, row[source]), (x - radius, y), s)
            else:                  # an input of the graph: a named wire from the left
                ax.text(x - 1.55, row[s], names[graph.node(s).obj], ha="right", va="center", fontsize=12)
                wire((x - 1.5, row[s]), (x - radius, y), s, at=0.3)
        ax.add_patch(Circle((x, y), radius, fc="lightyellow", ec="k"))
        ax.text(x, y, OP_SYMBOLS[names[graph.node(made[op.id]).obj]], ha="center", va="center", fontsize=8)
    last = ops[-1].id
    wire((column[last] + radius, row[last]), (column[last] + 1.5, row[last]), graph.root)
    ax.text(column[last] + 1.55, row[last], "f", ha="left", va="center", fontsize=12)

    ax.set_xlim(-0.5, column[last] + 2.0)
    ax.set_ylim(max(row.values()) + 0.8, min(row.values()) - 0.8)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("f = 1 / (1 + exp(-(w0 x0 + w1 x1 + w2))): "
                 "values (green) forward, gradients df/d(wire) (red) backward")
    lesson.save_figure(fig, out, "backprop_graph.png")


def run(backend="cpu", quick=False, out=".", seed=0) -> dict:
    """Forward and backward through the graph by hand, by autograd, and by gradcheck."""
    # quick and full mode are the same lesson: the graph has eight nodes either way
    values = forward_by_hand(**START)
    grads = backward_by_hand(values)
    local = local_gradients(values)

    leaves = leaf_tensors()
    nodes = autograd(leaves)
    tensors = {**leaves, **nodes}
    worst = print_table(values, grads, tensors)
    print(f"largest difference between the chain rule by hand and autograd: {worst:.1e}")
    print(f"1/x node: input h = {values['h']:.4f}, local gradient -1/h^2 = {local['f']:.4f}")

    gate = sigmoid_gate_gradients()
    gate_difference = max(abs(gate[name] - grads[name]) for name in LEAVES)
    sigma = values["f"]
    print(f"sigmoid as one node: sigma (1 - sigma) = {sigma * (1 - sigma):.4f} = df/dd = {grads['d']:.4f}; "
          f"its gradients differ from the hand ones by {gate_difference:.1e}")
    passed = check_with_gradcheck()
    print(f"fastnn.testing.gradcheck (central differences, float64): {'passed' if passed else 'FAILED'}")

    # the graph, while it still holds the values and gradients of this pass
    names = {t: name for name, t in tensors.items()}
    dot_path = viz.save_dot(nodes["f"], out / "backprop_graph.dot", params=tensors, show_values=True)
    draw_circuit(viz.trace(nodes["f"], params=tensors), names, out)

    stepped = sgd_step(leaves)
    print(f"one SGD step (lr {LEARNING_RATE}): w0 {START['w0']} -> {stepped['w0']:.4f}")

    return {
        "output": values["f"],
        "output_autograd": nodes["f"].item(),
        **{f"grad_{name}": tensors[name].grad.item() for name in LEAVES},
        "node_names": list(NODES),
        "values_by_hand": [values[n] for n in NODES],
        "values_autograd": [nodes[n].item() for n in NODES],
        "grads_by_hand": [grads[n] for n in NODES + LEAVES],
        "grads_autograd": [tensors[n].grad.item() for n in NODES + LEAVES],
        "max_difference_hand_vs_autograd": worst,
        "reciprocal_input": values["h"],
        "reciprocal_local_gradient": local["f"],
        "sigmoid_local_gradient": sigma * (1 - sigma),
        "sigmoid_gate_max_difference": gate_difference,
        "gradcheck_passed": bool(passed),
        "w0_after_sgd_step": stepped["w0"],
        "w1_after_sgd_step": stepped["w1"],
        "w2_after_sgd_step": stepped["w2"],
        "dot_file": dot_path.name,
    }


def main(argv=None) -> dict:
    return lesson.execute(run, lesson.parse_args(__file__, __doc__, argv))


if __name__ == "__main__":
    main()
