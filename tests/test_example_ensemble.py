"""Averaging the predicted probabilities of N independently seeded MLPs beats their mean
accuracy; the members really differ; and, by Jensen's inequality, the ensemble's log loss is
at most the members' mean."""
import numpy as np
import pytest
from backend_params import BACKENDS
from example_scripts import run_quick


@pytest.fixture(scope="module", params=BACKENDS)
def results(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("ensemble")
    return run_quick("ensemble", request.param, out), out


def test_members_really_differ(results):
    numbers, _ = results
    assert numbers["members"] >= 5
    assert numbers["weights_differ"]
    # Different predictions on a good share of the test digits, not just different weights.
    assert numbers["mean_pairwise_disagreement"] > 0.05
    assert len(set(numbers["individual_accuracies"])) > 1


def test_ensemble_beats_the_mean_member(results):
    numbers, _ = results
    individual = numbers["individual_accuracies"]
    assert len(individual) == numbers["members"]
    assert numbers["mean_individual_accuracy"] == pytest.approx(np.mean(individual))
    assert numbers["best_individual_accuracy"] == max(individual)
    assert numbers["ensemble_accuracy"] > np.mean(individual) + 0.03
    assert numbers["ensemble_accuracy"] > np.median(individual)


def test_ensemble_by_size_starts_at_one_member_and_ends_at_all(results):
    numbers, _ = results
    by_size = numbers["ensemble_accuracy_by_size"]
    assert len(by_size) == numbers["members"]
    assert by_size[0] == pytest.approx(numbers["individual_accuracies"][0])   # one member is itself
    assert by_size[-1] == pytest.approx(numbers["ensemble_accuracy"])


def test_ensemble_log_loss_is_at_most_the_mean_member_log_loss(results):
    numbers, _ = results
    # -log of a mean <= mean of -log (convexity): holds on every example, so on their mean.
    assert numbers["ensemble_log_loss"] <= np.mean(numbers["individual_log_losses"]) + 1e-9
    assert numbers["ensemble_log_loss"] < np.mean(numbers["individual_log_losses"]) - 0.01


def test_plots_written(results):
    _, out = results
    assert (out / "ensemble_accuracy.png").stat().st_size > 0
