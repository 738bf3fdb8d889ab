"""Model size and L2 regularisation: a too small model underfits, a too large one overfits, L2 reins it in.

How well a network does on new data depends on its capacity, how many different functions
it can represent, compared with how much data it learns from:

- Underfitting: the model is too simple for the task. It cannot even fit its training
  data, so training AND validation accuracy are low (high bias).
- Overfitting: the model is so flexible that it fits the training data, noise and
  mistakes included, better than the rule behind it. Training accuracy is high,
  validation accuracy lags behind: a wide train - validation gap (high variance).

Looking at both curves, training and validation, per epoch tells the two apart.

One cure for overfitting is to shrink the model. Another is to keep the large model and
penalise large weights. L2 regularisation (weight decay) adds to the loss

    L(W) = cross_entropy(W) + lambda * sum_k ||W_k||^2     (sum over the layers' kernels)

whose gradient adds 2 * lambda * W to every kernel's gradient: each step pulls every
weight a little towards zero, and only weights the data keeps pushing stay large. Small
weights make a smoother function of the input, which cannot bend around each single
training example. The larger lambda, the smaller the weight norm ||W|| = sqrt(sum_k ||W_k||^2);
too large a lambda underfits in turn. In fastnn the penalty is a layer argument,
`Dense(..., kernel_regularizer=fnn.regularizers.l2(lam))`, and `fit` adds `model.losses`
to the loss.

What the script does: it trains MLPs on a small training set of 8 x 8 digits in which 30%
of the labels are replaced by a wrong digit (as mislabelled examples are in real data; a
model that memorises learns them, one that generalises ignores them), and validates on
correctly labelled digits it never trained on:

1. three sizes without regularisation: small (one hidden layer of 2 units), medium (one
   of 32) and large (two of many units); curves in model_size_curves.png;
2. the large model with several L2 factors lambda (0 included); curves, final weight norms
   and gaps in l2_curves.png.

What you should see: the small model underfits (lowest training accuracy, well below the
70% of correct labels); the large unregularised one overfits (training accuracy far above
70%: it learnt wrong labels by heart; the widest train - validation gap); as lambda grows
the weight norm shrinks, step by step, and so does the gap, while validation accuracy
rises.

Run it:

    python examples/regularization.py [--backend numpy|cpu|gpu] [--quick] [--out DIR] [--seed N]
"""

import numpy as np

import lesson
import fastnn as fnn
from fastnn.layers import Dense, Input

LABEL_NOISE = 0.3      # share of training labels replaced by a wrong digit
LEARNING_RATE = 3e-3
DIGITS = 1797          # size of the whole digits data set
QUICK = {"train_size": 200, "validation_size": 500, "large": (128, 128), "epochs": 35,
         "lambdas": (0.0, 1e-3, 3e-3, 1e-2)}
FULL = {"train_size": 400, "validation_size": None, "large": (256, 256), "epochs": 40,
        "lambdas": (0.0, 3e-4, 1e-3, 3e-3, 1e-2)}
SIZES = {"small": (2,), "medium": (32,)}   # hidden units per layer; "large" comes from the settings


def noisy_digits(train_size, validation_size, noise, seed):
    """A small training set with a share ``noise`` of wrong labels, and clean validation digits."""
    (x_train, y_train), (x_val, y_val) = fnn.datasets.load_digits(test_size=DIGITS - train_size, seed=seed)
    y_train, _ = fnn.datasets.corrupt_labels(y_train, noise, num_classes=10, seed=seed)
    return (x_train, y_train), (x_val[:validation_size], y_val[:validation_size])


def build_mlp(hidden, lam=0.0):
    """64 -> hidden[0] -> ... -> 10 (ReLU), every kernel with the L2 penalty lam * ||W||^2 when lam > 0."""
    penalty = fnn.regularizers.l2(lam) if lam > 0 else None
    layers = [Input((64,))]
    layers += [Dense(units, activation="relu", kernel_regularizer=penalty) for units in hidden]
    layers.append(Dense(10, kernel_regularizer=penalty))  # logits: the loss applies the softmax itself
    model = fnn.Sequential(layers)
    model.compile(optimizer=fnn.optim.Adam(lr=LEARNING_RATE), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def kernel_norm(model):
    """||W|| = sqrt(sum over the Dense kernels of sum(w^2)): what the L2 penalty shrinks (biases are free)."""
    squares = sum(float(np.sum(layer.kernel.numpy().astype(np.float64) ** 2))
                  for layer in model.layers if isinstance(layer, Dense))
    return float(np.sqrt(squares))


def train(hidden, lam, train_set, validation_set, settings, seed):
    """Fit one MLP from the script's seed (the same initial draws for every variant)."""
    fnn.manual_seed(seed)
    model = build_mlp(hidden, lam)
    curves = lesson.AccuracyCurves({"train": train_set, "validation": validation_set})
    model.fit(*train_set, epochs=settings["epochs"], batch_size=32, callbacks=[curves], verbose=0)
    train_accuracy, validation_accuracy = curves.curves["train"][-1], curves.curves["validation"][-1]
    return {
        "curves": curves.curves,
        "train_accuracy": train_accuracy,
        "validation_accuracy": validation_accuracy,
        "gap": train_accuracy - validation_accuracy,
        "weight_norm": kernel_norm(model),
        # What fit added to the loss at the end: sum(model.losses) = lam * ||W||^2.
        "penalty": float(sum(float(p.item()) for p in model.losses)),
    }


def plot_sizes(runs, out):
    fig, axes = lesson.figure(1, len(runs), figsize=(4.0 * len(runs), 3.6))
    for ax, (name, run_) in zip(axes[0], runs.items()):
        epochs = np.arange(1, len(run_["curves"]["train"]) + 1)
        ax.plot(epochs, run_["curves"]["train"], label="train")
        ax.plot(epochs, run_["curves"]["validation"], label="validation")
        ax.axhline(1 - LABEL_NOISE, color="gray", linewidth=0.8, linestyle=":", label="correct training labels")
        ax.set_ylim(0, 1.02)
        ax.set_title(f"{name}: gap {run_['gap']:+.2f}")
        ax.set_xlabel("epoch")
    axes[0][0].set_ylabel("accuracy")
    axes[0][0].legend(fontsize=8)
    lesson.save_figure(fig, out, "model_size_curves.png")


def plot_lambdas(runs, out):
    fig, axes = lesson.figure(1, 2, figsize=(11, 4))
    curves_ax, summary_ax = axes[0]
    for lam, run_ in runs.items():
        epochs = np.arange(1, len(run_["curves"]["train"]) + 1)
        line, = curves_ax.plot(epochs, run_["curves"]["train"], linestyle="--")
        curves_ax.plot(epochs, run_["curves"]["validation"], color=line.get_color(), label=f"lambda = {lam:g}")
    curves_ax.set_xlabel("epoch")
    curves_ax.set_ylabel("accuracy (dashed: train, solid: validation)")
    curves_ax.set_title("large model, L2 factor lambda")
    curves_ax.legend(fontsize=8)
    positions = np.arange(len(runs))
    summary_ax.bar(positions, [run_["weight_norm"] for run_ in runs.values()], color="tab:blue")
    summary_ax.set_xticks(positions, [f"{lam:g}" for lam in runs])
    summary_ax.set_xlabel("lambda")
    summary_ax.set_ylabel("weight norm ||W||", color="tab:blue")
    gap_ax = summary_ax.twinx()
    gap_ax.plot(positions, [run_["gap"] for run_ in runs.values()], "o-", color="tab:red")
    gap_ax.set_ylabel("train - validation accuracy", color="tab:red")
    summary_ax.set_title("L2 shrinks the weights and the gap")
    lesson.save_figure(fig, out, "l2_curves.png")


def run(backend="cpu", quick=False, out=".", seed=0) -> dict:
    settings = QUICK if quick else FULL
    train_set, validation_set = noisy_digits(settings["train_size"], settings["validation_size"],
                                             LABEL_NOISE, seed)
    results = {"label_noise": LABEL_NOISE, "train_size": len(train_set[1]),
               "validation_size": len(validation_set[1]), "lambdas": list(settings["lambdas"])}

    sizes = {**SIZES, "large": settings["large"]}
    by_size = {name: train(hidden, 0.0, train_set, validation_set, settings, seed) for name, hidden in sizes.items()}
    for name, run_ in by_size.items():
        print(f"{name:>6} {str(sizes[name]):>10}: train {run_['train_accuracy']:.3f}  "
              f"validation {run_['validation_accuracy']:.3f}  gap {run_['gap']:+.3f}")
        for key in ("train_accuracy", "validation_accuracy", "gap"):
            results[f"{name}_{key}"] = run_[key]
    plot_sizes(by_size, out)

    by_lambda = {0.0: by_size["large"]}  # lambda = 0 is the large model just trained
    for lam in settings["lambdas"]:
        if lam not in by_lambda:
            by_lambda[lam] = train(settings["large"], lam, train_set, validation_set, settings, seed)
    for lam, run_ in by_lambda.items():
        print(f"lambda {lam:<7g}: train {run_['train_accuracy']:.3f}  validation {run_['validation_accuracy']:.3f}  "
              f"gap {run_['gap']:+.3f}  ||W|| {run_['weight_norm']:.2f}")
    for key in ("train_accuracy", "validation_accuracy", "gap", "weight_norm", "penalty"):
        results[f"l2_{key}"] = [by_lambda[lam][key] for lam in settings["lambdas"]]
    plot_lambdas(by_lambda, out)
    return results


def main(argv=None) -> dict:
    return lesson.execute(run, lesson.parse_args(__file__, __doc__, argv))


if __name__ == "__main__":
    main()
