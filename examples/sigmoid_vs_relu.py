"""Sigmoid vs ReLU: in a deep network the sigmoid's gradient vanishes on its way to the input; ReLU's does not.

Backpropagation carries the error signal from the loss back to the first layer by the
chain rule. For a stack of dense layers a_l = f(z_l), z_l = a_(l-1) W_l + b_l:

    delta_L     = dLoss / dz_L
    delta_(l-1) = (delta_l W_l^T) * f'(z_(l-1))          (* is element-wise)
    dLoss/dW_l  = a_(l-1)^T delta_l

Every layer multiplies the signal by its weights and by the activation's derivative.
For the logistic sigmoid

    sigma(z)  = 1 / (1 + exp(-z))
    sigma'(z) = sigma(z) (1 - sigma(z))   <=   1/4,   with equality only at z = 0,

so each sigmoid layer shrinks the signal by a factor 1/4 or less (Glorot initialisation
keeps the weights' own factor near 1). After 10 layers that is (1/4)^10 ~ 1e-6: the first
layers get almost no gradient and barely learn -- the *vanishing gradient*. ReLU,
relu(z) = max(0, z), has relu'(z) = 1 where the unit is active and 0 elsewhere; with He
initialisation (Var W = 2 / fan_in, which makes up for the half of the units that are off)
the signal keeps its size through any depth.

The script
  1. computes sigma'(z) on a grid with autograd and shows its maximum, 1/4 at z = 0;
  2. builds the same deep MLP twice on the 8x8 digits (10 hidden layers of 64 units):
     sigmoid hidden units with Glorot initialisation, and ReLU with He initialisation --
     each activation with the variance-scaling initialiser made for it, so that the
     only handicap of the sigmoid is its derivative;
  3. measures ||dLoss/dW_l||_2 of every layer at initialisation
     (fastnn.diagnostics.gradient_norms);
  4. trains both with the same plain SGD (no momentum, no adaptive step sizes that would
     rescale the tiny gradients and hide the effect) and compares loss and test accuracy.

What you should see: the sigmoid network's gradient norms fall by a factor of about 4 per
layer from the output towards the input (first layer ~1e-6 of the last hidden one), its
loss stays near ln(10) = 2.30 (guessing among 10 classes) and its accuracy near chance;
the ReLU network's gradient norms are about equal in every layer and it learns the
digits. Plot: sigmoid_vs_relu.png (gradient norm per layer, log scale; loss per epoch).

    python examples/sigmoid_vs_relu.py [--backend numpy|cpu|gpu] [--quick] [--out DIR] [--seed N]
"""

import numpy as np

import lesson

import fastnn as fnn
import fastnn.functional as F
from fastnn import diagnostics
from fastnn.layers import Dense, Input

HIDDEN_LAYERS = 10
WIDTH = 64
LEARNING_RATE = 0.03
BATCH_SIZE = 32
# each activation with the initialiser designed for it (both are variance-scaling schemes)
VARIANTS = {"sigmoid": "glorot_uniform", "relu": "he_uniform"}


def sigmoid_derivative_maximum():
    """sigma'(z) on a grid of z in [-8, 8], by autograd: d/dz_i sum_j sigma(z_j) = sigma'(z_i)."""
    z = fnn.tensor(np.linspace(-8.0, 8.0, 1601), requires_grad=True)
    F.sigmoid(z).sum().backward()
    derivative = z.grad.numpy()
    best = int(np.argmax(derivative))
    return float(derivative[best]), float(z.numpy()[best])


def deep_mlp(activation, initializer):
    """HIDDEN_LAYERS dense layers of WIDTH units with ``activation``, then 10 logits."""
    layers = [Input((64,))]
    layers += [Dense(WIDTH, activation=activation, kernel_initializer=initializer) for _ in range(HIDDEN_LAYERS)]
    layers.append(Dense(10, kernel_initializer="glorot_uniform"))  # linear output: Glorot suits it
    return fnn.Sequential(layers)


def gradient_norms_on(model, x, y):
    """||dLoss/dW_l||_2 of every dense layer, input -> output, for one batch."""
    model.zero_grad()
    loss = F.sparse_categorical_crossentropy(model(x, training=True), y)
    loss.backward()
    norms = list(diagnostics.gradient_norms(model).values())
    model.zero_grad()  # leave no stale gradients behind for the optimizer
    return norms


def train(model, x_train, y_train, x_test, y_test, epochs):
    """Plain mini-batch SGD; returns the per-epoch training losses and the test accuracy."""
    model.compile(optimizer=fnn.optim.SGD(model.parameters(), lr=LEARNING_RATE),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=BATCH_SIZE, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test)
    return history.history["loss"], float(accuracy)


def plot(norms, losses, out):
    """Left: gradient norm per layer (log scale); right: training loss per epoch."""
    fig, axes = lesson.figure(1, 2, figsize=(12, 4.5))
    left, right = axes[0]
    for name, values in norms.items():
        left.semilogy(range(1, len(values) + 1), values, marker="o", label=f"{name} ({VARIANTS[name]})")
    left.set_xlabel("layer (1 = next to the input)")
    left.set_ylabel("||dLoss/dW||_2 at initialisation (log scale)")
    left.set_title(f"Gradient norms, {HIDDEN_LAYERS} hidden layers + output")
    left.legend()
    for name, values in losses.items():
        right.plot(range(1, len(values) + 1), values, marker="o", label=name)
    right.axhline(np.log(10), color="gray", linestyle="--", label="ln 10 (chance)")
    right.set_xlabel("epoch")
    right.set_ylabel("training loss (cross-entropy)")
    right.set_title("Plain SGD, same depth, same learning rate")
    right.legend()
    lesson.save_figure(fig, out, "sigmoid_vs_relu.png")


def run(backend="cpu", quick=False, out=".", seed=0) -> dict:
    max_derivative, z_at_max = sigmoid_derivative_maximum()
    print(f"max sigma'(z) = {max_derivative:.4f} at z = {z_at_max:.2f}; "
          f"(1/4)^{HIDDEN_LAYERS} = {0.25 ** HIDDEN_LAYERS:.1e}")

    (x_train, y_train), (x_test, y_test) = fnn.datasets.load_digits()
    epochs = 6 if quick else 30  # quick: every training sample, fewer epochs
    x_probe, y_probe = x_train[:256], y_train[:256]  # the batch the gradients are measured on

    results = {"max_sigmoid_derivative": max_derivative, "z_at_max_derivative": z_at_max,
               "hidden_layers": HIDDEN_LAYERS}
    norms, losses = {}, {}
    for activation, initializer in VARIANTS.items():
        model = deep_mlp(activation, initializer)
        norms[activation] = gradient_norms_on(model, x_probe, y_probe)
        losses[activation], accuracy = train(model, x_train, y_train, x_test, y_test, epochs)
        # first hidden layer vs last hidden layer (the output layer is the last entry)
        ratio = norms[activation][0] / norms[activation][HIDDEN_LAYERS - 1]
        print(f"{activation:>7}: ||g|| first/last hidden layer = {ratio:.2e}, "
              f"final loss {losses[activation][-1]:.3f}, test accuracy {accuracy:.3f}")
        results.update({f"{activation}_gradient_norms": norms[activation],
                        f"{activation}_first_to_last_hidden_ratio": ratio,
                        f"{activation}_losses": losses[activation],
                        f"{activation}_accuracy": accuracy})

    plot(norms, losses, out)
    return results


def main(argv=None) -> dict:
    return lesson.execute(run, lesson.parse_args(__file__, __doc__, argv))


if __name__ == "__main__":
    main()
