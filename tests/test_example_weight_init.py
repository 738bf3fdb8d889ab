"""weight_init.py: zeros keep every unit of a layer identical and learn nothing; N(0, 1) makes ReLU
activations explode (and tanh saturate); Xavier fades by sqrt(1/2) per ReLU layer; He keeps the scale
and trains the deep ReLU network best."""

import math

import pytest
from backend_params import BACKENDS
from example_scripts import run_quick

INITS = ("zeros", "normal", "xavier", "he")


@pytest.fixture(scope="module", params=BACKENDS)
def results(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("weight_init")
    return run_quick("weight_init", request.param, out), out


def test_zero_init_never_breaks_the_symmetry(results):
    numbers, _ = results
    # every hidden unit has the same incoming weights and the same outputs, even after training ...
    assert numbers["zeros_unit_spread_after_training"] == 0.0
    # ... and for zeros that common value is 0: the hidden layers got no gradient at all
    assert numbers["zeros_hidden_kernels_all_zero"] is True
    assert all(r == 0.0 for r in numbers["zeros_rms_per_layer"])


def test_zero_init_stays_at_chance(results):
    numbers, _ = results
    assert numbers["zeros_accuracy"] < 0.2  # 10 classes: chance is about 0.1
    # only the output bias learns (the class frequencies): the loss stays near ln 10
    assert numbers["zeros_losses"][-1] > 0.95 * math.log(10)


@pytest.mark.parametrize("name, weight_variance", [
    ("normal", lambda n: 1.0),                  # N(0, 1)
    ("xavier", lambda n: 2.0 / (n + n)),        # Glorot: 2 / (fan_in + fan_out), square hidden layers
    ("he", lambda n: 2.0 / n),                  # He: 2 / fan_in
])
def test_relu_activation_scale_changes_by_sqrt_of_n_variance_over_2_per_layer(results, name, weight_variance):
    numbers, _ = results
    n = numbers["width"]
    # E[a_l^2] = (n s^2 / 2) E[a_(l-1)^2] per ReLU layer: the rms is multiplied by sqrt(n s^2 / 2)
    expected = math.sqrt(n * weight_variance(n) / 2)
    rms = numbers[f"{name}_rms_per_layer"]
    assert len(rms) == numbers["hidden_layers"] >= 8
    measured = (rms[-1] / rms[0]) ** (1 / (len(rms) - 1))
    assert measured == pytest.approx(expected, rel=0.25)
    assert numbers[f"{name}_rms_growth_per_layer"] == pytest.approx(measured)


def test_normal_explodes_and_he_keeps_the_scale(results):
    numbers, _ = results
    normal, he = numbers["normal_rms_per_layer"], numbers["he_rms_per_layer"]
    assert all(later > 2 * earlier for earlier, later in zip(normal, normal[1:]))  # grows layer over layer
    assert normal[-1] / normal[0] > 1e3
    assert all(0.5 < r / he[0] < 2.0 for r in he)                                   # stays about constant


def test_normal_init_saturates_tanh_and_xavier_does_not(results):
    numbers, _ = results
    assert numbers["normal_tanh_saturated_fraction"] > 0.5
    assert numbers["xavier_tanh_saturated_fraction"] < 0.05
    assert numbers["he_tanh_saturated_fraction"] < 0.05


def test_he_trains_the_deep_relu_network_best(results):
    numbers, _ = results

    def final_loss(name):
        loss = numbers[f"{name}_losses"][-1]
        return loss if math.isfinite(loss) else math.inf  # nan: diverged

    others = [name for name in INITS if name != "he"]
    assert numbers["he_accuracy"] > 0.7
    assert numbers["he_accuracy"] > max(numbers[f"{name}_accuracy"] for name in others) + 0.2
    assert final_loss("he") < min(final_loss(name) for name in others)
    assert numbers["normal_accuracy"] < 0.3  # diverged


def test_plots_written(results):
    _, out = results
    for name in ("activation_histograms.png", "rms_and_losses.png"):
        assert (out / name).stat().st_size > 0
