"""batch_norm.py: with BatchNormalization the same deep net reaches a training loss in fewer epochs,
every layer's pre-activations keep mean ~0 and std ~1, the running statistics approximate the data's,
and in eval mode a sample's output does not depend on the rest of its batch (in training mode it does)."""

import numpy as np
import pytest
from backend_params import BACKENDS
from example_scripts import run_quick


@pytest.fixture(scope="module", params=BACKENDS)
def results(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("batch_norm")
    return run_quick("batch_norm", request.param, out), out


def first_epoch_at_or_below(losses, target):
    """1-based epoch of the first loss <= target; one past the last epoch if never."""
    hits = [epoch for epoch, loss in enumerate(losses, 1) if loss <= target]
    return hits[0] if hits else len(losses) + 1


def test_bn_reaches_the_target_loss_in_fewer_epochs(results):
    numbers, _ = results
    target = numbers["target_loss"]
    bn = first_epoch_at_or_below(numbers["bn_losses"], target)
    plain = first_epoch_at_or_below(numbers["plain_losses"], target)
    assert bn <= numbers["epochs"]            # BN gets there ...
    assert 2 * bn <= plain                    # ... in at most half the epochs the plain net needs
    assert numbers["bn_epochs_to_target"] == bn
    assert numbers["bn_losses"][-1] < numbers["plain_losses"][-1]


def test_bn_keeps_every_layer_standardised(results):
    numbers, _ = results
    # at initialisation, in training mode, BN's output is (z - mu_B) / sqrt(var_B + eps): mean 0, std ~1
    assert np.allclose(numbers["bn_init_preactivation_mean"], 0.0, atol=1e-3)
    assert np.allclose(numbers["bn_init_preactivation_std"], 1.0, atol=0.05)
    # after training, in eval mode on the running statistics, still about mean 0, std 1 in every layer
    assert np.all(np.abs(numbers["bn_preactivation_mean"]) < 0.2)
    trained_std = np.array(numbers["bn_preactivation_std"])
    assert np.all((trained_std > 0.8) & (trained_std < 1.25))


def test_without_bn_the_scale_drifts_with_depth(results):
    numbers, _ = results
    init_std = numbers["plain_init_preactivation_std"]
    assert len(init_std) == numbers["hidden_layers"] >= 8
    # Glorot init with ReLU: the std falls by about sqrt(1/2) per layer
    assert init_std[-1] / init_std[0] < 0.3

    def spread(stds):
        return max(stds) / min(stds)

    assert spread(numbers["plain_init_preactivation_std"]) > 3 * spread(numbers["bn_init_preactivation_std"])
    assert spread(numbers["plain_preactivation_std"]) > spread(numbers["bn_preactivation_std"])


def test_running_statistics_approximate_the_data_statistics(results):
    numbers, _ = results
    running_mean, data_mean = np.array(numbers["running_mean"]), np.array(numbers["data_mean"])
    running_var, data_var = np.array(numbers["running_var"]), np.array(numbers["data_var"])
    # the data is far from the initial running values (mean 0, var 1), so a match means they were learned
    assert np.abs(data_mean).max() > 0.3 and np.abs(data_var - 1.0).min() > 0.5
    assert np.allclose(running_mean, data_mean, atol=0.1)
    assert np.all((running_var / data_var > 0.75) & (running_var / data_var < 1.33))
    assert np.corrcoef(running_mean, data_mean)[0, 1] > 0.95


def test_eval_mode_outputs_do_not_depend_on_the_batch(results):
    numbers, _ = results
    assert numbers["eval_batch_dependence"] < 1e-4
    assert numbers["train_batch_dependence"] > 0.05


def test_plots_written(results):
    _, out = results
    assert (out / "batch_norm.png").stat().st_size > 0
