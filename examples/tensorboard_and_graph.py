"""Watching training: TensorBoard logs of the loss and the weights, and the graph of the loss as Graphviz DOT.

Two ways to look inside a network while and after it trains.

1. TensorBoard. ``fastnn.callbacks.TensorBoard(log_dir, histogram_freq=1)`` given to
   ``model.fit`` writes event files (no TensorFlow needed) that ``tensorboard --logdir DIR``
   displays, laid out as Keras does:

       DIR/train        scalar "epoch_loss" (and every metric) at step = epoch,
                        a histogram of every weight, tag "<layer>/<weight>", every epoch,
                        with write_grads=True also "<layer>/<weight>_grad"
       DIR/validation   the validation loss and metrics under the same tags

   A histogram summarises a weight tensor by counting its entries in buckets. Watching them
   epoch by epoch shows weights spreading out as they learn, gradients shrinking as the
   loss flattens, or a layer whose weights never move. ``fastnn.tensorboard.read_scalars``
   and ``read_histograms`` read the files back into Python (the script does, to plot them).

2. The computational graph. Every op fastnn runs on tensors that need a gradient records
   a node; the loss is the last node of a graph that reaches back through the layers to
   the parameters and the data. ``fastnn.viz.to_dot(loss, params=model)`` writes that graph
   in Graphviz's DOT language: one ellipse per tensor (parameters named "layer/weight",
   with shape and dtype), one box per op, edges from inputs to ops to outputs. For the
   model here the loss is

       loss = cross_entropy(relu(x W1 + b1) W2 + b2, y)

   so the graph shows the fused Linear+relu op of the hidden layer, the output Linear op,
   and the softmax cross-entropy. ``backward()`` walks exactly this graph in reverse.
   Render the file with Graphviz where installed (``dot -Tpng graph.dot -o graph.png``) or
   paste it into any online DOT viewer.

The script trains a small MLP on the 8x8 handwritten digits bundled with fastnn with the
TensorBoard callback, reads the logs back (loss per epoch, weight and gradient histograms),
writes the graph of one batch's loss to ``OUT/graph.dot`` and plots the logged curves and
histograms.

    python examples/tensorboard_and_graph.py [--backend numpy|cpu|gpu] [--quick] [--out DIR] [--seed N]
    tensorboard --logdir OUT/logs          # to browse the logs, where tensorboard is installed
"""

import lesson
import numpy as np

import fastnn as fnn
from fastnn import tensorboard, viz
from fastnn.layers import Dense, Input


def make_model():
    model = fnn.Sequential([
        Input((64,)),
        Dense(32, activation="relu", name="hidden"),
        Dense(10, name="logits"),        # the loss applies the softmax itself
    ])
    model.compile(optimizer=fnn.optim.Adam(lr=3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def load_data(quick):
    (x_train, y_train), (x_test, y_test) = fnn.datasets.load_digits()
    if quick:
        x_train, y_train, x_test, y_test = x_train[:400], y_train[:400], x_test[:100], y_test[:100]
    return (x_train, y_train), (x_test, y_test)


def remove_old_events(log_dir):
    """Delete the event files an earlier run of this script left in ``log_dir``: TensorBoard
    (and the reader) would show both runs on top of each other."""
    for run in ("train", "validation"):
        for path in (log_dir / run).glob("*tfevents*"):
            path.unlink()


def train_with_tensorboard(model, train, test, epochs, log_dir):
    """fit with the TensorBoard callback: scalars every epoch, weight and gradient histograms."""
    remove_old_events(log_dir)
    board = fnn.callbacks.TensorBoard(log_dir, histogram_freq=1, write_grads=True)
    return model.fit(*train, epochs=epochs, batch_size=32, validation_data=test, callbacks=[board], verbose=0)


def read_logs(log_dir):
    """What TensorBoard would show, read back from the event files."""
    train_scalars = tensorboard.read_scalars(log_dir / "train")
    validation_scalars = tensorboard.read_scalars(log_dir / "validation")
    histograms = tensorboard.read_histograms(log_dir / "train")
    return train_scalars, validation_scalars, histograms


def loss_graph(model, x, y, out):
    """The graph of one batch's loss, as fit builds it (model output, then the compiled loss),
    written as DOT, with the parameters named after their layers and the batch named too.
    (Integer labels enter the cross-entropy as data, not as a node: nothing flows back to them.)"""
    x = fnn.tensor(x)
    loss = model.loss(model(x), y)
    names = model.named_weights() + [("x (images)", x)]
    path = viz.save_dot(loss, out / "graph.dot", params=names, rankdir="TB")
    return loss, viz.trace(loss, params=names), path


def rebinned(h, edges):
    """A TensorBoard histogram's counts on the uniform bins ``edges``. TensorBoard's own buckets
    grow geometrically away from zero (each 1.1 times wider), so, as TensorBoard does for
    display, the counts are spread evenly over each bucket and summed per uniform bin: the
    cumulative count, known at every bucket edge, is interpolated at the new edges."""
    right = np.clip(np.array(h["bucket_limit"]), h["min"], h["max"])
    x = np.concatenate([[h["min"]], right])
    cumulative = np.concatenate([[0.0], np.cumsum(h["bucket"])])
    last_of_equal = np.concatenate([np.diff(x) > 0, [True]])   # clipped edges repeat: keep the last
    return np.diff(np.interp(edges, x[last_of_equal], cumulative[last_of_equal]))


def lesson_colors(n):
    from matplotlib import colormaps

    return [colormaps["viridis"](i / max(n - 1, 1)) for i in range(n)]


def plot_logs(train_scalars, validation_scalars, histograms, out):
    fig, axes = lesson.figure(1, 3, figsize=(14, 4))
    loss_ax, weights_ax, grads_ax = axes.ravel()
    for run, scalars in (("train", train_scalars), ("validation", validation_scalars)):
        steps, values = zip(*scalars["epoch_loss"])
        loss_ax.plot(steps, values, marker="o", label=run)
    loss_ax.set(title="epoch_loss, read back from the event files", xlabel="epoch (step)", ylabel="loss")
    loss_ax.legend()
    for ax, tag in ((weights_ax, "hidden/kernel"), (grads_ax, "hidden/kernel_grad")):
        records = histograms[tag]
        low, high = min(h["min"] for _, h in records), max(h["max"] for _, h in records)
        edges = np.linspace(low, high, 41)
        for (step, h), color in zip(records, lesson_colors(len(records))):
            ax.stairs(rebinned(h, edges), edges, color=color, label=f"epoch {step}")
        ax.set(title=f"histogram '{tag}' per epoch", xlabel="value", ylabel="count", yscale="log")
        ax.legend(fontsize=8)
    lesson.save_figure(fig, out, "tensorboard_logs.png")


def run(backend="cpu", quick=False, out=".", seed=0) -> dict:
    """Train with the TensorBoard callback, read the logs back, export the loss graph as DOT."""
    epochs = 4 if quick else 20
    train, test = load_data(quick)
    model = make_model()
    log_dir = out / "logs"
    history = train_with_tensorboard(model, train, test, epochs, log_dir)

    train_scalars, validation_scalars, histograms = read_logs(log_dir)
    for step, value in train_scalars["epoch_loss"]:
        print(f"epoch {step}: loss {value:.4f}  (logged in {log_dir / 'train'})")
    print(f"histogram tags: {sorted(histograms)}")

    loss, graph, dot_path = loss_graph(model, train[0][:32], train[1][:32], out)
    ops = [n.label for n in graph.nodes if n.is_op]
    print(f"graph of the loss: {len(graph.nodes)} nodes ({len(ops)} ops: {', '.join(ops)}), "
          f"{len(graph.edges)} edges -> {dot_path}")
    plot_logs(train_scalars, validation_scalars, histograms, out)

    hidden_kernel = model.get_layer("hidden").kernel
    return {
        "epochs": epochs,
        "log_dir": str(log_dir),
        "history_loss": [float(v) for v in history.history["loss"]],
        "logged_loss": [v for _, v in train_scalars["epoch_loss"]],
        "logged_loss_steps": [s for s, _ in train_scalars["epoch_loss"]],
        "logged_val_loss_steps": [s for s, _ in validation_scalars["epoch_loss"]],
        "scalar_tags": sorted(train_scalars),
        "histogram_tags": sorted(histograms),
        "histogram_steps": {tag: [s for s, _ in records] for tag, records in histograms.items()},
        "hidden_kernel_size": hidden_kernel.size,
        "final_accuracy": float(history.history["accuracy"][-1]),
        "final_val_accuracy": float(history.history["val_accuracy"][-1]),
        "dot_file": dot_path.name,
        "graph_ops": ops,
        "graph_nodes": len(graph.nodes),
        "graph_edges": len(graph.edges),
        "loss_value": float(loss.item()),
    }


def main(argv=None) -> dict:
    return lesson.execute(run, lesson.parse_args(__file__, __doc__, argv))


if __name__ == "__main__":
    main()
