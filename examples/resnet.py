"""Skip connections let a 32-layer network train where the same network without them does not.

Stacking more layers should never hurt in principle: the extra layers could learn the
identity. In practice a deep *plain* network trains worse than a shallow one (He et al.,
2016, call this "degradation"), because the gradient that reaches its first layers is
the product of one factor per layer above them.

A plain ReLU layer computes h_l = relu(W_l h_(l-1) + b_l); backpropagation multiplies
the gradient by each layer's Jacobian on the way down:

    dL/dh_(l-1) = W_l^T (relu'(z_l) * dL/dh_l)

With the default (Glorot) initialisation a square layer of width n has Var(W) = 1/n, so
each layer scales the squared gradient by about n * (1/n) * 1/2 = 1/2 (the ReLU passes
half of the units). Through 30 layers that is 2^-30 ~ 1e-9: the gradient norm at the
bottom of the stack is 2^-15 ~ 3e-5 of the one at the top. The forward signal shrinks the
same way, so every input gives nearly the same output and the loss sits at ln 10 = 2.303,
the cross-entropy of guessing uniformly among ten classes.

A residual block adds its input back (a skip connection, ``fnn.layers.Add``):

    h_l = relu(h_(l-1) + F(h_(l-1))),     F(h) = W_2 relu(W_1 h + b_1) + b_2

and its Jacobian contains the identity: dh_l/dh_(l-1) = D_l (I + dF/dh), with D_l the
0/1 diagonal of the outer ReLU. The "I" carries the gradient to the bottom of the stack
without the product of small factors, and the network starts close to the shallow one
it contains (each block adds a correction), which plain SGD trains easily.

What the script does: builds two networks on the bundled 8 x 8 digits (64 pixels):
a stem Dense(64, relu), 15 blocks of two Dense(64) layers, and a Dense(10) output, 32
dense layers in all. The only difference: the residual network adds each block's input
to its output, the plain one does not. Both get the same initial weights (same seed,
Glorot uniform) and the same training: plain SGD, learning rate 0.01, batches of 32.
It prints and returns the loss curves, the final losses and accuracies, and, at
initialisation, the gradient norm ||dL/dh|| at the output of every block and ||dL/dW||
of every dense layer. What the learner should see:

  - the plain network's loss stays at 2.30 and its accuracy near chance (0.1), while the
    residual network's loss falls to about 0.13 in 8 epochs (--quick; training accuracy
    about 0.96) and to about 0.001 in 30 (training accuracy 1.0) (loss_curves.png);
  - in the plain network ||dL/dh|| halves at every block of two layers, so the stem's
    output gets 2^-15 ~ 3e-5 of the gradient of the last block's output, just as the
    factor 1/2 per layer predicts; in the residual network it does not shrink (it even
    grows a little towards the input) (gradient_norms.png, left);
  - the weight gradient of a layer, dL/dW_l = (dL/dz_l) h_(l-1)^T, is the product of the
    backward signal (shrinking towards the input) and the layer's input (shrinking
    towards the output), so in the plain network it is ~1e-5 at *every* layer, about a
    million times smaller than in the residual one (gradient_norms.png, right).

The full run adds a third network, the plain one with He initialisation (std
sqrt(2 / n), see weight_init.py): it keeps the variance of the signal, so it does train,
but far more slowly than the residual network (a loss of about 0.1-0.2 after 30 epochs
against about 0.001).

    python examples/resnet.py [--backend numpy|cpu|gpu] [--quick] [--out DIR] [--seed N]
"""

import math

import numpy as np

import lesson
import fastnn as fnn
import fastnn.functional as F
from fastnn import diagnostics
from fastnn.layers import Add, Dense, Input

WIDTH = 64
BLOCKS = 15                 # two dense layers each: 30 hidden layers, 32 with stem and output
NUM_CLASSES = 10
LEARNING_RATE = 0.01
BATCH_SIZE = 32
GRADIENT_BATCH = 256        # samples for the gradient norms at initialisation


class DenseBlock(fnn.Model):
    """Two dense layers, with or without a skip connection:

        skip=True:   y = relu(x + W2 relu(W1 x + b1) + b2)     (a residual block)
        skip=False:  y = relu(W2 relu(W1 x + b1) + b2)         (two plain layers)
    """

    def __init__(self, width, skip, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.skip = skip
        self.dense1 = Dense(width, activation="relu", kernel_initializer=kernel_initializer)
        self.dense2 = Dense(width, kernel_initializer=kernel_initializer)
        self.add = Add()

    def call(self, x, training=None):
        branch = self.dense2(self.dense1(x))
        # the skip connection: the block's input is added back before the ReLU
        return F.relu(self.add([x, branch]) if self.skip else branch)


def deep_network(skip: bool, kernel_initializer="glorot_uniform") -> fnn.Sequential:
    """Stem Dense(64, relu) -> 15 DenseBlocks -> Dense(10) logits: 32 dense layers."""
    return fnn.Sequential(
        [Input((64,)), Dense(WIDTH, activation="relu", kernel_initializer=kernel_initializer)]
        + [DenseBlock(WIDTH, skip, kernel_initializer) for _ in range(BLOCKS)]
        + [Dense(NUM_CLASSES, kernel_initializer=kernel_initializer)],
        name="residual" if skip else "plain")


def gradient_norms(model, x, y) -> tuple:
    """The backward signal for one batch, at the current weights:

    activations: ||dL/dh|| at the output of the stem and of every block, input to output
    weights:     ||dL/dW|| of every dense layer's kernel, input to output
    """
    model.zero_grad()
    h, outputs = fnn.tensor(x), []
    *body, head = model.layers
    for layer in body:                         # the Sequential's forward pass, one layer at a time,
        h = layer(h, training=True)            # keeping each intermediate gradient (retain_grad)
        h.retain_grad()
        outputs.append(h)
    loss = F.sparse_categorical_crossentropy(head(h, training=True), y)
    loss.backward()
    activations = [float(np.linalg.norm(t.grad.numpy())) for t in outputs]
    weights = list(diagnostics.gradient_norms(model).values())  # every kernel, input to output
    model.zero_grad()
    return activations, weights


def train(model, x, y, epochs: int) -> dict:
    """Plain SGD (no momentum): what the network's own gradients can do, unaided."""
    model.compile(optimizer=fnn.optim.SGD(model.parameters(), lr=LEARNING_RATE),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=epochs, batch_size=BATCH_SIZE, verbose=0)
    return {key: [float(v) for v in values] for key, values in history.history.items()}


def experiment(name, model, data, epochs) -> dict:
    """Gradient norms at initialisation, then training: the numbers of one network."""
    (x_train, y_train), (x_test, y_test) = data
    activation_norms, weight_norms = gradient_norms(model, x_train[:GRADIENT_BATCH], y_train[:GRADIENT_BATCH])
    history = train(model, x_train, y_train, epochs)
    _, test_accuracy = model.evaluate(x_test, y_test)
    print(f"{name:>14}: loss {history['loss'][0]:.3f} -> {history['loss'][-1]:.4f}, "
          f"train accuracy {history['accuracy'][-1]:.3f}, test accuracy {test_accuracy:.3f}; at the start "
          f"||dL/dh|| first/last block {activation_norms[0] / activation_norms[-1]:.1e}, "
          f"median ||dL/dW|| {np.median(weight_norms):.1e}")
    return {"loss": history["loss"], "accuracy": history["accuracy"], "test_accuracy": float(test_accuracy),
            "activation_gradient_norms": activation_norms, "weight_gradient_norms": weight_norms}


def plot_losses(runs: dict, out) -> None:
    fig, ax = lesson.figure(figsize=(6.4, 4.2))
    for name, numbers in runs.items():
        ax.plot(range(1, len(numbers["loss"]) + 1), numbers["loss"], marker="o", label=name)
    ax.axhline(math.log(NUM_CLASSES), color="grey", linestyle="--", label="ln 10: uniform guess")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (cross-entropy)")
    ax.set_title(f"{2 * BLOCKS + 2} dense layers, plain SGD: with and without skip connections")
    ax.grid(True, alpha=0.3)
    ax.legend()
    lesson.save_figure(fig, out, "loss_curves.png")


def plot_gradient_norms(runs: dict, out) -> None:
    fig, axes = lesson.figure(1, 2, figsize=(10, 4.2))
    left, right = axes[0]
    for name, numbers in runs.items():
        norms = numbers["activation_gradient_norms"]
        left.plot(range(len(norms)), norms, marker="o", label=name)
        norms = numbers["weight_gradient_norms"]
        right.plot(range(1, len(norms) + 1), norms, marker=".", label=name)
    left.set_xlabel("output of: 0 = stem, 1..15 = residual/plain block")
    left.set_ylabel("||dL/dh||")
    left.set_title("Gradient reaching each block's output")
    right.set_xlabel("dense layer (1 = next to the input)")
    right.set_ylabel("||dL/dW||")
    right.set_title("Gradient of each layer's weights")
    for ax in (left, right):
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle("At initialisation, one batch of 256 digits")
    lesson.save_figure(fig, out, "gradient_norms.png")


def run(backend="cpu", quick=False, out=".", seed=0) -> dict:
    data = fnn.datasets.load_digits()                      # flat: (n, 64) pixels in [0, 1]
    epochs = 8 if quick else 30

    # The same seed before each build: both networks start from identical weights (the
    # Add layer has none), so the skip connection is the only difference between them.
    variants = [("plain", False, "glorot_uniform"), ("residual", True, "glorot_uniform")]
    if not quick:
        variants.append(("plain, He init", False, "he_normal"))
    runs = {}
    for name, skip, initializer in variants:
        fnn.manual_seed(seed)
        runs[name] = experiment(name, deep_network(skip, initializer), data, epochs)

    plot_losses(runs, out)
    plot_gradient_norms(runs, out)
    plain, residual = runs["plain"], runs["residual"]
    results = {
        "epochs": epochs,
        "dense_layers": len(plain["weight_gradient_norms"]),
        "plain_initial_loss": plain["loss"][0],
        "plain_final_loss": plain["loss"][-1],
        "residual_initial_loss": residual["loss"][0],
        "residual_final_loss": residual["loss"][-1],
        "plain_train_accuracy": plain["accuracy"][-1],
        "residual_train_accuracy": residual["accuracy"][-1],
        "plain_test_accuracy": plain["test_accuracy"],
        "residual_test_accuracy": residual["test_accuracy"],
        "plain_loss": plain["loss"],
        "residual_loss": residual["loss"],
        "plain_activation_gradient_norms": plain["activation_gradient_norms"],
        "residual_activation_gradient_norms": residual["activation_gradient_norms"],
        "plain_weight_gradient_norms": plain["weight_gradient_norms"],
        "residual_weight_gradient_norms": residual["weight_gradient_norms"],
    }
    if "plain, He init" in runs:
        he = runs["plain, He init"]
        results.update(plain_he_final_loss=he["loss"][-1], plain_he_train_accuracy=he["accuracy"][-1],
                       plain_he_test_accuracy=he["test_accuracy"])
    return results


def main(argv=None) -> dict:
    return lesson.execute(run, lesson.parse_args(__file__, __doc__, argv))


if __name__ == "__main__":
    main()
