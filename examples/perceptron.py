"""The perceptron: one neuron with a step activation learns AND and OR, but no setting of its weights computes XOR.

Rosenblatt's perceptron (1958) weighs its inputs, adds a bias and fires when the sum is positive:

    y_hat = step(w . x + b)          step(z) = 1 if z > 0 else 0     (Heaviside)

It answers 1 on one side of the line w . x + b = 0 and 0 on the other: a perceptron is a
*linear* classifier. The step has no useful derivative (it is 0 everywhere but at 0), so
gradient descent cannot train it; the perceptron learning rule does instead, one sample at
a time:

    w <- w + lr (y - y_hat) x
    b <- b + lr (y - y_hat)

A correct answer (y = y_hat) changes nothing; a missed 1 moves w towards x, a false 1 moves
it away. If some line separates the two classes, the rule finds one after finitely many
mistakes (the perceptron convergence theorem).

The logic gates on two inputs:

    x1 x2 | AND  OR  XOR
     0  0 |  0    0   0
     0  1 |  0    1   1
     1  0 |  0    1   1
     1  1 |  1    1   0

AND and OR are linearly separable: a line cuts off (1, 1), or (0, 0). XOR is not: its ones,
(0, 1) and (1, 0), sit on one diagonal and its zeros on the other, and any line that puts both
ones on its positive side puts at least one zero there too. So the rule never stops making
mistakes on XOR and a perceptron gets at most 3 of the 4 inputs right, whatever its weights
(Minsky and Papert, 1969). Solving XOR needs a hidden layer: see xor_mlp.py.

The script trains one perceptron per gate with the rule above (F.step is fastnn's Heaviside
step), prints the mistakes per epoch, and draws the decision line each one learned.
You should see AND and OR reach accuracy 1.0 within a few epochs and XOR stay at 0.75 or less.

    python examples/perceptron.py [--backend numpy|cpu|gpu] [--quick] [--out DIR] [--seed N]
"""

import lesson
import numpy as np

import fastnn as fnn
import fastnn.functional as F

INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
GATES = {
    "and": np.array([0, 0, 0, 1], dtype=np.float32),
    "or": np.array([0, 1, 1, 1], dtype=np.float32),
    "xor": np.array([0, 1, 1, 0], dtype=np.float32),
}


def predict(x, w, b):
    """y_hat = step(x . w + b), for one input (2,) or a batch (n, 2)."""
    return F.step(x @ w + b)


def train_perceptron(targets, epochs, lr):
    """The perceptron learning rule, sample by sample in a fresh random order each epoch.

    Returns the weights, the bias and the number of mistakes made in each epoch.
    """
    x, y = fnn.tensor(INPUTS), fnn.tensor(targets)
    w = fnn.randn(2) * 0.1     # small random start: the rule, not the start, does the work
    b = fnn.zeros(())
    mistakes_per_epoch = []
    with fnn.no_grad():        # no autograd: the rule needs no gradient (step's is zero anyway)
        for _ in range(epochs):
            mistakes = 0
            for i in fnn.random.default_generator.permutation(len(INPUTS)):
                error = y[int(i)] - predict(x[int(i)], w, b)   # +1 missed a 1, -1 false 1, 0 right
                w = w + lr * error * x[int(i)]
                b = b + lr * error
                mistakes += int(error.item() != 0)
            mistakes_per_epoch.append(mistakes)
    return w, b, mistakes_per_epoch


def accuracy(w, b, targets):
    with fnn.no_grad():
        predicted = predict(fnn.tensor(INPUTS), w, b).numpy()
    return float((predicted == targets).mean())


def plot_boundaries(learned, out):
    """One panel per gate: the four inputs coloured by their target, the region where the
    perceptron answers 1 shaded, and its decision line w . x + b = 0."""
    fig, axes = lesson.figure(1, 3, figsize=(11, 3.8))
    grid = np.linspace(-0.5, 1.5, 201, dtype=np.float32)
    gx, gy = np.meshgrid(grid, grid)
    for ax, (gate, (w, b, acc)) in zip(axes.ravel(), learned.items()):
        fires = (gx * w[0] + gy * w[1] + b > 0).astype(float)
        ax.contourf(gx, gy, fires, levels=[-0.5, 0.5, 1.5], colors=["#f4d6d6", "#d6e4f4"])
        ax.contour(gx, gy, gx * w[0] + gy * w[1] + b, levels=[0.0], colors="k")
        targets = GATES[gate]
        ax.scatter(INPUTS[:, 0], INPUTS[:, 1], c=["tab:blue" if t else "tab:red" for t in targets],
                   s=120, edgecolors="k", zorder=3)
        for (x1, x2), t in zip(INPUTS, targets):
            ax.annotate(f"{int(t)}", (x1, x2), xytext=(8, 8), textcoords="offset points")
        ax.set_title(f"{gate.upper()}: accuracy {acc:.2f}")
        ax.set_xlim(-0.5, 1.5)
        ax.set_ylim(-0.5, 1.5)
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
        ax.set_aspect("equal")
    lesson.save_figure(fig, out, "perceptron_boundaries.png")


def run(backend="cpu", quick=False, out=".", seed=0) -> dict:
    """Train one perceptron per gate; AND and OR are learned, XOR is not."""
    epochs = 20 if quick else 100
    lr = 0.1
    results, learned = {}, {}
    for gate, targets in GATES.items():
        w, b, mistakes = train_perceptron(targets, epochs, lr)
        acc = accuracy(w, b, targets)
        learned[gate] = (w.numpy(), float(b.item()), acc)
        first_clean = next((epoch + 1 for epoch, m in enumerate(mistakes) if m == 0), None)
        print(f"{gate.upper():>3}: mistakes per epoch {mistakes[:12]}{' ...' if len(mistakes) > 12 else ''}"
              f"  accuracy {acc:.2f}")
        results[f"accuracy_{gate}"] = acc
        results[f"weights_{gate}"] = [float(v) for v in learned[gate][0]]
        results[f"bias_{gate}"] = learned[gate][1]
        results[f"mistakes_{gate}"] = mistakes
        results[f"first_epoch_without_mistakes_{gate}"] = first_clean   # None: never
    results["epochs"] = epochs
    plot_boundaries(learned, out)
    return results


def main(argv=None) -> dict:
    return lesson.execute(run, lesson.parse_args(__file__, __doc__, argv))


if __name__ == "__main__":
    main()
