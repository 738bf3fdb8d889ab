"""resnet.py: 32 dense layers trained with plain SGD. Without skip connections the loss stays at
ln 10 (chance) because the gradient halves at every block of two ReLU layers (2^-15 through 15
blocks); the same network with skip connections (identical initial weights) trains to high
accuracy, and its gradient does not shrink."""

import math

import numpy as np
import pytest
from backend_params import BACKENDS
from example_scripts import run_quick

CHANCE_LOSS = math.log(10)      # cross-entropy of a uniform guess among ten classes
BLOCKS = 15                     # blocks of two square Glorot ReLU layers: 30 hidden layers


@pytest.fixture(scope="module", params=BACKENDS)
def results(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("resnet")
    return run_quick("resnet", request.param, out), out


def test_plain_network_does_not_move_from_chance(results):
    numbers, _ = results
    assert numbers["dense_layers"] == 2 * BLOCKS + 2
    assert numbers["plain_final_loss"] > 0.99 * CHANCE_LOSS
    assert numbers["plain_train_accuracy"] < 0.2


def test_residual_network_trains(results):
    numbers, _ = results
    assert numbers["residual_final_loss"] < 0.5
    assert numbers["residual_final_loss"] < numbers["plain_final_loss"] / 4
    assert numbers["residual_train_accuracy"] > 0.85
    assert numbers["residual_test_accuracy"] > 0.8
    assert numbers["residual_train_accuracy"] > numbers["plain_train_accuracy"] + 0.6
    # it learns steadily: the last epoch's loss is far below the first epoch's
    losses = numbers["residual_loss"]
    assert len(losses) == numbers["epochs"] and losses[-1] < losses[0] / 4


def test_plain_gradient_halves_per_block(results):
    numbers, _ = results
    norms = np.array(numbers["plain_activation_gradient_norms"])   # stem output, then each block's
    assert len(norms) == BLOCKS + 1
    # Glorot on a square layer: Var(W) = 1/n, the ReLU keeps half: the squared gradient norm
    # halves per layer, the norm halves per block of two layers
    predicted = 0.5 ** BLOCKS
    assert predicted / 4 < norms[0] / norms[-1] < predicted * 4
    assert np.all(norms[:-1] < norms[1:])                            # shrinks at every block


def test_residual_gradient_does_not_vanish(results):
    numbers, _ = results
    norms = np.array(numbers["residual_activation_gradient_norms"])
    assert norms[0] / norms[-1] > 1                                  # it even grows towards the input
    plain = np.array(numbers["plain_weight_gradient_norms"])
    residual = np.array(numbers["residual_weight_gradient_norms"])
    assert len(plain) == len(residual) == 2 * BLOCKS + 2
    assert np.all(plain < 1e-3) and np.all(residual > 1e-1)          # every layer, not only the first
    assert np.median(residual) / np.median(plain) > 1e4


def test_plots_written(results):
    _, out = results
    for name in ("loss_curves.png", "gradient_norms.png"):
        assert (out / name).stat().st_size > 0
