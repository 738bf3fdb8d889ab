"""Ensembles: averaging the predicted probabilities of several independently trained networks beats a typical member.

Two networks trained on the same data but from different random starts (initial weights,
order of the batches) end in different minima. They agree on the easy examples and make
different mistakes on the hard ones. An ensemble averages their predicted class
probabilities,

    p_ensemble(class | x) = (1 / N) * sum_i p_i(class | x)

and predicts the class with the highest average. Where one member is confidently wrong
and the others are right, the average is right: errors that are not shared cancel out.
If the members' errors were independent, a majority of N members would be wrong far
less often than one member; real members are correlated, so the gain is smaller, but it
is there, and it is the classic way to win a few points of accuracy for N times the
compute.

A guarantee comes from the convexity of -log (Jensen's inequality): the ensemble's
cross-entropy on any example is at most the members' average cross-entropy,

    -log((1/N) * sum_i p_i(y | x)) <= (1/N) * sum_i -log p_i(y | x),

so averaging probabilities can never be worse than the average member in log loss. For
accuracy there is no such guarantee, but averaging usually beats the mean member and
often the best one.

What the script does: it trains N small MLPs (64 -> 16 ReLU -> 10), each from its own seed
(fnn.manual_seed(seed + i)), on the same 200 training digits for only 15 epochs (30 without --quick):
on purpose weak learners, each making many mistakes, so that the effect is easy to see.
Then it compares on the held-out digits:

- each member's accuracy and log loss, their mean and the best one;
- the ensemble's accuracy and log loss (averaged probabilities);
- how often two members disagree (they must differ for averaging to help);
- the ensemble's accuracy as members are added, 1, 2, ..., N (ensemble_accuracy.png).

What you should see: the members differ (different weights, different predictions on
many test digits); the ensemble is clearly more accurate than the average member, usually
as good as the best one or better, and its log loss is lower than the members' mean.

Run it:

    python examples/ensemble.py [--backend numpy|cpu|gpu] [--quick] [--out DIR] [--seed N]
"""

import itertools

import numpy as np

import lesson
import fastnn as fnn
import fastnn.functional as F
from fastnn.layers import Dense, Input

HIDDEN = 16            # small members: weak learners
LEARNING_RATE = 3e-3
DIGITS = 1797          # size of the whole digits data set
QUICK = {"members": 5, "train_size": 200, "epochs": 15}
FULL = {"members": 10, "train_size": 200, "epochs": 30}


def build_member():
    model = fnn.Sequential([Input((64,)), Dense(HIDDEN, activation="relu"), Dense(10)])  # logits
    model.compile(optimizer=fnn.optim.Adam(lr=LEARNING_RATE), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def train_members(count, x_train, y_train, epochs, seed):
    """``count`` members, member i seeded with seed + i: its own initial weights and batch order."""
    members = []
    for i in range(count):
        fnn.manual_seed(seed + i)
        model = build_member()
        model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0)
        members.append(model)
    return members


def log_probabilities(model, x):
    """log p(class | x) of one member, from its logits (log-softmax: no probability ever rounds to log 0)."""
    return F.log_softmax(fnn.tensor(model.predict(x, batch_size=len(x)))).numpy().astype(np.float64)


def ensemble_log_probabilities(member_log_probs):
    """log of the averaged probabilities, log((1/N) sum_i p_i), computed in log space (log-sum-exp)."""
    return np.logaddexp.reduce(member_log_probs, axis=0) - np.log(len(member_log_probs))


def accuracy(log_probs, y):
    return float(np.mean(log_probs.argmax(axis=1) == y))


def log_loss(log_probs, y):
    """Mean cross-entropy -log p(y | x) over the examples."""
    return float(-np.mean(log_probs[np.arange(len(y)), y]))


def weights_all_differ(members):
    """Does every pair of members have different weights? (Different seeds must give different nets.)"""
    weights = [np.concatenate([w.ravel() for w in member.get_weights()]) for member in members]
    return all(not np.array_equal(a, b) for a, b in itertools.combinations(weights, 2))


def mean_pairwise_disagreement(member_log_probs):
    """The share of test examples on which two members predict different classes, averaged over the pairs."""
    predictions = member_log_probs.argmax(axis=2)
    return float(np.mean([np.mean(a != b) for a, b in itertools.combinations(predictions, 2)]))


def plot(individual, ensemble_by_size, out):
    fig, axes = lesson.figure(1, 2, figsize=(11, 4))
    members_ax, size_ax = axes[0]
    positions = np.arange(1, len(individual) + 1)
    members_ax.bar(positions - 1, individual, color="tab:gray", label="single member")
    members_ax.axhline(np.mean(individual), color="black", linestyle="--", label="mean member")
    members_ax.axhline(ensemble_by_size[-1], color="tab:green", linewidth=2, label=f"ensemble of {len(individual)}")
    members_ax.set_xticks(positions - 1)
    members_ax.set_xlabel("member i (seeded with seed + i)")
    members_ax.set_ylabel("test accuracy")
    members_ax.set_ylim(min(individual) - 0.1, min(1.0, max(max(individual), ensemble_by_size[-1]) + 0.05))
    members_ax.legend(fontsize=8, loc="lower right")
    members_ax.set_title("each member vs the average of their probabilities")
    size_ax.plot(positions, ensemble_by_size, "o-", color="tab:green", label="ensemble of the first N")
    size_ax.plot(positions, np.cumsum(individual) / positions, "s--", color="black", label="mean of the first N")
    size_ax.set_xticks(positions)
    size_ax.set_xlabel("members N")
    size_ax.set_ylabel("test accuracy")
    size_ax.legend(fontsize=8, loc="lower right")
    size_ax.set_title("adding members")
    lesson.save_figure(fig, out, "ensemble_accuracy.png")


def run(backend="cpu", quick=False, out=".", seed=0) -> dict:
    settings = QUICK if quick else FULL
    (x_train, y_train), (x_test, y_test) = fnn.datasets.load_digits(test_size=DIGITS - settings["train_size"],
                                                                   seed=seed)
    members = train_members(settings["members"], x_train, y_train, settings["epochs"], seed)
    member_log_probs = np.stack([log_probabilities(member, x_test) for member in members])

    individual = [accuracy(lp, y_test) for lp in member_log_probs]
    ensemble_log_probs = ensemble_log_probabilities(member_log_probs)
    ensemble_accuracy = accuracy(ensemble_log_probs, y_test)
    # The ensemble of the first k members, k = 1..N: how the gain grows with N.
    by_size = [accuracy(ensemble_log_probabilities(member_log_probs[:k]), y_test)
               for k in range(1, len(members) + 1)]
    results = {
        "members": len(members),
        "train_size": len(y_train),
        "test_size": len(y_test),
        "individual_accuracies": individual,
        "mean_individual_accuracy": float(np.mean(individual)),
        "best_individual_accuracy": max(individual),
        "ensemble_accuracy": ensemble_accuracy,
        "ensemble_beats_best": ensemble_accuracy > max(individual),
        "ensemble_accuracy_by_size": by_size,
        "individual_log_losses": [log_loss(lp, y_test) for lp in member_log_probs],
        "ensemble_log_loss": log_loss(ensemble_log_probs, y_test),
        "weights_differ": weights_all_differ(members),
        "mean_pairwise_disagreement": mean_pairwise_disagreement(member_log_probs),
    }
    print("members:  " + "  ".join(f"{a:.3f}" for a in individual))
    print(f"mean {results['mean_individual_accuracy']:.3f}  best {results['best_individual_accuracy']:.3f}  "
          f"ensemble {ensemble_accuracy:.3f}")
    plot(individual, by_size, out)
    return results


def main(argv=None) -> dict:
    return lesson.execute(run, lesson.parse_args(__file__, __doc__, argv))


if __name__ == "__main__":
    main()
