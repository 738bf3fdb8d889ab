"""Optimizers lesson: on the same ill-conditioned regression valley, momentum and Adam reach the
target loss in far fewer parameter updates than plain SGD; every optimizer gets there within the
budget; and each update rule (SGD, momentum, Nesterov, RMSProp, Adam) equals its textbook formula,
written out here in NumPy, over three steps."""

import math

import numpy as np
import pytest
from backend_params import BACKENDS
from example_scripts import run_quick

NAMES = ["gd", "sgd", "minibatch", "momentum", "nesterov", "rmsprop", "adam"]


@pytest.fixture(scope="module", params=BACKENDS)
def results(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("optimizers")
    return run_quick("optimizers", request.param, out), out


@pytest.mark.parametrize("fast", ["momentum", "adam", "nesterov"])
@pytest.mark.parametrize("plain", ["sgd", "minibatch", "gd"])
def test_momentum_and_adam_need_far_fewer_steps_than_plain_sgd(results, fast, plain):
    numbers, _ = results
    assert numbers[f"steps_to_target_{fast}"] < 0.5 * numbers[f"steps_to_target_{plain}"]


def test_every_optimizer_reaches_the_target_within_the_budget(results):
    numbers, _ = results
    assert numbers["optimum_loss"] < numbers["target_loss"] < numbers["start_loss"]
    for name in NAMES:
        steps = numbers[f"steps_to_target_{name}"]
        assert steps != math.inf, f"{name} did not reach the target"
        assert 1 <= steps <= numbers["step_budget"]
        assert numbers[f"final_loss_{name}"] >= numbers["optimum_loss"] * (1 - 1e-6)   # least squares is the floor


def test_per_sample_seen_batch_one_sgd_is_far_ahead_of_full_batch_gd(results):
    numbers, _ = results
    assert numbers["samples_to_target_sgd"] == numbers["steps_to_target_sgd"]
    assert numbers["samples_to_target_sgd"] * 10 < numbers["samples_to_target_gd"]


# --- the update rules, written out independently -------------------------------------------------
def sgd(p, grads, lr):
    out = []
    for g in grads:
        p = p - lr * g
        out.append(p)
    return out


def heavy_ball(p, grads, lr, mu):
    """Polyak's momentum in the velocity form v <- mu v - lr g, p <- p + v (v starts at 0)."""
    v, out = np.zeros_like(p), []
    for g in grads:
        v = mu * v - lr * g
        p = p + v
        out.append(p)
    return out


def nesterov(p, grads, lr, mu):
    """PyTorch's Nesterov: b <- mu b + g, p <- p - lr (g + mu b)."""
    b, out = np.zeros_like(p), []
    for g in grads:
        b = mu * b + g
        p = p - lr * (g + mu * b)
        out.append(p)
    return out


def rmsprop(p, grads, lr, alpha, eps):
    s, out = np.zeros_like(p), []
    for g in grads:
        s = alpha * s + (1 - alpha) * g * g
        p = p - lr * g / (np.sqrt(s) + eps)
        out.append(p)
    return out


def adam(p, grads, lr, beta1, beta2, eps):
    m, v, out = np.zeros_like(p), np.zeros_like(p), []
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        p = p - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)
        out.append(p)
    return out


def test_update_rules_match_the_textbook_formulas(results):
    numbers, _ = results
    p0, grads = np.array(numbers["update_rule_p0"]), np.array(numbers["update_rule_grads"])
    assert grads.shape == (3, 3) and not np.allclose(grads[0], grads[1])
    lr, mu, eps = numbers["lr_sgd"], numbers["momentum"], numbers["eps"]
    beta1, beta2 = numbers["adam_betas"]
    expected = {
        "sgd": sgd(p0, grads, lr),
        "momentum": heavy_ball(p0, grads, lr, mu),
        "nesterov": nesterov(p0, grads, lr, mu),
        "rmsprop": rmsprop(p0, grads, numbers["lr_rmsprop"], numbers["rmsprop_alpha"], eps),
        "adam": adam(p0, grads, numbers["lr_adam"], beta1, beta2, eps),
    }
    for name, want in expected.items():
        np.testing.assert_allclose(numbers[f"update_rule_after_{name}"], want, rtol=1e-12, atol=1e-12,
                                   err_msg=name)


def test_first_steps_have_the_textbook_sizes(results):
    """Two facts a learner can check by eye: momentum's first step is plain SGD's (the buffer
    starts at g), and Adam's first step moves every weight by lr (bias correction makes
    m_hat / sqrt(v_hat) = g / |g|)."""
    numbers, _ = results
    p0, g1 = np.array(numbers["update_rule_p0"]), np.array(numbers["update_rule_grads"][0])
    np.testing.assert_allclose(numbers["update_rule_after_momentum"][0], numbers["update_rule_after_sgd"][0],
                               rtol=1e-14)
    np.testing.assert_allclose(np.array(numbers["update_rule_after_adam"][0]) - p0,
                               -numbers["lr_adam"] * np.sign(g1), rtol=1e-6)


def test_plots_written(results):
    _, out = results
    assert (out / "optimizers.png").stat().st_size > 0
