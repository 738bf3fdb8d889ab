"""Weight initialisation: zeros never learn, N(0, 1) explodes, Xavier and He keep the signal's scale -- He for ReLU.

A dense layer computes z = a W + b from the n outputs a of the layer before. With weights
drawn independently, zero-mean, of variance s^2, each pre-activation has

    E[z_j^2] = n s^2 E[a_i^2]                       (a sum of n independent terms)

and after a ReLU, which keeps the positive half of a symmetric z,

    E[relu(z)^2] = E[z^2] / 2     so     E[a_l^2] = (n s^2 / 2) E[a_(l-1)^2].

Layer after layer the root-mean-square (rms) of the activations is multiplied by
sqrt(n s^2 / 2). With n = 64 inputs per layer:

    zeros           s^2 = 0                    every activation is 0 (and stays 0)
    N(0, 1)         s^2 = 1            factor sqrt(32) = 5.7 per layer: explodes
    Xavier/Glorot   s^2 = 2/(n_in+n_out) = 1/n   factor sqrt(1/2) = 0.71: fades out
    He/Kaiming      s^2 = 2/n_in           factor 1: the scale is kept through any depth

Xavier (Glorot & Bengio, 2010) is derived for activations with slope 1 at 0 (tanh); He
(He et al., 2015) adds the factor 2 that makes up for the half of the units a ReLU
switches off. With tanh the danger of large weights is saturation instead: N(0, 1)
pushes almost every unit to +-1, where tanh' ~ 0 and nothing learns.

Zeros fail for another reason, *symmetry*: if all weights of a layer are equal, all its
units compute the same output and receive the same gradient, so they stay equal forever
and the layer is as good as one unit. With zeros that common value is 0 and the
gradients of the hidden layers are exactly 0: only the output bias learns (the class
frequencies), so the accuracy stays at chance.

The script builds the same deep MLP (8 hidden layers of 64 units, on the 8x8 digits)
with each of the four initialisations, looks at every layer's activations at
initialisation (fastnn.diagnostics: histograms, rms per layer, for ReLU and for tanh),
then trains the four ReLU networks with the same plain SGD and compares them.

What you should see: the rms per layer grows ~5.7x per layer with N(0, 1) (the loss
overflows to nan in the first epoch), shrinks ~0.7x with Xavier (a slow start: with
--quick's 6 epochs it is still far behind, after the full run's 30 it nearly catches up),
stays put with He (learns fastest, lowest loss); tanh with N(0, 1) is saturated; zeros
stay all-equal, all-zero and at chance. Plots: activation_histograms.png (hidden layers 1, 4 and 8, ReLU and tanh) and
rms_and_losses.png (rms per layer, training loss per epoch).

    python examples/weight_init.py [--backend numpy|cpu|gpu] [--quick] [--out DIR] [--seed N]
"""

import functools
import math

import numpy as np

import lesson

import fastnn as fnn
from fastnn import diagnostics
from fastnn.layers import Dense, Input

HIDDEN_LAYERS = 8
WIDTH = 64
LEARNING_RATE = 0.03
BATCH_SIZE = 32
INITIALIZERS = {
    "zeros": "zeros",
    "normal": functools.partial(fnn.init.normal, std=1.0),  # N(0, 1): Keras' default std is 0.05
    "xavier": "glorot_normal",                                # N(0, 2 / (fan_in + fan_out))
    "he": "he_normal",                                        # N(0, 2 / fan_in)
}
LABELS = {"zeros": "zeros", "normal": "N(0, 1)", "xavier": "Xavier (Glorot)", "he": "He (Kaiming)"}
COLORS = {name: f"C{i}" for i, name in enumerate(INITIALIZERS)}  # one colour per initialisation in every plot
SHOWN_LAYERS = (1, 4, 8)  # hidden layers whose histograms are drawn


def deep_mlp(activation, initializer):
    """HIDDEN_LAYERS dense layers of WIDTH units, then 10 logits; every kernel from ``initializer``
    (biases start at 0, as usual)."""
    layers = [Input((64,))]
    layers += [Dense(WIDTH, activation=activation, kernel_initializer=initializer) for _ in range(HIDDEN_LAYERS)]
    layers.append(Dense(10, kernel_initializer=initializer))
    return fnn.Sequential(layers)


def hidden_activations(model, x):
    """The output of every hidden layer on the batch x (host arrays), inference mode."""
    return [a for _, a in diagnostics.layer_outputs(model, x)][:HIDDEN_LAYERS]


def rms(a):
    return float(np.sqrt(np.mean(a.astype(np.float64) ** 2)))


def train(model, x_train, y_train, x_test, y_test, epochs):
    """Plain mini-batch SGD; returns the per-epoch training losses and the test accuracy."""
    model.compile(optimizer=fnn.optim.SGD(model.parameters(), lr=LEARNING_RATE),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    # N(0, 1) overflows float32 on purpose: the warnings would only repeat what the loss says (nan)
    with np.errstate(over="ignore", invalid="ignore"):
        history = model.fit(x_train, y_train, epochs=epochs, batch_size=BATCH_SIZE, verbose=0)
        _, accuracy = model.evaluate(x_test, y_test)
    return history.history["loss"], float(accuracy)


def unit_spread(model, x):
    """How different the units of each hidden layer are: the largest difference between any
    unit's incoming weights (kernel column and bias) or outputs and those of unit 0."""
    spread = 0.0
    for layer in model.layers[:HIDDEN_LAYERS]:
        incoming = np.vstack([layer.kernel.numpy(), layer.bias.numpy()[None, :]])  # one column per unit
        spread = max(spread, float(np.abs(incoming - incoming[:, :1]).max()))
    for a in hidden_activations(model, x):
        spread = max(spread, float(np.abs(a - a[:, :1]).max()))
    return spread


def plot_histograms(relu_activations, tanh_activations, out):
    """Top row ReLU, bottom row tanh; one panel per initialisation, one curve per hidden layer."""
    fig, axes = lesson.figure(2, len(INITIALIZERS), figsize=(14, 6.5))
    for col, name in enumerate(INITIALIZERS):
        # ReLU: magnitudes on a log axis, the only way N(0, 1)'s 1e6-wide layers share a panel with 1e-1
        ax = axes[0, col]
        positive = [a[a > 0].astype(np.float64) for a in relu_activations[name]]
        if any(p.size for p in positive):
            low = min(p.min() for p in positive if p.size)
            high = max(p.max() for p in positive if p.size)
            bins = np.logspace(np.log10(low), np.log10(high), 50)
            for layer in SHOWN_LAYERS:
                ax.hist(positive[layer - 1], bins=bins, histtype="step", label=f"layer {layer}")
            ax.set_xscale("log")
        else:
            ax.text(0.5, 0.5, "every activation is 0", ha="center", va="center", transform=ax.transAxes)
            ax.set_xticks([])
        ax.set_title(f"ReLU, {LABELS[name]}")
        ax.set_xlabel("activation > 0 (log scale)")
        # tanh: values in [-1, 1] share one axis
        ax = axes[1, col]
        for layer in SHOWN_LAYERS:
            ax.hist(tanh_activations[name][layer - 1].ravel(), bins=np.linspace(-1, 1, 41), histtype="step",
                    label=f"layer {layer}")
        ax.set_title(f"tanh, {LABELS[name]}")
        ax.set_xlabel("activation")
    for ax in axes.ravel():
        ax.set_yticks([])
    for ax in axes[:, -1]:
        ax.legend(fontsize=8)  # the same three layers in every panel: one legend a row is enough
    fig.suptitle("Hidden-layer activations at initialisation (counts over a batch of 256 digits)")
    lesson.save_figure(fig, out, "activation_histograms.png")


def plot_rms_and_losses(rms_per_layer, losses, out):
    fig, axes = lesson.figure(1, 2, figsize=(12, 4.5))
    left, right = axes[0]
    for name, values in rms_per_layer.items():
        if name != "zeros":  # all 0: nothing to draw on a log scale
            left.semilogy(range(1, len(values) + 1), values, marker="o", color=COLORS[name],
                          label=LABELS[name])
    left.set_xlabel("hidden layer")
    left.set_ylabel("rms of the ReLU activations (log scale)")
    left.set_title("Scale of the signal at initialisation")
    left.legend()
    for name, values in losses.items():
        diverged = not all(math.isfinite(v) for v in values)
        right.plot(range(1, len(values) + 1), values, marker="o", color=COLORS[name],
                   label=LABELS[name] + (" (loss is nan: diverged)" if diverged else ""))
    right.axhline(math.log(10), color="gray", linestyle="--", label="ln 10 (chance)")
    right.set_xlabel("epoch")
    right.set_ylabel("training loss")
    right.set_title("Deep ReLU MLP, plain SGD")
    right.legend()
    lesson.save_figure(fig, out, "rms_and_losses.png")


def run(backend="cpu", quick=False, out=".", seed=0) -> dict:
    (x_train, y_train), (x_test, y_test) = fnn.datasets.load_digits()
    epochs = 6 if quick else 30  # quick: every training sample, fewer epochs
    x_probe = x_train[:256]  # the batch the activations are looked at on
    results = {"hidden_layers": HIDDEN_LAYERS, "width": WIDTH}

    # 1. activations at initialisation, tanh networks: saturation (|a| > 0.99, where tanh' < 0.02)
    tanh_activations = {}
    for name, initializer in INITIALIZERS.items():
        tanh_activations[name] = hidden_activations(deep_mlp("tanh", initializer), x_probe)
        saturated = float(np.mean([np.mean(np.abs(a) > 0.99) for a in tanh_activations[name]]))
        results[f"{name}_tanh_saturated_fraction"] = saturated
        print(f"tanh {LABELS[name]:>16}: {saturated:.0%} of the hidden units saturated")

    # 2. ReLU networks: activations at initialisation, then training
    relu_activations, rms_per_layer, losses = {}, {}, {}
    for name, initializer in INITIALIZERS.items():
        model = deep_mlp("relu", initializer)
        relu_activations[name] = hidden_activations(model, x_probe)
        rms_per_layer[name] = [rms(a) for a in relu_activations[name]]
        losses[name], accuracy = train(model, x_train, y_train, x_test, y_test, epochs)
        results.update({f"{name}_rms_per_layer": rms_per_layer[name], f"{name}_losses": losses[name],
                        f"{name}_accuracy": accuracy})
        if name == "zeros":
            results["zeros_unit_spread_after_training"] = unit_spread(model, x_probe)
            results["zeros_hidden_kernels_all_zero"] = all(
                not np.any(layer.kernel.numpy()) for layer in model.layers[:HIDDEN_LAYERS])
        first, last = rms_per_layer[name][0], rms_per_layer[name][-1]
        growth = (last / first) ** (1 / (HIDDEN_LAYERS - 1)) if first > 0 else 0.0
        results[f"{name}_rms_growth_per_layer"] = growth
        print(f"relu {LABELS[name]:>16}: rms x{growth:.2f} per layer, final loss {losses[name][-1]:.3f}, "
              f"test accuracy {accuracy:.3f}")
    plot_histograms(relu_activations, tanh_activations, out)
    plot_rms_and_losses(rms_per_layer, losses, out)
    return results


def main(argv=None) -> dict:
    return lesson.execute(run, lesson.parse_args(__file__, __doc__, argv))


if __name__ == "__main__":
    main()
