"""The computational graph behind a tensor, as Graphviz DOT text (no Graphviz needed to write it).

    loss = F.sparse_categorical_crossentropy(model(x), y)
    print(fastnn.viz.to_dot(loss, params=model))          # paste into any DOT viewer
    fastnn.viz.save_dot(loss, "graph.dot", params=model)  # or: dot -Tpng graph.dot -o graph.png

fastnn records the graph as the program runs (define-by-run): every op that needs a gradient
leaves a ``Function`` node on its result, ``result._node``, and the node keeps its inputs in
``node.parents`` (``None`` where an argument was not a tensor: a Python number, a missing
bias). Walking ``_node`` and ``parents`` back from a tensor visits exactly the graph that
``backward()`` will differentiate. Drawn as a bipartite graph:

    tensor  --->  op  --->  tensor          (an edge from each input to the op that used it,
                                             and from the op to the tensor it made)

- tensors are ellipses labelled with their name, shape and dtype. A name comes from
  ``params`` (a mapping name -> tensor, (name, tensor) pairs, or a Layer/Model, whose
  ``named_weights()`` are used), else from ``tensor.name`` (layers name their weights
  ``layer/weight``). Leaves that need a gradient (parameters) are filled blue, leaves that
  do not (inputs, labels, constants) grey; the tensor drawn from has a double border.
- ops are boxes labelled with the Function class (``Mul``, ``MatMul``, ``Linear``,
  ``SparseSoftmaxCE``...); an activation adds its name (``Activation: relu``, and
  ``Linear: relu`` when the activation is fused into the linear kernel).

Node ids are ``t0, t1, ...`` for tensors and ``op0, op1, ...`` for ops, numbered in the order
of a depth-first walk that finishes every input before the op using it (inputs in argument
order): the same program always gives the same text. The graph is read, never changed.

``backward()`` frees the graph as it goes (unless ``retain_graph=True``), so draw it before.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .tensor import Tensor

__all__ = ["Graph", "GraphNode", "save_dot", "to_dot", "trace"]

RANKDIRS = ("LR", "TB", "RL", "BT")

# Fill colours by node kind (X11 colour names every DOT renderer knows).
_FILL = {"parameter": "lightblue", "constant": "lightgrey", "intermediate": "white", "op": "lightyellow"}


@dataclass
class GraphNode:
    """One node of a traced graph.

    id: the DOT id ("t3", "op1"); kind: "parameter" | "constant" | "intermediate" (tensors) or
    "op"; label: the text drawn in it (lines joined by newlines); obj: the Tensor or Function.
    """

    id: str
    kind: str
    label: str
    obj: object = field(repr=False)

    @property
    def is_op(self) -> bool:
        return self.kind == "op"


@dataclass
class Graph:
    """Nodes (inputs before the ops that use them) and edges (source id, target id) of a graph;
    ``root`` is the id of the tensor it was traced from."""

    nodes: list
    edges: list
    root: str

    def node(self, node_id: str) -> GraphNode:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(f"Graph.node: no node with id {node_id!r}")

    def depths(self) -> dict:
        """{id: column} for drawing in layers: a node's column is the length of the longest path
        reaching it from a node without inputs (so every edge goes to a later column)."""
        depth = {n.id: 0 for n in self.nodes}
        for source, target in self.edges:  # edges are listed sources-first (see trace)
            depth[target] = max(depth[target], depth[source] + 1)
        return depth


def _check_tensor(tensor, caller):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{caller}: tensor must be a fastnn Tensor, got {type(tensor).__name__}")


def _names(params, caller) -> dict:
    """{id(tensor): name} from ``params`` (None, a mapping, (name, tensor) pairs or a Layer)."""
    if params is None:
        return {}
    if hasattr(params, "named_weights"):  # a Layer or Model: its weights, named layer/weight
        pairs = params.named_weights()
    elif hasattr(params, "items"):
        pairs = list(params.items())
    elif isinstance(params, (list, tuple)):
        pairs = list(params)
    else:
        raise TypeError(f"{caller}: params must be a mapping name -> Tensor, (name, Tensor) pairs or a Model, "
                        f"got {type(params).__name__}")
    names = {}
    for i, pair in enumerate(pairs):
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise TypeError(f"{caller}: params[{i}] must be a (name, Tensor) pair, got {type(pair).__name__}")
        name, value = pair
        if not isinstance(value, Tensor):
            raise TypeError(f"{caller}: params[{name!r}] must be a Tensor, got {type(value).__name__}")
        names.setdefault(id(value), str(name))  # the first name given wins (a tied weight keeps one)
    return names


def _format_shape(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _format_values(array) -> str:
    """Values of a small array in 4 significant digits: '0.7311' or '[1, -2]'."""
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 0:
        return f"{array.item():.4g}"
    return "[" + ", ".join(f"{v:.4g}" for v in array.reshape(-1)) + "]"


def _tensor_label(t: Tensor, name, show_shapes, show_values) -> str:
    lines = [name] if name else []
    if show_shapes:
        lines.append(f"{_format_shape(t.shape)} {t.dtype}")
    if show_values and t.size <= 8:
        lines.append(f"value {_format_values(t.numpy())}")
        if t.grad is not None:
            lines.append(f"grad {_format_values(t.grad.numpy())}")
    return "\n".join(lines)


def _op_label(fn) -> str:
    """The Function class; activations add which one (fused into Linear or on their own)."""
    label = type(fn).__name__
    detail = getattr(fn, "activation", None) if label == "Linear" else getattr(fn, "name", None)
    if isinstance(detail, str) and detail:
        label = f"{label}: {detail}"
    return label


def _tensor_kind(t: Tensor) -> str:
    if t._node is not None:
        return "intermediate"
    return "parameter" if t.requires_grad else "constant"


def trace(tensor, params=None, show_shapes=True, show_values=False) -> Graph:
    """The graph that made ``tensor``: every tensor and op on the way back to the leaves.

    Iterative depth-first walk (a long recurrent graph must not hit Python's recursion
    limit), post-order: a tensor gets its id after the op that made it, an op after all its
    inputs, so ids and the node list run from inputs to ``tensor``. A tensor or op reached
    twice (a weight used twice, a shared input) is one node with several edges.
    ``show_values``: add the value (and ``.grad`` where set) of tensors of at most 8 elements.
    """
    return _trace(tensor, params, show_shapes, show_values, "trace")


def _trace(tensor, params, show_shapes, show_values, caller) -> Graph:
    _check_tensor(tensor, caller)
    names = _names(params, caller)
    nodes, edges = [], []
    tensor_ids, op_ids = {}, {}
    done = set()  # id(tensor) of tensors expanded so far
    stack = [(tensor, False)]
    while stack:
        t, inputs_done = stack.pop()
        fn = t._node
        if not inputs_done:
            if id(t) in done:
                continue
            done.add(id(t))
            if fn is not None and id(fn) not in op_ids:
                if fn.released:
                    raise RuntimeError(
                        f"{caller}: this graph was freed by backward(); draw it before calling backward(), "
                        "or call backward(retain_graph=True)")
                stack.append((t, True))
                # reversed: the first argument is walked (and numbered) first
                stack.extend((p, False) for p in reversed(fn.parents) if p is not None)
                continue
        if fn is not None and id(fn) not in op_ids:
            op_ids[id(fn)] = f"op{len(op_ids)}"
            nodes.append(GraphNode(op_ids[id(fn)], "op", _op_label(fn), fn))
            inputs = dict.fromkeys(tensor_ids[id(p)] for p in fn.parents if p is not None)  # x * x: one edge
            edges.extend((source, op_ids[id(fn)]) for source in inputs)
        tensor_ids[id(t)] = f"t{len(tensor_ids)}"
        name = names.get(id(t), t.name)
        nodes.append(GraphNode(tensor_ids[id(t)], _tensor_kind(t), _tensor_label(t, name, show_shapes, show_values), t))
        if fn is not None:
            edges.append((op_ids[id(fn)], tensor_ids[id(t)]))
    return Graph(nodes, edges, tensor_ids[id(tensor)])


def _quote(text: str) -> str:
    """A DOT double-quoted string: backslashes and quotes escaped, newlines as DOT's \\n."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(tensor, params=None, show_shapes=True, show_values=False, rankdir="LR", graph_name="fastnn") -> str:
    """Graphviz DOT text of the graph that computed ``tensor`` (see the module docstring).

    tensor: a fastnn Tensor (a leaf gives a graph of one node).
    params: names for tensors: a mapping name -> Tensor, (name, Tensor) pairs, or a Model/Layer.
    show_shapes: add "shape dtype" to every tensor's label.
    show_values: add the value and gradient of tensors of at most 8 elements.
    rankdir: "LR" (left to right, inputs on the left), "TB", "RL" or "BT".
    """
    _check_tensor(tensor, "to_dot")
    if rankdir not in RANKDIRS:
        raise ValueError(f"to_dot: rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    graph = _trace(tensor, params, show_shapes, show_values, "to_dot")
    lines = [f"digraph {_quote(graph_name)} {{",
             f"  rankdir={rankdir};",
             '  node [fontname="Helvetica", fontsize=10];']
    for n in graph.nodes:
        shape = "box" if n.is_op else "ellipse"
        style = '"rounded,filled"' if n.is_op else "filled"
        extra = ", peripheries=2" if n.id == graph.root else ""
        lines.append(f"  {n.id} [label={_quote(n.label)}, shape={shape}, style={style}, "
                     f"fillcolor={_FILL[n.kind]}{extra}];")
    lines.extend(f"  {source} -> {target};" for source, target in graph.edges)
    lines.append("}")
    return "\n".join(lines) + "\n"


def save_dot(tensor, path, params=None, **options) -> Path:
    """Write ``to_dot(tensor, params, **options)`` to ``path`` (folders created); returns the path.

    Render it with Graphviz where installed (``dot -Tpng graph.dot -o graph.png``) or any
    DOT viewer; fastnn itself never calls Graphviz.
    """
    _check_tensor(tensor, "save_dot")
    text = to_dot(tensor, params=params, **options)
    path = Path(os.fspath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
