"""Gradient clipping (optimizer keywords and the functional helpers) against results
computed here with numpy from the formulas, on every available backend."""

import math

import numpy as np
import pytest

import fastnn as fnn
from fastnn import optim
from backend_params import BACKENDS, require



# one gradient with L2 norm 5 (above the thresholds below), one with norm 0.5, one with norm 13
GRADS = [np.array([3.0, 4.0]), np.array([[0.3, 0.4]]), np.array([5.0, 0.0, -12.0])]
START = [np.array([1.0, -1.0]), np.array([[0.5, 0.25]]), np.array([2.0, 0.0, 1.0])]


def _params(backend, dtype="float64"):
    params = [fnn.tensor(s.astype(dtype), requires_grad=True, backend=backend) for s in START]
    for p, g in zip(params, GRADS):
        p.grad = fnn.tensor(g.astype(dtype), backend=backend)
    return params


def _sgd_step(backend, dtype="float64", **clip):
    """One plain SGD step with lr = 1: each parameter moves by minus its clipped gradient."""
    params = _params(backend, dtype)
    optim.SGD(params, lr=1.0, **clip).step()
    return [s.astype(dtype) - p.numpy() for s, p in zip(START, params)], params


@pytest.mark.parametrize("backend", BACKENDS)
def test_clipnorm_scales_each_gradient_on_its_own(backend):
    require(backend)
    applied, _ = _sgd_step(backend, clipnorm=1.0)
    # norms 5, 0.5 and 13: the first and last are scaled to norm 1, the second is below and stays
    expected = [np.array([0.6, 0.8]), np.array([[0.3, 0.4]]), np.array([5.0, 0.0, -12.0]) / 13.0]
    for got, want in zip(applied, expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
        assert np.linalg.norm(got) <= 1.0 + 1e-12


@pytest.mark.parametrize("backend", BACKENDS)
def test_global_clipnorm_scales_all_gradients_together(backend):
    require(backend)
    applied, _ = _sgd_step(backend, global_clipnorm=2.0)
    total = math.sqrt(3**2 + 4**2 + 0.3**2 + 0.4**2 + 5**2 + 12**2)
    for got, g in zip(applied, GRADS):
        np.testing.assert_allclose(got, g * (2.0 / total), rtol=1e-12)
    assert math.sqrt(sum(float(np.sum(a**2)) for a in applied)) == pytest.approx(2.0, rel=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_global_clipnorm_leaves_small_gradients_alone(backend):
    require(backend)
    applied, _ = _sgd_step(backend, global_clipnorm=100.0)
    for got, g in zip(applied, GRADS):
        np.testing.assert_allclose(got, g, rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_clipvalue_clips_element_wise(backend):
    require(backend)
    applied, _ = _sgd_step(backend, clipvalue=0.35)
    expected = [np.array([0.35, 0.35]), np.array([[0.3, 0.35]]), np.array([0.35, 0.0, -0.35])]
    for got, want in zip(applied, expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
def test_clipping_leaves_p_grad_as_computed_and_keeps_float32(backend):
    require(backend)
    applied, params = _sgd_step(backend, dtype="float32", clipnorm=1.0)
    for p, g in zip(params, GRADS):
        assert p.dtype == np.float32
        np.testing.assert_array_equal(p.grad.numpy(), g.astype("float32"))
    np.testing.assert_allclose(applied[0], [0.6, 0.8], rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("clip", [{"clipnorm": 0.7}, {"global_clipnorm": 1.5}, {"clipvalue": 0.2}])
def test_adam_with_clipping_equals_adam_fed_the_clipped_gradients(backend, clip):
    """Clipping happens before the update: Adam's moments see the clipped gradient."""
    require(backend)
    rng = np.random.default_rng(1)
    steps = [[rng.standard_normal(s.shape) * 3 for s in START] for _ in range(5)]

    def clipped(grads):
        if "clipnorm" in clip:
            c = clip["clipnorm"]
            return [g * c / max(np.linalg.norm(g), c) for g in grads]
        if "global_clipnorm" in clip:
            c = clip["global_clipnorm"]
            total = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
            return [g * c / max(total, c) for g in grads]
        return [np.clip(g, -clip["clipvalue"], clip["clipvalue"]) for g in grads]

    a = [fnn.tensor(s.copy(), requires_grad=True, backend=backend) for s in START]
    b = [fnn.tensor(s.copy(), requires_grad=True, backend=backend) for s in START]
    opt_a = optim.Adam(a, lr=0.05, **clip)
    opt_b = optim.Adam(b, lr=0.05)
    for grads in steps:
        for p, g in zip(a, grads):
            p.grad = fnn.tensor(g, backend=backend)
        for p, g in zip(b, clipped(grads)):
            p.grad = fnn.tensor(g, backend=backend)
        opt_a.step()
        opt_b.step()
    for p, q in zip(a, b):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
def test_clip_grad_norm_follows_pytorch(backend):
    require(backend)
    params = _params(backend)
    total = optim.clip_grad_norm_(params, max_norm=2.0)
    expected_total = math.sqrt(3**2 + 4**2 + 0.3**2 + 0.4**2 + 5**2 + 12**2)
    assert isinstance(total, fnn.Tensor) and total.backend == backend
    assert total.item() == pytest.approx(expected_total, rel=1e-12)
    coef = 2.0 / (expected_total + 1e-6)   # torch.nn.utils.clip_grad_norm_'s coefficient
    for p, g in zip(params, GRADS):
        np.testing.assert_allclose(p.grad.numpy(), g * coef, rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_clip_grad_norm_infinity_norm_and_no_change_below_the_threshold(backend):
    require(backend)
    params = _params(backend)
    total = optim.clip_grad_norm_(params, max_norm=6.0, norm_type=float("inf"))
    assert total.item() == pytest.approx(12.0)
    for p, g in zip(params, GRADS):
        np.testing.assert_allclose(p.grad.numpy(), g * (6.0 / (12.0 + 1e-6)), rtol=1e-12)
    params = _params(backend)
    total = optim.clip_grad_norm_(params, max_norm=100.0, norm_type=1)
    assert total.item() == pytest.approx(3 + 4 + 0.3 + 0.4 + 5 + 12, rel=1e-12)
    for p, g in zip(params, GRADS):
        np.testing.assert_array_equal(p.grad.numpy(), g)


@pytest.mark.parametrize("backend", BACKENDS)
def test_clip_grad_value_clips_in_place_and_skips_parameters_without_gradient(backend):
    require(backend)
    params = _params(backend)
    spare = fnn.tensor([1.0], requires_grad=True, backend=backend)
    assert optim.clip_grad_value_(params + [spare], 1.0) is None
    for p, g in zip(params, GRADS):
        np.testing.assert_array_equal(p.grad.numpy(), np.clip(g, -1.0, 1.0))
    assert spare.grad is None


def test_clip_grad_norm_takes_a_model_and_ignores_missing_gradients():
    model = fnn.Sequential([fnn.layers.Input((3,)), fnn.layers.Dense(2)], backend="numpy")
    assert optim.clip_grad_norm_(model, 1.0).item() == 0.0
    x = fnn.tensor(np.array([[1.0, 2.0, 3.0]], dtype="float32"), backend="numpy")
    (model(x) * 10).sum().backward()
    grads = [p.grad.numpy().astype("float64") for p in model.parameters()]
    total = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
    assert optim.clip_grad_norm_(model, 1.0).item() == pytest.approx(total, rel=1e-6)
    after = math.sqrt(sum(float(np.sum(p.grad.numpy().astype("float64") ** 2)) for p in model.parameters()))
    assert after == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("make,error,match", [
    (lambda p: optim.SGD([p], clipnorm=0), ValueError, "clipnorm must be a positive finite number, got 0.0"),
    (lambda p: optim.Adam([p], global_clipnorm=-1.0), ValueError, "global_clipnorm must be a positive"),
    (lambda p: optim.RMSprop([p], clipvalue=float("inf")), ValueError, "clipvalue must be a positive finite"),
    (lambda p: optim.SGD([p], clipvalue="1"), TypeError, "clipvalue must be a positive number or None, got str"),
    (lambda p: optim.SGD([p], clipnorm=True), TypeError, "clipnorm"),
    (lambda p: optim.Adam([p], clipnorm=1.0, clipvalue=0.5), ValueError, "at most one of"),
    (lambda p: optim.clip_grad_norm_([p], 0.0), ValueError, "max_norm must be a positive"),
    (lambda p: optim.clip_grad_norm_([p], 1.0, norm_type=0), ValueError, "norm_type"),
    (lambda p: optim.clip_grad_value_([p], -2), ValueError, "clip_value must be a positive"),
    (lambda p: optim.clip_grad_value_([p, "w"], 2), TypeError, r"parameters\[1\] must be a Tensor"),
])
def test_bad_clipping_arguments_are_refused(make, error, match):
    p = fnn.tensor([1.0], requires_grad=True)
    with pytest.raises(error, match=match):
        make(p)
