"""A GAN learns a ring of Gaussians (the modes covered, the samples on the modes) and a
conditional GAN draws the digit it is asked for (classifiers that only ever saw real
digits read its samples as the requested digit far above chance).

The mode centres are rebuilt here from the ring's formula and the generated samples are
scored here, from the samples the script writes to gan_samples.npz; the digit samples are
also judged by a nearest-class-mean classifier built here from scikit-learn's own copy of
the digits, independent of the script's classifier.
"""

import math

import numpy as np
import pytest
from backend_params import BACKENDS
from example_scripts import run_quick

NEAR_STDS = 3.0


@pytest.fixture(scope="module", params=BACKENDS)
def results(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("gan")
    return run_quick("gan", request.param, out), out


def saved(out):
    with np.load(out / "gan_samples.npz") as data:
        return {name: data[name] for name in data.files}


def ring(modes, radius):
    angles = 2.0 * np.pi * np.arange(modes) / modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def distances_to_modes(numbers, out):
    centres = ring(numbers["mixture_modes"], numbers["mixture_radius"])
    points = saved(out)["mixture_samples"].astype(np.float64)
    return np.linalg.norm(points[:, None, :] - centres[None, :, :], axis=2)


def test_mixture_modes_are_the_ring(results):
    numbers, out = results
    centres = saved(out)["mixture_centres"]
    np.testing.assert_allclose(centres, ring(numbers["mixture_modes"], numbers["mixture_radius"]), atol=1e-6)


def test_generated_points_cover_the_modes(results):
    numbers, out = results
    modes = numbers["mixture_modes"]
    nearest = distances_to_modes(numbers, out).argmin(axis=1)
    shares = np.bincount(nearest, minlength=modes) / len(nearest)
    covered = int(np.sum(shares >= 0.5 / modes))    # at least half the fair share 1/modes
    assert covered >= math.ceil(0.75 * modes), f"mode collapse: shares per mode {shares}"
    assert numbers["mixture_modes_covered"] == covered
    np.testing.assert_allclose(numbers["mixture_mode_shares"], shares)


def test_most_generated_points_lie_near_a_mode(results):
    numbers, out = results
    near = float(np.mean(distances_to_modes(numbers, out).min(axis=1) <= NEAR_STDS * numbers["mixture_std"]))
    assert near >= 0.5
    assert numbers["mixture_near_fraction"] == pytest.approx(near)
    # real data: 1 - exp(-9/2) = 98.9% within 3 std (2-D Gaussian); the untrained generator: ~none
    assert numbers["mixture_real_near_fraction"] == pytest.approx(1 - math.exp(-NEAR_STDS ** 2 / 2), abs=0.02)
    assert numbers["mixture_untrained_near_fraction"] < 0.1


def test_discriminator_is_not_winning(results):
    # near the equilibrium L_D = 2 ln 2 = 1.386 and L_G = ln 2 = 0.693; a discriminator that
    # had won would drive L_D towards 0 and L_G up without bound
    numbers, _ = results
    assert numbers["mixture_d_loss"] > 1.0
    assert numbers["mixture_g_loss"] < 1.2


def test_each_step_updates_one_network(results):
    numbers, _ = results
    assert numbers["mixture_g_grads_in_d_step"] == 0
    assert numbers["mixture_d_grads_in_g_step"] == 0
    assert numbers["cgan_g_grads_in_d_step"] == 0
    assert numbers["cgan_d_grads_in_g_step"] == 0


def test_judge_classifier_reads_real_digits(results):
    numbers, _ = results
    assert numbers["classifier_test_accuracy"] >= 0.9


def test_cgan_draws_the_requested_digit(results):
    numbers, _ = results
    assert numbers["cgan_accuracy"] >= 0.5                 # chance is 0.1
    assert numbers["cgan_untrained_accuracy"] < 0.3        # the untrained generator is near chance
    assert len(numbers["cgan_per_digit_accuracy"]) == 10
    assert sum(a >= 0.5 for a in numbers["cgan_per_digit_accuracy"]) >= 7


def test_cgan_digits_pass_an_independent_judge(results):
    from sklearn.datasets import load_digits

    _, out = results
    data = saved(out)
    images, labels = data["digit_images"], data["digit_labels"]
    assert images.shape == (len(labels), 64)
    assert images.min() >= 0.0 and images.max() <= 1.0     # pixels like the data's
    assert np.array_equal(np.bincount(labels, minlength=10), np.full(10, len(labels) // 10))
    digits = load_digits()
    means = np.stack([digits.data[digits.target == k].mean(axis=0) / 16.0 for k in range(10)])
    read = np.linalg.norm(images[:, None, :] - means[None, :, :], axis=2).argmin(axis=1)
    assert np.mean(read == labels) >= 0.5


def test_plots_written(results):
    _, out = results
    for name in ("gan_mixture.png", "gan_digits.png"):
        assert (out / name).stat().st_size > 0
