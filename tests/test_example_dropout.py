"""Dropout narrows the train/test accuracy gap of a large MLP on a small, noisily labelled
digit set; while training it drops about `rate` of the units and scales the rest by
1 / (1 - rate) (same expected value), and at inference it uses every unit, deterministically."""
import math

import pytest
from backend_params import BACKENDS
from example_scripts import run_quick


@pytest.fixture(scope="module", params=BACKENDS)
def results(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("dropout")
    return run_quick("dropout", request.param, out), out


def test_the_net_without_dropout_overfits(results):
    numbers, _ = results
    # It learns wrong labels by heart: training accuracy well above the share of correct labels.
    assert numbers["train_accuracy_without"] > 1 - numbers["label_noise"] + 0.1
    assert numbers["gap_without"] > 0.05


def test_dropout_narrows_the_generalisation_gap(results):
    numbers, _ = results
    for name in ("without", "with"):
        assert numbers[f"gap_{name}"] == pytest.approx(
            numbers[f"train_accuracy_{name}"] - numbers[f"test_accuracy_{name}"])
    assert numbers["gap_with"] < numbers["gap_without"] - 0.1
    # ... by generalising better, not merely by fitting the training set worse.
    assert numbers["test_accuracy_with"] > numbers["test_accuracy_without"] + 0.02


def test_inverted_dropout_keeps_the_expected_value(results):
    numbers, _ = results
    rate, n = numbers["dropout_rate"], numbers["mask_elements"]
    assert rate == 0.5
    # Survivors are scaled by 1 / (1 - rate) = 2 ...
    assert numbers["mask_kept_min"] == pytest.approx(1 / (1 - rate))
    assert numbers["mask_kept_max"] == pytest.approx(1 / (1 - rate))
    # ... about `rate` of the units are dropped (binomial: 5 standard deviations) ...
    assert abs(numbers["mask_dropped_fraction"] - rate) < 5 * math.sqrt(rate * (1 - rate) / n)
    # ... so the mean of ones stays 1: each element is 0 or 1/(1-rate), its variance rate/(1-rate).
    assert abs(numbers["mask_mean"] - 1.0) < 5 * math.sqrt(rate / (1 - rate) / n)
    assert numbers["mask_two_calls_differ"]
    assert numbers["mask_inference_is_identity"]


def test_inference_is_deterministic_and_uses_every_unit(results):
    numbers, _ = results
    assert numbers["eval_predictions_identical"]
    assert numbers["inference_matches_net_without_dropout"]


def test_training_mode_is_random(results):
    numbers, _ = results
    assert numbers["train_passes_differ"]
    assert numbers["train_passes_max_difference"] > 1e-3


def test_plots_written(results):
    _, out = results
    assert (out / "dropout_curves.png").stat().st_size > 0
