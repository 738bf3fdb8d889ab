"""Model size and L2 on a small, noisily labelled digit set: the small model underfits, the
large unregularised one overfits (widest train - validation gap), and a growing L2 factor
shrinks the weight norm and the gap."""
import pytest
from backend_params import BACKENDS
from example_scripts import run_quick


@pytest.fixture(scope="module", params=BACKENDS)
def results(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("regularization")
    return run_quick("regularization", request.param, out), out


def test_small_model_underfits(results):
    numbers, _ = results
    correct_share = 1 - numbers["label_noise"]
    # It cannot even fit its training data: far below the share of correct labels and below
    # the bigger models, and no better on the validation set.
    assert numbers["small_train_accuracy"] < correct_share - 0.2
    assert numbers["small_train_accuracy"] < numbers["medium_train_accuracy"] - 0.2
    assert numbers["small_train_accuracy"] < numbers["large_train_accuracy"] - 0.2
    assert numbers["small_validation_accuracy"] < numbers["medium_validation_accuracy"] - 0.2


def test_large_unregularised_model_overfits(results):
    numbers, _ = results
    # It learnt wrong labels by heart ...
    assert numbers["large_train_accuracy"] > 1 - numbers["label_noise"] + 0.1
    # ... so its train - validation gap is the widest of the three sizes.
    for name in ("small", "medium", "large"):
        assert numbers[f"{name}_gap"] == pytest.approx(
            numbers[f"{name}_train_accuracy"] - numbers[f"{name}_validation_accuracy"])
    assert numbers["large_gap"] > numbers["medium_gap"] + 0.1
    assert numbers["large_gap"] > numbers["small_gap"] + 0.05
    assert numbers["medium_validation_accuracy"] > numbers["large_validation_accuracy"]


def test_l2_shrinks_the_weight_norm_monotonically(results):
    numbers, _ = results
    lambdas, norms = numbers["lambdas"], numbers["l2_weight_norm"]
    assert lambdas == sorted(lambdas) and lambdas[0] == 0.0 and len(lambdas) >= 3
    # The unregularised run is the large model of the size comparison.
    assert numbers["l2_gap"][0] == pytest.approx(numbers["large_gap"])
    for smaller, larger in zip(norms, norms[1:]):
        assert larger < 0.95 * smaller


def test_penalty_is_lambda_times_squared_norm(results):
    numbers, _ = results
    for lam, norm, penalty in zip(numbers["lambdas"], numbers["l2_weight_norm"], numbers["l2_penalty"]):
        assert penalty == pytest.approx(lam * norm ** 2, rel=1e-4, abs=1e-12)


def test_l2_narrows_the_gap(results):
    numbers, _ = results
    gaps = numbers["l2_gap"]
    for smaller, larger in zip(gaps, gaps[1:]):   # non-increasing, up to noise
        assert larger < smaller + 0.02
    assert gaps[-1] < gaps[0] - 0.1
    # The strongest penalty generalises better than none.
    assert numbers["l2_validation_accuracy"][-1] > numbers["l2_validation_accuracy"][0] + 0.02
    assert numbers["l2_train_accuracy"][-1] < numbers["l2_train_accuracy"][0]


def test_plots_written(results):
    _, out = results
    for name in ("model_size_curves.png", "l2_curves.png"):
        assert (out / name).stat().st_size > 0
