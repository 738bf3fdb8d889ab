"""Softmax and cross-entropy: one-hot and integer labels give the same loss, gradient and training.

A classifier with C classes ends in C raw scores, the logits z_1 .. z_C. The softmax
turns them into probabilities that are positive and sum to 1:

    p_k = exp(z_k) / sum_j exp(z_j)        (computed as exp(z_k - max z) / sum_j exp(z_j - max z),
                                            the same number without overflow)

The cross-entropy of the true class y is the negative log of its probability:

    CE = -log p_y = log sum_j exp(z_j) - z_y

A sure, right prediction (p_y -> 1) costs 0; a sure, wrong one (p_y -> 0) costs without
bound. Its gradient with respect to the logits is remarkably simple:

    dCE/dz_k = p_k - [k == y]              (the vector p - onehot(y))

Two ways to give the labels, one loss:

    categorical_crossentropy(z, t)         t: one-hot rows (or any distribution), CE = -sum_k t_k log p_k
    sparse_categorical_crossentropy(z, y)  y: integer class indices,              CE = -log p_y

With t = onehot(y) the sum has a single non-zero term, -log p_y, so the two losses, their
gradients and every training step that follows are the same. The sparse form only saves
memory: N labels take N integers instead of an N x C table of floats, a factor of
C x 4 / 8 for float32 one-hot rows against int64 labels (5 for 10 classes, 500 for 1000).

Binary cross-entropy is the two-class case. With one logit z for "class 1",

    BCE(z, t) = -[t log s(z) + (1 - t) log(1 - s(z))],  s(z) = 1 / (1 + exp(-z)),

and a softmax over the two logits (0, z) gives p_1 = exp(z) / (1 + exp(z)) = s(z): BCE on z
equals the categorical cross-entropy on (0, z), and dBCE/dz = s(z) - t = p_1 - t.

What the script does, each part checked against NumPy written out from the formulas:
  1. a small batch of logits: the softmax, both cross-entropies and their gradients;
  2. binary cross-entropy against the two-class softmax on (0, z);
  3. two identical linear classifiers (same seed), one trained on one-hot targets with
     categorical cross-entropy, one on integer labels with the sparse loss: the weights
     after training agree to float rounding;
  4. the memory of one-hot tables against integer labels, for 10 and 1000 classes;
and plots the softmax of one example and the curve CE = -log p_y (softmax_crossentropy.png).

    python examples/softmax_crossentropy.py [--backend numpy|cpu|gpu] [--quick] [--out DIR] [--seed N]
"""

import numpy as np

import lesson
import fastnn as fnn
import fastnn.functional as F
from fastnn.layers import Dense, Input

EXAMPLE_SAMPLES, EXAMPLE_CLASSES = 5, 4        # the small batch printed and checked by hand
TRAIN_FEATURES, TRAIN_CLASSES = 20, 10
ONEHOT_DTYPE, LABEL_DTYPE = np.float32, np.int64   # what a model's targets and a dataset's labels use
IMAGENET_IMAGES, IMAGENET_CLASSES = 1_281_167, 1000


# --- the formulas, written out in NumPy ------------------------------------------------------
def softmax_by_hand(z):
    """p_k = exp(z_k - max z) / sum_j exp(z_j - max z), row by row."""
    e = np.exp(z - z.max(axis=1, keepdims=True))   # subtracting the max changes nothing but avoids overflow
    return e / e.sum(axis=1, keepdims=True)


def onehot(labels, classes, dtype=ONEHOT_DTYPE):
    """Row i is all zeros but a 1 in column labels[i]."""
    return np.eye(classes, dtype=dtype)[labels]


# --- 1. softmax, both cross-entropies and their gradients ------------------------------------
def loss_and_logit_gradient(loss_fn, logits, targets):
    """The loss value and dloss/dlogits, computed by fastnn's autograd."""
    z = fnn.tensor(logits, dtype="float64", requires_grad=True)
    loss = loss_fn(z, targets)
    loss.backward()
    return loss.item(), z.grad.numpy()


def check_softmax_and_crossentropy(rng):
    z = np.round(rng.normal(scale=2.0, size=(EXAMPLE_SAMPLES, EXAMPLE_CLASSES)), 2)   # short numbers to read
    labels = rng.permutation(np.arange(EXAMPLE_SAMPLES) % EXAMPLE_CLASSES)          # every class at least once
    probs = F.softmax(fnn.tensor(z, dtype="float64")).numpy()

    sparse_loss, sparse_grad = loss_and_logit_gradient(F.sparse_categorical_crossentropy, z, labels)
    categorical_loss, categorical_grad = loss_and_logit_gradient(
        F.categorical_crossentropy, z, onehot(labels, EXAMPLE_CLASSES, np.float64))

    # the same numbers from the formulas: CE = mean_i -log p_{i, y_i}, gradient (p - onehot) / N
    # (the loss is a mean over the batch, so each row's gradient carries a factor 1/N)
    p = softmax_by_hand(z)
    loss_by_hand = float(np.mean(-np.log(p[np.arange(len(z)), labels])))
    grad_by_hand = (p - onehot(labels, EXAMPLE_CLASSES, np.float64)) / len(z)
    return {
        "example_logits": z.tolist(),
        "example_labels": labels.tolist(),
        "softmax_probabilities": probs.tolist(),
        "softmax_max_error": float(np.abs(probs - p).max()),
        "loss_sparse": sparse_loss,
        "loss_categorical": categorical_loss,
        "loss_by_hand": loss_by_hand,
        "grad_sparse": sparse_grad.tolist(),
        "grad_categorical": categorical_grad.tolist(),
        "grad_max_difference": float(np.abs(sparse_grad - categorical_grad).max()),
        "grad_max_error_vs_formula": float(np.abs(sparse_grad - grad_by_hand).max()),
    }


# --- 2. binary cross-entropy is the two-class softmax ----------------------------------------
def check_binary_is_two_class(rng, n=6):
    z = np.round(rng.normal(scale=3.0, size=n), 2)
    t = rng.permutation(np.arange(n) % 2)           # as many 0s as 1s

    bce_logit = fnn.tensor(z, dtype="float64", requires_grad=True)
    bce = F.binary_crossentropy(bce_logit, t.astype(np.float64))
    bce.backward()

    # the two-class logits (0, z_i) as a product, so the gradient flows back to z:
    # the column z (n, 1) times the row (0, 1) is the table [[0, z_1], [0, z_2], ...]
    ce_logit = fnn.tensor(z, dtype="float64", requires_grad=True)
    two_class_logits = ce_logit.reshape(n, 1) @ fnn.tensor([[0.0, 1.0]], dtype="float64")
    ce = F.sparse_categorical_crossentropy(two_class_logits, t)
    ce.backward()
    return {
        "binary_logits": z.tolist(),
        "binary_targets": t.tolist(),
        "bce": bce.item(),
        "two_class_ce": ce.item(),
        "bce_grad": bce_logit.grad.numpy().tolist(),
        "two_class_grad": ce_logit.grad.numpy().tolist(),
    }


# --- 3. training with one-hot targets or integer labels ---------------------------------------
def classification_data(rng, n):
    """Gaussian inputs labelled by the largest of C random linear scores (plus a little noise)."""
    x = rng.normal(size=(n, TRAIN_FEATURES)).astype(np.float32)
    scores = x @ rng.normal(size=(TRAIN_FEATURES, TRAIN_CLASSES)) + 0.5 * rng.normal(size=(n, TRAIN_CLASSES))
    return x, scores.argmax(axis=1).astype(LABEL_DTYPE)


def train_classifier(seed, loss, x, targets, epochs):
    """A linear softmax classifier (Dense(C) giving logits), trained by mini-batch SGD.

    Seeding right before building gives both models the same initial weights; shuffle=False
    gives them the same batches, so any difference could only come from the loss."""
    fnn.manual_seed(seed)
    model = fnn.Sequential([Input((TRAIN_FEATURES,)), Dense(TRAIN_CLASSES)])
    model.compile(optimizer=fnn.optim.SGD(lr=0.5), loss=loss, metrics=["accuracy"])
    initial = model.get_weights()
    history = model.fit(x, targets, epochs=epochs, batch_size=32, shuffle=False, verbose=0)
    return model, initial, history.history


def check_training(rng, seed, n, epochs):
    x, labels = classification_data(rng, n)
    sparse_model, initial, sparse_history = train_classifier(seed, "sparse_categorical_crossentropy",
                                                             x, labels, epochs)
    onehot_model, _, onehot_history = train_classifier(seed, "categorical_crossentropy",
                                                       x, onehot(labels, TRAIN_CLASSES), epochs)
    sparse_weights, onehot_weights = sparse_model.get_weights(), onehot_model.get_weights()
    return {
        "train_samples": n,
        "train_weight_change": float(max(np.abs(w - w0).max() for w, w0 in zip(sparse_weights, initial))),
        "train_weight_max_difference": float(max(np.abs(a - b).max()
                                                 for a, b in zip(sparse_weights, onehot_weights))),
        "train_loss_sparse": float(sparse_history["loss"][-1]),
        "train_loss_categorical": float(onehot_history["loss"][-1]),
        "train_accuracy_sparse": float(sparse_history["accuracy"][-1]),
        "train_accuracy_categorical": float(onehot_history["accuracy"][-1]),
    }


# --- 4. memory: one-hot tables against integer labels ----------------------------------------
def label_memory(rng, n, classes, name):
    labels = rng.integers(0, classes, size=n).astype(LABEL_DTYPE)
    table = onehot(labels, classes)
    return {
        f"memory_labels_{name}": n,
        f"memory_classes_{name}": classes,
        f"memory_onehot_bytes_{name}": int(table.nbytes),       # n * C * 4
        f"memory_integer_bytes_{name}": int(labels.nbytes),     # n * 8
        f"memory_ratio_{name}": table.nbytes / labels.nbytes,   # C * 4 / 8
    }


# --- the plot ----------------------------------------------------------------------------------
def plot(results, out):
    fig, axes = lesson.figure(1, 2, figsize=(11, 4.2))
    bars, curve = axes.flat

    probs = np.array(results["softmax_probabilities"][0])
    label = results["example_labels"][0]
    colours = ["tab:green" if k == label else "tab:gray" for k in range(len(probs))]
    bars.bar(range(len(probs)), probs, color=colours)
    for k, z in enumerate(results["example_logits"][0]):
        bars.annotate(f"z={z:.2f}", (k, probs[k]), ha="center", va="bottom", fontsize=8)
    bars.set_xticks(range(len(probs)))
    bars.set_xlabel("class k (green: the true class y)")
    bars.set_ylabel("softmax probability p_k")
    bars.set_title(f"softmax of one example: CE = -log p_y = {-np.log(probs[label]):.3f}")

    p_y = np.linspace(0.005, 1.0, 400)
    curve.plot(p_y, -np.log(p_y), label="CE = -log p_y")
    curve.plot(p_y, p_y - 1.0, label="dCE/dz_y = p_y - 1")
    curve.axhline(0.0, color="black", linewidth=0.5)
    curve.set_xlabel("probability of the true class p_y")
    curve.set_title("cross-entropy punishes confident mistakes")
    curve.legend()
    return lesson.save_figure(fig, out, "softmax_crossentropy.png")


def run(backend="cpu", quick=False, out=".", seed=0) -> dict:
    """Check the softmax/cross-entropy identities, train with both label forms, count bytes."""
    rng = np.random.default_rng(seed)
    results = {}
    results.update(check_softmax_and_crossentropy(rng))
    results.update(check_binary_is_two_class(rng))
    results.update(check_training(rng, seed, n=256 if quick else 4096, epochs=3 if quick else 10))
    results.update(label_memory(rng, 6_000 if quick else 60_000, 10, "10"))   # MNIST-sized (60,000 in full)
    results.update(label_memory(rng, 1_000 if quick else 10_000, 1000, "1000"))
    # ImageNet's training set, by the same arithmetic (not allocated: it would take 5 GB)
    results["memory_onehot_gigabytes_imagenet"] = IMAGENET_IMAGES * IMAGENET_CLASSES * 4 / 1e9
    results["memory_integer_megabytes_imagenet"] = IMAGENET_IMAGES * 8 / 1e6
    plot(results, out)

    print(f"CE sparse {results['loss_sparse']:.6f} = categorical {results['loss_categorical']:.6f} "
          f"= -mean log p_y {results['loss_by_hand']:.6f}")
    print(f"BCE {results['bce']:.6f} = two-class softmax CE {results['two_class_ce']:.6f}")
    print(f"after training: weights differ by at most {results['train_weight_max_difference']:.2e} "
          f"(they moved by up to {results['train_weight_change']:.3f})")
    print(f"one-hot labels take {results['memory_ratio_10']:.0f}x the memory of integer labels for 10 classes, "
          f"{results['memory_ratio_1000']:.0f}x for 1000 (ImageNet: "
          f"{results['memory_onehot_gigabytes_imagenet']:.1f} GB against "
          f"{results['memory_integer_megabytes_imagenet']:.1f} MB)")
    return results


def main(argv=None) -> dict:
    return lesson.execute(run, lesson.parse_args(__file__, __doc__, argv))


if __name__ == "__main__":
    main()
