"""Dropout: silencing random units while training keeps a big network from memorising its training set.

A network with far more weights than training examples can learn every example by heart,
mistakes included: its training accuracy climbs to 100% while its accuracy on new data
stays behind. That difference, train accuracy - test accuracy, is the generalisation gap.

Dropout (Srivastava et al., 2014) fights it by making every hidden unit unreliable while
training. Each step, each unit's output h is multiplied by an independent random mask

    m ~ Bernoulli(1 - rate)          (m = 0 with probability rate, else 1)
    h_train = m * h / (1 - rate)     ("inverted" dropout: the survivors are scaled up)

so E[h_train] = (1 - rate) * h / (1 - rate) = h: on average a unit sends the same signal
as without dropout. At inference nothing is dropped and nothing is scaled, h_test = h:
every unit is used, the output is deterministic, and thanks to the 1 / (1 - rate) while
training the next layer sees inputs of the same expected size in both modes. (The
original paper scaled by 1 - rate at test time instead; the result is the same.)

Why it helps: a unit cannot count on any particular partner being present, so the network
cannot build the fragile, co-adapted feature detectors that memorising single examples
needs. Each step trains a different random "thinned" sub-network, and the full network at
inference behaves like an average of all of them.

What the script does:

1. It shows the mechanics on a Dropout layer fed with ones: in training mode about `rate`
   of the outputs are 0, the others are exactly 1 / (1 - rate), their mean is about 1, and
   two calls draw different masks; in inference mode the layer returns its input.
2. It trains the same large MLP (64 -> 2 x hidden ReLU units -> 10) twice on a small
   training set of 8 x 8 digits, without and with Dropout(0.5) after each hidden layer,
   and keeps the rest of the digits as the test set. To make memorisation visible on a
   data set this tidy, 30% of the training labels are replaced by a wrong digit, as
   mislabelled examples are in real data (the test labels stay correct). A network that
   memorises learns these wrong labels too; one that generalises ignores them.
3. It measures both accuracies after every epoch, in inference mode, and plots the curves
   (dropout_curves.png).
4. It checks inference: predict twice gives identical outputs, and they equal those of the
   same weights in a network without Dropout layers (all units used); two forward passes
   in training mode differ.

What you should see: without dropout the training accuracy goes towards 100% (wrong labels
learnt) while the test accuracy falls behind: a wide gap. With dropout the training
accuracy stays near the share of correct labels and the test accuracy is higher: the gap
is much narrower, often even negative.

Dropout slows memorisation down; it does not forbid it. Train the dropout net for many more
epochs and it too starts learning the wrong labels, which is why dropout is usually paired
with early stopping on a validation set (fnn.callbacks.EarlyStopping).

Run it:

    python examples/dropout.py [--backend numpy|cpu|gpu] [--quick] [--out DIR] [--seed N]
"""

import numpy as np

import lesson
import fastnn as fnn
from fastnn.layers import Dense, Dropout, Input

DROPOUT_RATE = 0.5   # the classic choice for hidden layers
LABEL_NOISE = 0.3    # share of training labels replaced by a wrong digit
LEARNING_RATE = 3e-3
DIGITS = 1797        # size of the whole digits data set
QUICK = {"train_size": 200, "hidden": 128, "epochs": 25}
FULL = {"train_size": 400, "hidden": 256, "epochs": 40}


def noisy_digits(train_size, noise, seed):
    """A small training set with a share ``noise`` of wrong labels, and the clean rest as test set."""
    (x_train, y_train), (x_test, y_test) = fnn.datasets.load_digits(test_size=DIGITS - train_size, seed=seed)
    y_train, _ = fnn.datasets.corrupt_labels(y_train, noise, num_classes=10, seed=seed)
    return (x_train, y_train), (x_test, y_test)


def build_mlp(hidden, rate):
    """64 -> hidden -> hidden -> 10, with Dropout(rate) after each hidden layer when rate > 0."""
    layers = [Input((64,))]
    for _ in range(2):
        layers.append(Dense(hidden, activation="relu"))
        if rate > 0:
            layers.append(Dropout(rate))
    layers.append(Dense(10))  # logits: the loss applies the softmax itself
    model = fnn.Sequential(layers)
    model.compile(optimizer=fnn.optim.Adam(lr=LEARNING_RATE), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def train(rate, train, test, settings):
    """Fit one MLP; its model and its per-epoch train/test accuracy curves."""
    model = build_mlp(settings["hidden"], rate)
    curves = lesson.AccuracyCurves({"train": train, "test": test})
    model.fit(*train, epochs=settings["epochs"], batch_size=32, callbacks=[curves], verbose=0)
    return model, curves.curves


def mask_statistics(rate, shape=(200, 500)):
    """Dropout on a tensor of ones: the dropped share, the survivors' value and the mean (training mode)."""
    layer = Dropout(rate)
    ones = fnn.tensor(np.ones(shape, dtype=np.float32))
    out = layer(ones, training=True).numpy()
    again = layer(ones, training=True).numpy()
    inference = layer(ones, training=False).numpy()
    kept = out[out != 0]
    return {
        "mask_elements": int(out.size),
        "mask_dropped_fraction": float(np.mean(out == 0)),
        "mask_kept_min": float(kept.min()),
        "mask_kept_max": float(kept.max()),
        "mask_mean": float(out.mean()),  # E = (1 - rate) * 1 / (1 - rate) = 1
        "mask_two_calls_differ": bool(not np.array_equal(out, again)),
        "mask_inference_is_identity": bool(np.array_equal(inference, np.ones(shape, np.float32))),
    }


def inference_checks(model, x, hidden):
    """Is the dropout net deterministic at inference, random in training, and using every unit?"""
    first, second = model.predict(x), model.predict(x)
    batch = fnn.tensor(x)
    train_a = model(batch, training=True).numpy()
    train_b = model(batch, training=True).numpy()
    # The same weights in a net without Dropout layers: at inference the two must agree.
    plain = build_mlp(hidden, rate=0.0)
    plain.set_weights(model.get_weights())   # Dropout layers have no weights: the lists line up
    return {
        "eval_predictions_identical": bool(np.array_equal(first, second)),
        "train_passes_differ": bool(not np.array_equal(train_a, train_b)),
        "train_passes_max_difference": float(np.abs(train_a - train_b).max()),
        "inference_matches_net_without_dropout": bool(np.allclose(first, plain.predict(x), rtol=1e-5, atol=1e-5)),
    }


def plot(curves, out):
    fig, ax = lesson.figure()
    epochs = np.arange(1, len(curves["without"]["train"]) + 1)
    for name, color in (("without", "tab:red"), ("with", "tab:blue")):
        ax.plot(epochs, curves[name]["train"], color=color, linestyle="--", label=f"train, {name} dropout")
        ax.plot(epochs, curves[name]["test"], color=color, label=f"test, {name} dropout")
    ax.axhline(1 - LABEL_NOISE, color="gray", linewidth=0.8, linestyle=":", label="share of correct training labels")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (inference mode)")
    ax.set_title(f"Large MLP, {LABEL_NOISE:.0%} wrong training labels: dropout {DROPOUT_RATE:g} narrows the gap",
                 fontsize=10)
    ax.legend(fontsize=8)
    lesson.save_figure(fig, out, "dropout_curves.png")


def run(backend="cpu", quick=False, out=".", seed=0) -> dict:
    settings = QUICK if quick else FULL
    train_set, test_set = noisy_digits(settings["train_size"], LABEL_NOISE, seed)
    results = {"dropout_rate": DROPOUT_RATE, "label_noise": LABEL_NOISE,
               "train_size": settings["train_size"], "test_size": len(test_set[1])}
    results.update(mask_statistics(DROPOUT_RATE))

    models, curves = {}, {}
    for name, rate in (("without", 0.0), ("with", DROPOUT_RATE)):
        # The same seed for both nets: the same initial weights (Dropout has none to draw) and
        # the same first epoch's batches, so the two runs differ by dropout alone.
        fnn.manual_seed(seed)
        models[name], curves[name] = train(rate, train_set, test_set, settings)
        train_accuracy, test_accuracy = curves[name]["train"][-1], curves[name]["test"][-1]
        results[f"train_accuracy_{name}"] = train_accuracy
        results[f"test_accuracy_{name}"] = test_accuracy
        results[f"gap_{name}"] = train_accuracy - test_accuracy
        print(f"{name:>7} dropout: train {train_accuracy:.3f}  test {test_accuracy:.3f}  "
              f"gap {train_accuracy - test_accuracy:+.3f}")
    results.update(inference_checks(models["with"], test_set[0][:100], settings["hidden"]))
    plot(curves, out)
    return results


def main(argv=None) -> dict:
    return lesson.execute(run, lesson.parse_args(__file__, __doc__, argv))


if __name__ == "__main__":
    main()
