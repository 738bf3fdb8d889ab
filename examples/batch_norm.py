"""Batch normalisation: normalising every layer's inputs over the mini-batch makes a deep network train in fewer epochs.

In a deep network the distribution of each layer's inputs depends on every weight
before it, and so it changes in scale and offset with depth and while the network
trains. Batch normalisation (Ioffe & Szegedy, 2015) standardises each unit (channel) c
of a layer's pre-activations z over the current mini-batch B of m samples, then lets the
network choose the scale and offset it wants:

    mu_B    = (1/m) sum_i z_ic                     var_B = (1/m) sum_i (z_ic - mu_B)^2
    z_hat   = (z_ic - mu_B) / sqrt(var_B + eps)
    y_ic    = gamma_c z_hat + beta_c               gamma, beta: learned (start at 1 and 0)

So every layer sees inputs of mean ~beta and standard deviation ~gamma whatever the
layers before it do, and gradient descent can take large steps without the signal
shrinking or blowing up with depth. (A bias before BN is useless -- mu_B removes it --
so the Dense layers before it have use_bias=False.)

At inference there may be a single sample, and a prediction must not depend on which
other samples share its batch. So during training each BN layer also keeps running
averages of the batch statistics,

    running_mean <- momentum running_mean + (1 - momentum) mu_B
    running_var  <- momentum running_var  + (1 - momentum) var_B m/(m-1)

(fastnn's ``BatchNormalization(momentum=...)`` follows Keras: momentum is the weight of
the old value; 0.9 here, PyTorch's default, so that they follow the weights quickly) and
in eval mode uses them in place of mu_B and var_B: y = gamma (z - running_mean) /
sqrt(running_var + eps) + beta, a fixed function of each sample.

The script trains the same deep ReLU MLP (8 hidden layers of 64 units, Keras' default
Glorot initialisation, plain SGD) on the 8x8 digits with and without a
BatchNormalization before each ReLU, and shows

  1. the training loss per epoch: with BN the target loss is reached in fewer epochs;
  2. mean and standard deviation of every hidden layer's pre-activations
     (fastnn.diagnostics.layer_outputs), at initialisation and after training: with BN
     about 0 and 1 in every layer; without it the scale drifts with depth and training;
  3. that BN's running mean and variance approximate the statistics of its input over
     the whole training set;
  4. that in eval mode a sample's output does not depend on the rest of its batch,
     while in training mode it does (the batch statistics change with the batch).

Plot: batch_norm.png (loss curves, per-layer pre-activation mean and std).

    python examples/batch_norm.py [--backend numpy|cpu|gpu] [--quick] [--out DIR] [--seed N]
"""

import numpy as np

import lesson

import fastnn as fnn
from fastnn import diagnostics
from fastnn.layers import Activation, BatchNormalization, Dense, Input

HIDDEN_LAYERS = 8
WIDTH = 64
LEARNING_RATE = 0.05
BATCH_SIZE = 32
TARGET_LOSS = 0.8
BN_MOMENTUM = 0.9


def deep_mlp(batch_norm):
    """HIDDEN_LAYERS blocks Dense -> [BatchNormalization] -> ReLU, then 10 logits."""
    layers = [Input((64,))]
    for _ in range(HIDDEN_LAYERS):
        layers.append(Dense(WIDTH, use_bias=not batch_norm))  # BN's beta takes the bias's place
        if batch_norm:
            layers.append(BatchNormalization(momentum=BN_MOMENTUM))
        layers.append(Activation("relu"))
    layers.append(Dense(10))
    return fnn.Sequential(layers)


def preactivations(model, x, training=False):
    """The input of every ReLU (host arrays): the output of the layer just before each Activation.

    training=True normalises with the batch's own statistics; that call would also move
    the running statistics, so the weights are put back afterwards."""
    saved = model.get_weights() if training else None
    outputs = diagnostics.layer_outputs(model, x, training=training)
    if saved is not None:
        model.set_weights(saved)
    layers = model.layers
    return [outputs[i - 1][1] for i, layer in enumerate(layers) if isinstance(layer, Activation)]


def moments(arrays):
    """Per layer: the mean and the standard deviation over all samples and units."""
    return ([float(a.mean()) for a in arrays], [float(a.std()) for a in arrays])


def epochs_to_reach(losses, target):
    """The first epoch (1-based) whose training loss is <= target, or None."""
    return next((epoch for epoch, loss in enumerate(losses, 1) if loss <= target), None)


def train(model, x, y, epochs):
    model.compile(optimizer=fnn.optim.SGD(model.parameters(), lr=LEARNING_RATE),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model.fit(x, y, epochs=epochs, batch_size=BATCH_SIZE, verbose=0).history["loss"]


def running_statistics_vs_data(model, x):
    """The first BN layer's running mean/var next to the mean/var of its input over all of x."""
    layers = model.layers
    position = next(i for i, layer in enumerate(layers) if isinstance(layer, BatchNormalization))
    bn_input = diagnostics.layer_outputs(model, x)[position - 1][1].astype(np.float64)
    bn = layers[position]
    return (bn.running_mean.numpy().tolist(), bn.running_var.numpy().tolist(),
            bn_input.mean(axis=0).tolist(), bn_input.var(axis=0).tolist())


def batch_dependence(model, x, training):
    """Largest change of sample 0's output when the other samples of its batch are replaced.

    Both batches have the same size, so the only difference sample 0 can see is its company."""
    half = len(x) // 2
    batch_a = x[:half]
    batch_b = np.concatenate([x[:1], x[half:2 * half - 1]])
    saved = model.get_weights()  # a training-mode call updates the running statistics: undo it
    with fnn.no_grad():
        out_a = model(batch_a, training=training).numpy()[0]
        out_b = model(batch_b, training=training).numpy()[0]
    model.set_weights(saved)
    return float(np.abs(out_a - out_b).max())


def plot(losses, statistics, out):
    fig, axes = lesson.figure(1, 3, figsize=(15, 4.5))
    loss_ax, mean_ax, std_ax = axes[0]
    for name, values in losses.items():
        loss_ax.plot(range(1, len(values) + 1), values, marker="o", label=name)
    loss_ax.axhline(TARGET_LOSS, color="gray", linestyle="--", label=f"target {TARGET_LOSS}")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("training loss")
    loss_ax.set_title("Same net, same SGD: with and without BN")
    loss_ax.legend()
    for index, (name, (init, trained)) in enumerate(statistics.items()):
        layers = range(1, len(init[0]) + 1)
        for ax, which in ((mean_ax, 0), (std_ax, 1)):
            ax.plot(layers, init[which], linestyle="--", marker="o", color=f"C{index}", label=f"{name}, at init")
            ax.plot(layers, trained[which], marker="o", color=f"C{index}", label=f"{name}, trained")
    mean_ax.set_title("Mean of the pre-activations")
    std_ax.set_title("Std of the pre-activations")
    for ax in (mean_ax, std_ax):
        ax.set_xlabel("hidden layer")
        ax.legend(fontsize=8)
    lesson.save_figure(fig, out, "batch_norm.png")


def run(backend="cpu", quick=False, out=".", seed=0) -> dict:
    (x_train, y_train), (x_test, y_test) = fnn.datasets.load_digits()
    samples, epochs = (600, 10) if quick else (len(x_train), 30)
    x_train, y_train = x_train[:samples], y_train[:samples]
    x_probe = x_train[:256]
    results = {"target_loss": TARGET_LOSS, "epochs": epochs, "hidden_layers": HIDDEN_LAYERS}
    losses, statistics, models = {}, {}, {}

    for name, batch_norm in (("plain", False), ("bn", True)):
        model = deep_mlp(batch_norm)
        # at initialisation: a training-mode pass, as the first SGD step sees it
        init = moments(preactivations(model, x_probe, training=True))
        losses[name] = train(model, x_train, y_train, epochs)
        # after training: inference mode (BN on its running statistics) over the whole training set
        trained = moments(preactivations(model, x_train))
        statistics[name] = (init, trained)
        models[name] = model
        reached = epochs_to_reach(losses[name], TARGET_LOSS)
        _, accuracy = model.evaluate(x_test, y_test)
        print(f"{name:>5}: loss <= {TARGET_LOSS} after {reached or f'more than {epochs}'} epochs, "
              f"final loss {losses[name][-1]:.3f}, test accuracy {accuracy:.3f}; pre-activation std per layer "
              f"{' '.join(f'{s:.2f}' for s in trained[1])}")
        results.update({f"{name}_losses": losses[name], f"{name}_epochs_to_target": reached,
                        f"{name}_accuracy": float(accuracy),
                        f"{name}_init_preactivation_mean": init[0], f"{name}_init_preactivation_std": init[1],
                        f"{name}_preactivation_mean": trained[0], f"{name}_preactivation_std": trained[1]})

    bn_model = models["bn"]
    running_mean, running_var, data_mean, data_var = running_statistics_vs_data(bn_model, x_train)
    results.update({"running_mean": running_mean, "running_var": running_var,
                    "data_mean": data_mean, "data_var": data_var})
    print(f"first BN layer: max |running_mean - data mean| = "
          f"{np.abs(np.subtract(running_mean, data_mean)).max():.3f}, running_var / data var in "
          f"[{np.min(np.divide(running_var, data_var)):.2f}, {np.max(np.divide(running_var, data_var)):.2f}]")

    results["eval_batch_dependence"] = batch_dependence(bn_model, x_test[:64], training=False)
    results["train_batch_dependence"] = batch_dependence(bn_model, x_test[:64], training=True)
    print(f"sample 0's output changes by {results['eval_batch_dependence']:.1e} in eval mode and by "
          f"{results['train_batch_dependence']:.2f} in training mode when the rest of its batch changes")

    plot(losses, statistics, out)
    return results


def main(argv=None) -> dict:
    return lesson.execute(run, lesson.parse_args(__file__, __doc__, argv))


if __name__ == "__main__":
    main()
