"""Optimizers follow PyTorch's documented algorithms: each update is compared, over 20
steps on the numpy and cpu backends, with a plain re-implementation of the algorithm written here from the
documentation (scalar Python per element, no shared code with fastnn)."""

import math

import numpy as np
import pytest

import fastnn as fnn
from fastnn import optim
from fastnn.testing.cases_optim import OPTIMIZER_CASES


def _sgd(p, grads, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
    p = list(p)
    buf = [None] * len(p)
    for t, g in enumerate(grads, start=1):
        for i in range(len(p)):
            d = g[i] + weight_decay * p[i]
            if momentum:
                buf[i] = d if t == 1 else momentum * buf[i] + (1 - dampening) * d
                d = d + momentum * buf[i] if nesterov else buf[i]
            p[i] -= lr * d
    return p


def _rmsprop(p, grads, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    p = list(p)
    v = [0.0] * len(p)
    gavg = [0.0] * len(p)
    buf = [0.0] * len(p)
    for g in grads:
        for i in range(len(p)):
            d = g[i] + weight_decay * p[i]
            v[i] = alpha * v[i] + (1 - alpha) * d * d
            if centered:
                gavg[i] = alpha * gavg[i] + (1 - alpha) * d
                avg = math.sqrt(v[i] - gavg[i] ** 2) + eps
            else:
                avg = math.sqrt(v[i]) + eps
            if momentum > 0:
                buf[i] = momentum * buf[i] + d / avg
                p[i] -= lr * buf[i]
            else:
                p[i] -= lr * d / avg
    return p


def _adam(p, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, decoupled=False):
    b1, b2 = betas
    p = list(p)
    m = [0.0] * len(p)
    v = [0.0] * len(p)
    vmax = [0.0] * len(p)
    for t, g in enumerate(grads, start=1):
        for i in range(len(p)):
            if decoupled:
                p[i] *= 1 - lr * weight_decay
                d = g[i]
            else:
                d = g[i] + weight_decay * p[i]
            m[i] = b1 * m[i] + (1 - b1) * d
            v[i] = b2 * v[i] + (1 - b2) * d * d
            second = v[i]
            if amsgrad:
                vmax[i] = max(vmax[i], v[i])
                second = vmax[i]
            mhat = m[i] / (1 - b1**t)
            denom = math.sqrt(second) / math.sqrt(1 - b2**t) + eps
            p[i] -= lr * mhat / denom
    return p


#: The documented algorithm of each optimizer class (AdamW: Adam with decoupled decay).
REFERENCES = {optim.SGD: _sgd, optim.RMSprop: _rmsprop, optim.Adam: _adam,
              optim.AdamW: lambda p, g, **kw: _adam(p, g, decoupled=True, **kw)}


@pytest.mark.parametrize("backend", ["numpy", "cpu"])
@pytest.mark.parametrize("name,cls,hyper", OPTIMIZER_CASES, ids=[row[0] for row in OPTIMIZER_CASES])
def test_twenty_steps_match_the_documented_algorithm(name, cls, hyper, backend):
    reference = REFERENCES[cls]
    rng = np.random.default_rng(3)
    start = rng.standard_normal(7)
    grads = [rng.standard_normal(7) for _ in range(20)]
    if cls is optim.AdamW:
        hyper = {"weight_decay": 1e-2, **hyper}
    p = fnn.tensor(start.copy(), requires_grad=True, backend=backend)
    opt = cls([p], **hyper)
    for g in grads:
        p.grad = fnn.tensor(g, backend=backend)
        opt.step()
    expected = reference(start, grads, **hyper)
    np.testing.assert_allclose(p.numpy(), expected, rtol=1e-12, atol=1e-14)


def test_float32_parameters_stay_float32():
    p = fnn.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    p.grad = fnn.tensor(np.ones(3, dtype=np.float32))
    opt.step()
    assert p.dtype == np.float32
    np.testing.assert_allclose(p.numpy(), 0.9, rtol=1e-6)


def test_defaults_are_pytorchs():
    assert optim.SGD.defaults == {"lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "nesterov": False,
                                  "weight_decay": 0.0}
    assert optim.RMSprop.defaults["lr"] == 1e-2 and optim.RMSprop.defaults["alpha"] == 0.99
    assert optim.Adam.defaults["betas"] == (0.9, 0.999) and optim.Adam.defaults["eps"] == 1e-8
    assert optim.AdamW.defaults["weight_decay"] == 1e-2 and optim.Adam.defaults["weight_decay"] == 0.0


def test_zero_grad_and_parameters_without_gradient_are_left_alone():
    a = fnn.tensor([1.0, 2.0], requires_grad=True)
    b = fnn.tensor([3.0], requires_grad=True)
    opt = optim.SGD([a, b], lr=1.0)
    (a * a).sum().backward()
    opt.step()
    np.testing.assert_allclose(a.numpy(), [-1.0, -2.0])
    np.testing.assert_allclose(b.numpy(), [3.0])
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_param_groups_have_their_own_hyperparameters():
    a = fnn.tensor([1.0], requires_grad=True)
    b = fnn.tensor([1.0], requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad = fnn.tensor([1.0])
    b.grad = fnn.tensor([1.0])
    opt.step()
    np.testing.assert_allclose([a.item(), b.item()], [0.9, 0.5])
    opt.lr = 0.2
    assert [g["lr"] for g in opt.param_groups] == [0.2, 0.2]


def test_state_dict_round_trip_resumes_exactly():
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(4) for _ in range(6)]
    start = rng.standard_normal(4)

    def run(steps, opt_state=None, p_start=start):
        p = fnn.tensor(p_start.copy(), requires_grad=True)
        opt = optim.Adam([p], lr=0.05, amsgrad=True)
        if opt_state is not None:
            opt.load_state_dict(opt_state)
        for g in steps:
            p.grad = fnn.tensor(g)
            opt.step()
        return p, opt

    straight, _ = run(grads)
    half, opt = run(grads[:3])
    saved = opt.state_dict()
    assert all(isinstance(v, np.ndarray) for s in saved["state"].values() for k, v in s.items() if k != "step")
    resumed, _ = run(grads[3:], opt_state=saved, p_start=half.numpy())
    np.testing.assert_array_equal(resumed.numpy(), straight.numpy())


def test_load_state_dict_rejects_mismatched_shapes():
    p = fnn.tensor(np.zeros(3), requires_grad=True)
    opt = optim.Adam([p])
    p.grad = fnn.tensor(np.ones(3))
    opt.step()
    state = opt.state_dict()
    q = fnn.tensor(np.zeros(4), requires_grad=True)
    with pytest.raises(ValueError, match=r"shape \(3,\).*\(4,\)"):
        optim.Adam([q]).load_state_dict(state)


@pytest.mark.parametrize("make,match", [
    (lambda p: optim.SGD([p], lr=-1), "lr must be non-negative"),
    (lambda p: optim.SGD([p], nesterov=True), "nesterov needs momentum"),
    (lambda p: optim.Adam([p], betas=(0.9, 1.5)), "betas"),
    (lambda p: optim.Adam([p], lr=0.1, bogus=1), "unknown arguments"),
    (lambda p: optim.SGD([p, p]), "appears more than once"),
    (lambda p: optim.SGD([p.detach()]), "requires_grad=True"),
])
def test_bad_arguments_are_refused(make, match):
    p = fnn.tensor([1.0], requires_grad=True)
    with pytest.raises((ValueError, TypeError), match=match):
        make(p)


def test_an_empty_parameter_list_is_refused_with_the_likely_cause():
    """A model builds its weights on its first call; an optimizer made before that would
    silently train nothing, so it is an error (as in PyTorch)."""
    from fastnn.layers import Dense

    unbuilt = fnn.Sequential([Dense(3)])
    for params in ([], unbuilt, unbuilt.parameters()):
        with pytest.raises(ValueError, match=r"Adam: params is empty.*first call"):
            optim.Adam(params)
    assert optim.Adam().param_groups == []  # no params at all: compile() attaches them later


def test_keras_style_construction_and_lookup_by_name():
    opt = optim.Adam(learning_rate=0.01)
    assert opt.lr == 0.01 and opt.parameters() == []
    p = fnn.tensor([1.0], requires_grad=True)
    opt.add_param_group({"params": [p]})
    assert opt.parameters() == [p]
    assert isinstance(optim.get("rmsprop"), optim.RMSprop)
    with pytest.raises(ValueError, match="valid names are sgd, rmsprop, adam, adamw"):
        optim.get("adagrad")


@pytest.mark.parametrize("opt", [
    optim.SGD(lr=0.05, momentum=0.9, nesterov=True, clipnorm=1.0),
    optim.RMSprop(lr=0.01, centered=True, clipvalue=0.5),
    optim.Adam(lr=3e-3, betas=(0.8, 0.9), amsgrad=True, global_clipnorm=2.0),
    optim.AdamW(learning_rate=1e-2),
], ids=lambda o: type(o).__name__)
def test_config_is_json_and_rebuilds_an_equal_optimizer(opt):
    import json

    config = opt.get_config()
    assert json.loads(json.dumps(config)) == config
    assert config["class_name"] == type(opt).__name__
    rebuilt = optim.from_config(json.loads(json.dumps(config)))
    assert type(rebuilt) is type(opt) and rebuilt.parameters() == []
    assert rebuilt.defaults == opt.defaults
    assert (rebuilt.clipnorm, rebuilt.global_clipnorm, rebuilt.clipvalue) == \
        (opt.clipnorm, opt.global_clipnorm, opt.clipvalue)
    assert rebuilt.get_config() == config
    assert optim.get(config).get_config() == config


def test_config_lists_the_hyperparameters_and_the_clipping():
    config = optim.Adam(lr=0.01, betas=(0.8, 0.9), clipnorm=1.5).get_config()
    assert config == {"class_name": "Adam", "config": {"lr": 0.01, "betas": [0.8, 0.9], "eps": 1e-8,
                                                       "weight_decay": 0.0, "amsgrad": False, "clipnorm": 1.5}}


def test_an_optimizer_rebuilt_from_config_and_state_continues_exactly():
    rng = np.random.default_rng(4)
    start = rng.standard_normal(5)
    grads = [rng.standard_normal(5) * 4 for _ in range(6)]
    p = fnn.tensor(start.copy(), requires_grad=True)
    opt = optim.Adam([p], lr=0.05, clipnorm=1.0)
    for g in grads[:3]:
        p.grad = fnn.tensor(g)
        opt.step()
    q = fnn.tensor(p.numpy(), requires_grad=True)
    clone = optim.from_config(opt.get_config())
    clone.add_param_group({"params": [q]})
    clone.load_state_dict(opt.state_dict())
    for g in grads[3:]:
        p.grad = fnn.tensor(g)
        q.grad = fnn.tensor(g)
        opt.step()
        clone.step()
    np.testing.assert_array_equal(q.numpy(), p.numpy())


def test_class_from_config_and_repr_show_the_clipping():
    opt = optim.SGD.from_config({"lr": 0.3, "momentum": 0.5, "clipvalue": 2.0})
    assert type(opt) is optim.SGD and opt.lr == 0.3 and opt.clipvalue == 2.0
    assert repr(opt) == "SGD(lr=0.3, momentum=0.5, dampening=0.0, nesterov=False, weight_decay=0.0, clipvalue=2.0)"


def test_from_config_refuses_unknown_classes():
    with pytest.raises(ValueError, match="unknown optimizer class 'Adagrad'"):
        optim.from_config({"class_name": "Adagrad", "config": {}})
    with pytest.raises(ValueError, match="class_name"):
        optim.from_config({"lr": 0.1})
