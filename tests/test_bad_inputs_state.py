"""Every bad input gets a clear error, and no error leaves bad state behind.

Part one: bad constructor and function arguments of the optimizers, schedules, random
generator, regularizers, initializers, layers, callbacks and metrics. Each raises a
TypeError (wrong kind) or ValueError (right kind, out of range) whose message names the
class or function and the argument ("Adam: betas must be ..., got 0.9").

Part two: setters and state loaders (``Optimizer.lr``, assignments into
``param_groups``, ``add_param_group``, ``Optimizer.load_state_dict``, ``set_rng_state``,
``Generator.set_state``, ``manual_seed``, ``Layer.set_weights``) check everything before
they change anything: after the error the full state equals the state before it.
"""

import copy

import numpy as np
import pytest

import fastnn as fnn
from fastnn import callbacks as cb
from fastnn import init, metrics, optim, regularizers
from fastnn import layers as L
from fastnn import random as fr
from fastnn.optim import schedules
from backend_params import require

NAN, INF = float("nan"), float("inf")
BACKENDS = ["numpy", "cpu"]


# -- part one: arguments -----------------------------------------------------------------------------
ARGUMENT_CASES = [
    # optimizers: hyperparameters, clipping, params, lookup
    (lambda: optim.SGD(lr="0.1"), TypeError, r"SGD: lr must be a non-negative number, got '0.1'"),
    (lambda: optim.SGD(lr=None), TypeError, r"SGD: lr must be a non-negative number, got None"),
    (lambda: optim.Adam(lr=NAN), ValueError, r"Adam: lr must be non-negative .*got nan"),
    (lambda: optim.Adam(lr=-1), ValueError, r"Adam: lr must be non-negative .*got -1"),
    (lambda: optim.Adam(learning_rate=INF), ValueError, r"Adam: lr must be non-negative .*got inf"),
    (lambda: optim.Adam(eps=NAN), ValueError, r"Adam: eps must be a finite number > 0, got nan"),
    (lambda: optim.Adam(eps=0), ValueError, r"Adam: eps must be a finite number > 0, got 0"),
    (lambda: optim.AdamW(betas=0.9), TypeError, r"AdamW: betas must be a pair .*got 0.9"),
    (lambda: optim.Adam(betas=(0.9,)), TypeError, r"Adam: betas must be a pair"),
    (lambda: optim.Adam(betas=(0.9, 1.0)), ValueError, r"Adam: betas must be a pair .* in \[0, 1\), got \(0.9, 1.0\)"),
    (lambda: optim.Adam(betas=("a", 0.9)), TypeError, r"Adam: betas must be a pair"),
    (lambda: optim.Adam(betas=(NAN, 0.9)), ValueError, r"Adam: betas must be"),
    (lambda: optim.Adam(amsgrad="yes"), TypeError, r"Adam: amsgrad must be True or False, got 'yes'"),
    (lambda: optim.SGD(momentum=-0.1), ValueError, r"SGD: momentum must be non-negative"),
    (lambda: optim.SGD(momentum=INF), ValueError, r"SGD: momentum must be non-negative .*got inf"),
    (lambda: optim.SGD(dampening=1.5), ValueError, r"SGD: dampening must be a finite number in \[0, 1\]"),
    (lambda: optim.SGD(nesterov=1), TypeError, r"SGD: nesterov must be True or False, got 1"),
    (lambda: optim.SGD(momentum=0.9, dampening=0.5, nesterov=True), ValueError,
     r"SGD: nesterov needs momentum > 0 and dampening = 0, got momentum=0.9, dampening=0.5"),
    (lambda: optim.SGD(weight_decay=-1e-4), ValueError, r"SGD: weight_decay must be non-negative"),
    (lambda: optim.AdamW(weight_decay="0.01"), TypeError, r"AdamW: weight_decay must be a non-negative number"),
    (lambda: optim.RMSprop(alpha=1.0), ValueError, r"RMSprop: alpha must be a finite number in \[0, 1\)"),
    (lambda: optim.RMSprop(centered="no"), TypeError, r"RMSprop: centered must be True or False"),
    (lambda: optim.RMSprop(eps=-1e-8), ValueError, r"RMSprop: eps must be a finite number > 0"),
    (lambda: optim.RMSprop(momentum="0.9"), TypeError, r"RMSprop: momentum must be a non-negative number"),
    (lambda: optim.SGD(clipnorm=NAN), ValueError, r"SGD: clipnorm must be a positive finite number"),
    (lambda: optim.Adam(global_clipnorm="1"), TypeError, r"Adam: global_clipnorm must be a positive number"),
    (lambda: optim.RMSprop(clipvalue=-1), ValueError, r"RMSprop: clipvalue must be a positive finite number"),
    (lambda: optim.Adam(lr=0.1, learning_rate=0.1), TypeError, r"Adam: give lr or learning_rate, not both"),
    (lambda: optim.SGD(5), TypeError, r"SGD: params must be an iterable of Tensors.*got 5"),
    (lambda: optim.Adam(bogus=1), TypeError, r"Adam: unknown arguments \['bogus'\]"),
    (lambda: optim.get(3), TypeError, r"optim.get: optimizer must be an Optimizer, a config dict or a name"),
    (lambda: optim.get("adagrad"), ValueError, r"optim.get: optimizer must be .*unknown optimizer 'adagrad'"),
    (lambda: optim.from_config({"class_name": "Adam", "config": {"lr": "x"}}), TypeError, r"Adam: lr must be"),
    (lambda: optim.from_config({"class_name": "Adam", "config": [1]}), TypeError,
     r"from_config: config\['config'\] must be a dict"),
    # schedules
    (lambda: schedules.StepDecay(0.1, step_size=2.5), TypeError, r"StepDecay: step_size must be an integer"),
    (lambda: schedules.ExponentialDecay(0.1, 0.5, staircase="yes"), TypeError,
     r"ExponentialDecay: staircase must be True or False"),
    (lambda: schedules.CosineDecay(NAN, 10), ValueError, r"CosineDecay: initial_lr must be finite"),
    (lambda: schedules.LinearWarmup(0.1, warmup_steps=-1), ValueError, r"LinearWarmup: warmup_steps must be finite"),
    (lambda: schedules.PiecewiseConstant(5, [1.0]), TypeError, r"PiecewiseConstant: boundaries must be a list"),
    (lambda: schedules.StepDecay(0.1, 2)("3"), TypeError, r"StepDecay: the step or epoch must be a real number"),
    (lambda: schedules.CosineDecay(0.1, 10)(INF), ValueError, r"CosineDecay: the step or epoch must be a finite"),
    (lambda: schedules.from_config({"class_name": "StepDecay", "config": 3}), TypeError,
     r"schedules.from_config: config\['config'\] must be a dict"),
    # random
    (lambda: fnn.manual_seed(1.5), TypeError, r"manual_seed: seed must be an int, got 1.5"),
    (lambda: fnn.manual_seed(-1), ValueError, r"manual_seed: seed must be an int in \[0, 18446744073709551615\]"),
    (lambda: fr.Generator("1"), TypeError, r"Generator: seed must be an int, got '1'"),
    # regularizers, checked when the layer is made
    (lambda: L.Dense(3, kernel_regularizer="l3"), ValueError,
     r"Dense: kernel_regularizer must be .*unknown regularizer 'l3'"),
    (lambda: L.Conv2D(2, 3, bias_regularizer=object()), TypeError, r"Conv2D: bias_regularizer must be None, a factor"),
    (lambda: L.LSTM(2, recurrent_regularizer="L2"), ValueError, r"LSTM: recurrent_regularizer must be"),
    (lambda: L.Embedding(5, 2, embeddings_regularizer=-0.1), ValueError,
     r"Embedding: embeddings_regularizer must be a non-negative finite number, got -0.1"),
    (lambda: L.Dense(3, bias_regularizer=NAN), ValueError, r"Dense: bias_regularizer must be a non-negative finite"),
    (lambda: L.GRU(2, kernel_regularizer={"class_name": "L3"}), ValueError, r"GRU: kernel_regularizer must be"),
    (lambda: regularizers.l2(NAN), ValueError, r"L2: l2 must be a non-negative finite number, got nan"),
    (lambda: regularizers.L1L2(l1="0.1"), TypeError, r"L1L2: l1 must be a non-negative finite number"),
    (lambda: regularizers.deserialize({"class_name": "L2", "l3": 0.1}), ValueError,
     r"regularizers.deserialize: config must hold only the keys \['l2'\] of L2, got 'l3'"),
    (lambda: regularizers.get([0.1]), TypeError, r"regularizers.get: identifier must be None, a factor"),
    # layer constructors
    (lambda: L.Dense(2.5), TypeError, r"Dense: units must be an int, got 2.5"),
    (lambda: L.Dense(0), ValueError, r"Dense: units must be an int >= 1, got 0"),
    (lambda: L.Dense(3, use_bias="False"), TypeError, r"Dense: use_bias must be True or False, got 'False'"),
    (lambda: L.Dense(3, activation=5), TypeError, r"Dense: activation must be None, an activation name or a callable"),
    (lambda: L.Dense(3, activation="nope"), ValueError, r"Dense: activation must be .*unknown activation 'nope'"),
    (lambda: L.Dense(3, kernel_initializer=5), TypeError, r"Dense: kernel_initializer must be an initializer name"),
    (lambda: L.Dense(3, bias_initializer="nope"), ValueError,
     r"Dense: bias_initializer must be .*unknown initializer 'nope'"),
    (lambda: L.Dense(3, dtype="int32"), TypeError, r"Dense: dtype must be float32 or float64, got int32"),
    (lambda: L.Dense(3, dtype="nonsense"), TypeError, r"Dense: dtype must be float32 or float64, got 'nonsense'"),
    (lambda: L.Dense(3, name=5), TypeError, r"Dense: name must be a non-empty string or None, got 5"),
    (lambda: L.Dense(3, input_shape=(4, 2.5)), TypeError, r"Dense: input_shape must hold non-negative ints"),
    (lambda: L.Conv2D(4, kernel_size=(3, 0)), ValueError, r"Conv2D: kernel_size must be positive"),
    (lambda: L.Conv2D(4, 3, strides=1.5), TypeError, r"Conv2D: strides must be an int or a pair of ints, got 1.5"),
    (lambda: L.Conv2D(4, 3, padding=-1), ValueError, r"Conv2D: padding must be 'valid', 'same' or ints >= 0"),
    (lambda: L.Conv2D(4, 3, padding=None), TypeError, r"Conv2D: padding must be 'valid', 'same', an int or a tuple"),
    (lambda: L.Conv2D("4", 3), TypeError, r"Conv2D: filters must be an int, got '4'"),
    (lambda: L.MaxPooling2D(pool_size="2"), TypeError, r"MaxPooling2D: pool_size must be an int or a pair of ints"),
    (lambda: L.AveragePooling2D(2, strides=0), ValueError, r"AveragePooling2D: strides must be positive"),
    (lambda: L.Dropout(NAN), ValueError, r"Dropout: rate must be a finite number in \[0, 1\), got nan"),
    (lambda: L.Dropout("0.5"), TypeError, r"Dropout: rate must be a real number, got '0.5'"),
    (lambda: L.BatchNormalization(momentum="0.9"), TypeError, r"BatchNormalization: momentum must be a number"),
    (lambda: L.BatchNormalization(epsilon=0), ValueError, r"BatchNormalization: epsilon must be a finite number > 0"),
    (lambda: L.BatchNormalization(center=None), TypeError, r"BatchNormalization: center must be True or False"),
    (lambda: L.BatchNormalization(gamma_initializer="nope"), ValueError, r"BatchNormalization: gamma_initializer"),
    (lambda: L.SyncBatchNormalization(momentum=NAN), ValueError, r"SyncBatchNormalization: momentum must be"),
    (lambda: L.Embedding(0, 4), ValueError, r"Embedding: input_dim must be an int >= 1, got 0"),
    (lambda: L.Embedding(10, 4.0), TypeError, r"Embedding: output_dim must be an int, got 4.0"),
    (lambda: L.SimpleRNN(4, return_sequences="yes"), TypeError, r"SimpleRNN: return_sequences must be True or False"),
    (lambda: L.LSTM(4, unit_forget_bias=1), TypeError, r"LSTM: unit_forget_bias must be True or False"),
    (lambda: L.GRU(4, reset_after=False), ValueError, r"GRU: reset_after must be True"),
    (lambda: L.GRU(4, recurrent_activation="nope"), ValueError, r"GRU: recurrent_activation must be"),
    (lambda: L.ResidualBlock(8, strides=0), ValueError, r"ResidualBlock: strides must be an int >= 1"),
    (lambda: L.Input((3, -1)), ValueError, r"Input: shape must hold non-negative ints"),
    (lambda: L.Input("3"), TypeError, r"Input: shape must be a tuple of ints"),
    (lambda: L.Activation(3.0), TypeError, r"Activation: activation must be None, an activation name"),
    (lambda: L.Dense(3, activity_regularizer="l2"), TypeError, r"Dense: unknown arguments \['activity_regularizer'\]"),
    # initializers
    (lambda: init.zeros((2, 2.5)), TypeError, r"zeros: shape must be an int or a tuple of ints"),
    (lambda: init.ones((2, -1)), ValueError, r"ones: shape must hold non-negative ints"),
    (lambda: init.normal((2,), std=-1), ValueError, r"normal: std must be a finite number >= 0, got -1"),
    (lambda: init.normal((2,), mean=NAN), ValueError, r"normal: mean must be a finite number, got nan"),
    (lambda: init.uniform((2,), low=1, high=0), ValueError, r"uniform: high must be a finite number >= 1"),
    (lambda: init.orthogonal((2, 2), gain=NAN), ValueError, r"orthogonal: gain must be a finite number"),
    (lambda: init.he_normal((0, 3)), ValueError, r"he_normal: shape must have a non-zero fan_in"),
    (lambda: init.get(5), TypeError, r"init.get: initializer must be an initializer name or a callable, got 5"),
    # callbacks
    (lambda: cb.EarlyStopping(baseline=NAN), ValueError, r"EarlyStopping: baseline must be a finite number, got nan"),
    (lambda: cb.EarlyStopping(restore_best_weights="yes"), TypeError,
     r"EarlyStopping: restore_best_weights must be True or False"),
    (lambda: cb.EarlyStopping(verbose=-1), ValueError, r"EarlyStopping: verbose must be an int >= 0, got -1"),
    (lambda: cb.ModelCheckpoint("x.fnn", initial_value_threshold="0.5"), TypeError,
     r"ModelCheckpoint: initial_value_threshold must be a real number, got '0.5'"),
    (lambda: cb.ModelCheckpoint(5), TypeError, r"ModelCheckpoint: filepath must be a str or path, got 5"),
    (lambda: cb.ModelCheckpoint("x.fnn", save_best_only="yes"), TypeError,
     r"ModelCheckpoint: save_best_only must be True or False"),
    (lambda: cb.ReduceLROnPlateau(factor="0.5"), TypeError, r"ReduceLROnPlateau: factor must be a number in \(0, 1\)"),
    (lambda: cb.ReduceLROnPlateau(factor=NAN), ValueError, r"ReduceLROnPlateau: factor must be in \(0, 1\)"),
    (lambda: cb.CSVLogger(None), TypeError, r"CSVLogger: filename must be a str or path, got None"),
    (lambda: cb.CSVLogger("x.csv", append="yes"), TypeError, r"CSVLogger: append must be True or False"),
    (lambda: cb.CSVLogger("x.csv", separator=1), TypeError, r"CSVLogger: separator must be one character, got 1"),
    (lambda: cb.TensorBoard(log_dir=3), TypeError, r"TensorBoard: log_dir must be a str or path, got 3"),
    (lambda: cb.LearningRateScheduler(lambda e: 0.1, verbose="loud"), TypeError,
     r"LearningRateScheduler: verbose must be an int, got 'loud'"),
    # metrics
    (lambda: metrics.BinaryAccuracy(threshold="0.5"), TypeError, r"BinaryAccuracy: threshold must be a real number"),
    (lambda: metrics.Accuracy(threshold=1.0), ValueError, r"Accuracy: threshold must be a finite number in \(0, 1\)"),
    (lambda: metrics.BinaryAccuracy(from_logits="yes"), TypeError, r"BinaryAccuracy: from_logits must be True or"),
    (lambda: metrics.TopKAccuracy(k=2.0), TypeError, r"TopKAccuracy: k must be a positive int, got 2.0"),
]


@pytest.mark.parametrize("make,error,match", ARGUMENT_CASES, ids=[f"case{i}" for i in range(len(ARGUMENT_CASES))])
def test_bad_arguments_raise_naming_the_class_and_argument(make, error, match):
    state = fnn.get_rng_state()
    with pytest.raises(error, match=match):
        make()
    assert fnn.get_rng_state() == state   # a refused call leaves the random stream alone too


def test_at_least_fifty_distinct_bad_inputs_are_covered():
    assert len(ARGUMENT_CASES) + len(LOAD_CASES) + len(GROUP_CASES) + len(SET_WEIGHTS_CASES) + len(RNG_CASES) >= 50


def test_an_unknown_regularizer_fails_in_the_constructor_not_at_build_or_repr():
    with pytest.raises(ValueError, match=r"Dense: kernel_regularizer .*valid names are l2, l1, l1_l2"):
        L.Dense(3, kernel_regularizer="l3")
    layer = L.Dense(3, kernel_regularizer="l2", bias_regularizer=0.5)  # good ones still work, repr too
    assert "kernel_regularizer={'class_name': 'L2', 'l2': 0.01}" in repr(layer)


def test_good_arguments_still_work_and_are_normalised():
    opt = optim.Adam(lr=1, betas=[0.8, 0.9], eps=np.float32(1e-6), amsgrad=np.bool_(True))
    assert opt.defaults["lr"] == 1.0 and type(opt.defaults["lr"]) is float
    assert opt.defaults["betas"] == (0.8, 0.9) and type(opt.defaults["amsgrad"]) is bool
    assert L.Conv2D(np.int64(2), (np.int64(3), 3), padding=(np.int64(1), 1)).get_config()["padding"] == [1, 1]
    assert L.Dense(2, use_bias=np.bool_(False)).use_bias is False
    assert metrics.TopKAccuracy(k=np.int64(3)).k == 3


# -- part two: setters and loaders leave no trace of an error --------------------------------------------
def _same(a, b, path="state"):
    """a == b exactly, arrays by dtype, shape and values (NaN equal to NaN)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray), path
        assert a.dtype == b.dtype and a.shape == b.shape, path
        np.testing.assert_array_equal(a, b, err_msg=path)
        return
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), path
        for k in a:
            _same(a[k], b[k], f"{path}[{k!r}]")
        return
    if isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
        return
    assert type(a) is type(b) and a == b, (path, a, b)


def _optimizer_state(opt):
    """Everything an optimizer is: its state_dict (arrays copied), its groups as dicts (the
    parameter objects by identity), its defaults, clipping and parameter values."""
    sd = opt.state_dict()
    return {
        "state": {i: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
                  for i, s in sd["state"].items()},
        "param_groups": copy.deepcopy(sd["param_groups"]),
        "groups": [{k: ([id(p) for p in v] if k == "params" else v) for k, v in g.items()} for g in opt.param_groups],
        "defaults": dict(opt.defaults),
        "clip": (opt.clipnorm, opt.global_clipnorm, opt.clipvalue),
        "params": [p.numpy().copy() for p in opt.parameters()],
        "lr": opt.lr,
    }


def _trained(make, backend, steps=2):
    b = require(backend)
    rng = np.random.default_rng(0)
    a = fnn.tensor(rng.standard_normal((3, 2)).astype("float32"), requires_grad=True, backend=b)
    c = fnn.tensor(rng.standard_normal(4).astype("float32"), requires_grad=True, backend=b)
    opt = make([{"params": [a]}, {"params": [c], "lr": 0.05}])
    for _ in range(steps):
        a.grad = fnn.tensor(rng.standard_normal((3, 2)).astype("float32"), backend=b)
        c.grad = fnn.tensor(rng.standard_normal(4).astype("float32"), backend=b)
        opt.step()
    return opt


OPTIMIZERS = {
    "SGD": lambda params: optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True),
    "RMSprop": lambda params: optim.RMSprop(params, lr=0.01, centered=True, momentum=0.5),
    "Adam": lambda params: optim.Adam(params, lr=0.01, amsgrad=True),
    "AdamW": lambda params: optim.AdamW(params, lr=0.01),
}


def _edited(sd, edit):
    """A deep copy of a state_dict (arrays copied), changed by ``edit``."""
    new = {"state": {i: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
                     for i, s in sd["state"].items()},
           "param_groups": copy.deepcopy(sd["param_groups"])}
    edit(new)
    return new


def _first_buffer(sd):
    return sorted(k for k in sd["state"][0] if k != "step")[0]


LOAD_CASES = [
    ("not a dict", lambda sd: "state", TypeError, r"\.load_state_dict: state_dict must be a dict"),
    ("a key missing", lambda sd: {"state": sd["state"]}, ValueError,
     r"\.load_state_dict: state_dict must be a dict with the keys 'param_groups' and 'state'"),
    ("an extra key", lambda sd: {**sd, "extra": 1}, ValueError, r"state_dict must be a dict with the keys"),
    ("groups not a list", lambda sd: {**sd, "param_groups": 3}, TypeError,
     r"state_dict\['param_groups'\] must be a list"),
    ("one group too many", lambda sd: _edited(sd, lambda s: s["param_groups"].append(dict(s["param_groups"][0]))),
     ValueError, r"state_dict\['param_groups'\] must be a list of 2 group\(s\)"),
    ("a group without params", lambda sd: _edited(sd, lambda s: s["param_groups"][1].pop("params")), TypeError,
     r"state_dict\['param_groups'\]\[1\]\['params'\] must be a list of parameter indices"),
    ("a group of the wrong size", lambda sd: _edited(sd, lambda s: s["param_groups"][1]["params"].append(7)),
     ValueError, r"state_dict\['param_groups'\]\[1\]\['params'\] must be 1 parameter index"),
    ("a repeated index", lambda sd: _edited(sd, lambda s: s["param_groups"][1].__setitem__("params", [0])),
     ValueError, r"state_dict\['param_groups'\]\[1\]\['params'\] must be indices that appear once, got 0"),
    ("a bad lr in the last group", lambda sd: _edited(sd, lambda s: s["param_groups"][1].__setitem__("lr", NAN)),
     ValueError, r"state_dict\['param_groups'\]\[1\]\['lr'\] must be non-negative"),
    ("a string lr", lambda sd: _edited(sd, lambda s: s["param_groups"][0].__setitem__("lr", "0.1")),
     TypeError, r"state_dict\['param_groups'\]\[0\]\['lr'\] must be a non-negative number"),
    ("an unknown hyperparameter", lambda sd: _edited(sd, lambda s: s["param_groups"][0].__setitem__("lerning_rate", 1)),
     ValueError, r"state_dict\['param_groups'\]\[0\] key must be 'params' or a hyperparameter"),
    ("a state key that is no index", lambda sd: _edited(sd, lambda s: s["state"].__setitem__("x", s["state"][0])),
     TypeError, r"a key of state_dict\['state'\] must be a parameter index \(an int\), got 'x'"),
    ("a state key out of range", lambda sd: _edited(sd, lambda s: s["state"].__setitem__(9, s["state"][0])),
     ValueError, r"a key of state_dict\['state'\] must be a parameter index of state_dict\['param_groups'\]"),
    ("a buffer missing", lambda sd: _edited(sd, lambda s: s["state"][1].pop(_first_buffer(s))),
     ValueError, r"state_dict\['state'\]\[1\] must be a dict of the entries"),
    ("an unknown buffer", lambda sd: _edited(sd, lambda s: s["state"][1].__setitem__("extra", np.zeros(4, "float32"))),
     ValueError, r"state_dict\['state'\]\[1\] must be a dict of the entries"),
    ("step 0", lambda sd: _edited(sd, lambda s: s["state"][1].__setitem__("step", 0)),
     ValueError, r"state_dict\['state'\]\[1\]\['step'\] must be an int >= 1, got 0"),
    ("a float step", lambda sd: _edited(sd, lambda s: s["state"][1].__setitem__("step", 2.0)),
     TypeError, r"state_dict\['state'\]\[1\]\['step'\] must be an int, got 2.0"),
    ("a list buffer", lambda sd: _edited(sd, lambda s: s["state"][1].__setitem__(_first_buffer(s), [0.0] * 4)),
     TypeError, r"state_dict\['state'\]\[1\]\['\w+'\] must be a numpy array"),
    ("a buffer of the wrong shape", lambda sd: _edited(
        sd, lambda s: s["state"][1].__setitem__(_first_buffer(s), np.zeros(5, "float32"))),
     ValueError, r"must be an array of its parameter's shape and dtype, got shape \(5,\) float32 for a parameter "
                 r"of shape \(4,\) float32"),
    ("a buffer of the wrong dtype", lambda sd: _edited(
        sd, lambda s: s["state"][1].__setitem__(_first_buffer(s), np.zeros(4, "float64"))),
     ValueError, r"got shape \(4,\) float64 for a parameter of shape \(4,\) float32"),
    ("a NaN buffer", lambda sd: _edited(
        sd, lambda s: s["state"][1].__setitem__(_first_buffer(s), np.full(4, np.nan, "float32"))),
     ValueError, r"state_dict\['state'\]\[1\]\['\w+'\] must be finite"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("case,bad,error,match", LOAD_CASES, ids=[c[0] for c in LOAD_CASES])
def test_load_state_dict_checks_everything_before_changing_anything(backend, name, case, bad, error, match):
    opt = _trained(OPTIMIZERS[name], backend)
    saved = opt.state_dict()
    other = _trained(OPTIMIZERS[name], backend, steps=3).state_dict()   # a valid state to start loading from
    before = _optimizer_state(opt)
    with pytest.raises(error, match=name + match if match.startswith(r"\.") else match):
        opt.load_state_dict(bad(other))
    _same(_optimizer_state(opt), before)
    opt.load_state_dict(saved)   # still a working optimizer
    _same(_optimizer_state(opt), before)


@pytest.mark.parametrize("backend", ["numpy", "cpu"])
def test_negative_squared_averages_are_refused(backend):
    opt = _trained(OPTIMIZERS["Adam"], backend)
    before = _optimizer_state(opt)
    bad = _edited(opt.state_dict(), lambda s: s["state"][0].__setitem__("exp_avg_sq", -np.ones((3, 2), "float32")))
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: state_dict\['state'\]\[0\]\['exp_avg_sq'\] must "
                                         r"be non-negative \(an average of squares\)"):
        opt.load_state_dict(bad)
    _same(_optimizer_state(opt), before)


@pytest.mark.parametrize("backend", BACKENDS)
def test_loaded_buffers_are_copies_and_continue_exactly(backend):
    a = _trained(OPTIMIZERS["Adam"], backend)
    b = _trained(OPTIMIZERS["Adam"], backend)
    sd = a.state_dict()
    b.load_state_dict(sd)
    for s in sd["state"].values():   # the optimizer does not write into the dict it was given
        for k, v in s.items():
            if k != "step":
                v[...] = 123.0
    for opt in (a, b):
        for p in opt.parameters():
            p.grad = fnn.tensor(np.ones(p.shape, "float32"), backend=require(backend))
        opt.step()
    _same(_optimizer_state(a)["state"], _optimizer_state(b)["state"])


GROUP_CASES = [
    ("a string lr", lambda g: g.__setitem__("lr", "0.1"), TypeError, r"param group: lr must be a non-negative number"),
    ("a NaN lr", lambda g: g.__setitem__("lr", NAN), ValueError, r"param group: lr must be non-negative"),
    ("the Keras name", lambda g: g.__setitem__("learning_rate", -1.0), ValueError, r"param group: lr must be"),
    ("an unknown key", lambda g: g.__setitem__("lerning_rate", 0.1), ValueError,
     r"param group: a key must be 'params' or a hyperparameter of"),
    ("update with one bad value", lambda g: g.update(lr=0.5, weight_decay=-1.0), ValueError,
     r"param group: weight_decay must be non-negative"),
    ("|= with one bad value", lambda g: g.__ior__({"lr": 0.5, "weight_decay": NAN}), ValueError,
     r"param group: weight_decay must be non-negative"),
    ("params that are not tensors", lambda g: g.__setitem__("params", [1, 2]), TypeError,
     r"param group: params\[0\] must be a Tensor, got int"),
    ("removing lr", lambda g: g.__delitem__("lr"), TypeError, r"param group: 'lr' cannot be removed"),
    ("popping weight_decay", lambda g: g.pop("weight_decay"), TypeError, r"'weight_decay' cannot be removed"),
    ("clearing", lambda g: g.clear(), TypeError, r"param group: entries cannot be removed"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case,edit,error,match", GROUP_CASES, ids=[c[0] for c in GROUP_CASES])
def test_param_group_edits_are_checked_and_atomic(backend, case, edit, error, match):
    opt = _trained(OPTIMIZERS["Adam"], backend)
    before = _optimizer_state(opt)
    with pytest.raises(error, match="Adam " + match if match.startswith("param group") else match):
        edit(opt.param_groups[1])
    _same(_optimizer_state(opt), before)


@pytest.mark.parametrize("name,key,value,error,match", [
    ("SGD", "nesterov", "yes", TypeError, r"SGD param group: nesterov must be True or False"),
    ("SGD", "momentum", 0.0, ValueError, r"SGD param group: nesterov needs momentum > 0"),   # nesterov is on
    ("RMSprop", "alpha", 1.5, ValueError, r"RMSprop param group: alpha must be a finite number in \[0, 1\)"),
    ("AdamW", "betas", 0.9, TypeError, r"AdamW param group: betas must be a pair"),
    ("Adam", "eps", 0.0, ValueError, r"Adam param group: eps must be a finite number > 0"),
])
def test_param_group_edits_follow_each_optimizers_rules(name, key, value, error, match):
    opt = _trained(OPTIMIZERS[name], "numpy")
    before = _optimizer_state(opt)
    with pytest.raises(error, match=match):
        opt.param_groups[0][key] = value
    _same(_optimizer_state(opt), before)


def test_good_param_group_edits_take_effect():
    opt = _trained(OPTIMIZERS["Adam"], "numpy")
    opt.param_groups[0]["lr"] = 1
    opt.param_groups[1].update(betas=[0.5, 0.6])
    opt.param_groups[1]["learning_rate"] = 0.25
    assert opt.param_groups[0]["lr"] == 1.0 and type(opt.param_groups[0]["lr"]) is float
    assert opt.param_groups[1]["betas"] == (0.5, 0.6) and opt.param_groups[1]["lr"] == 0.25


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("value,error,match", [
    ("0.1", TypeError, r"lr must be a non-negative number, got '0.1'"),
    (None, TypeError, r"lr must be a non-negative number, got None"),
    (NAN, ValueError, r"lr must be non-negative \(a finite number >= 0\), got nan"),
    (-0.5, ValueError, r"lr must be non-negative \(a finite number >= 0\), got -0.5"),
    (True, TypeError, r"lr must be a non-negative number, got True"),
])
def test_the_lr_setter_is_atomic(backend, value, error, match):
    for name in sorted(OPTIMIZERS):
        opt = _trained(OPTIMIZERS[name], backend)
        before = _optimizer_state(opt)
        with pytest.raises(error, match=f"{name}: {match}"):
            opt.lr = value
        _same(_optimizer_state(opt), before)
    opt.lr = 0.5
    assert opt.lr == 0.5 and all(g["lr"] == 0.5 for g in opt.param_groups) and opt.defaults["lr"] == 0.5


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("group,error,match", [
    (lambda p: [p], TypeError, r"Adam.add_param_group: group must be a dict"),
    (lambda p: {"lr": 0.1}, ValueError, r"Adam.add_param_group: group must be a dict with the key 'params'"),
    (lambda p: {"params": [p], "lerning_rate": 0.1}, TypeError,
     r"Adam.add_param_group: unknown keys \['lerning_rate'\]"),
    (lambda p: {"params": [p], "lr": "fast"}, TypeError, r"Adam: lr must be a non-negative number, got 'fast'"),
    (lambda p: {"params": [p], "betas": (0.9, 2.0)}, ValueError, r"Adam: betas must be a pair"),
    (lambda p: {"params": p.detach()}, ValueError, r"Adam: params\[0\] .* must be a leaf tensor with requires_grad"),
    (lambda p: {"params": "weights"}, TypeError, r"Adam: params must be a Tensor or an iterable of Tensors"),
])
def test_add_param_group_is_checked_and_atomic(backend, group, error, match):
    opt = _trained(OPTIMIZERS["Adam"], backend)
    p = fnn.tensor(np.zeros(2, "float32"), requires_grad=True, backend=require(backend))
    before = _optimizer_state(opt)
    with pytest.raises(error, match=match):
        opt.add_param_group(group(p))
    _same(_optimizer_state(opt), before)


def test_a_parameter_already_in_a_group_is_refused_atomically():
    opt = _trained(OPTIMIZERS["SGD"], "cpu")
    before = _optimizer_state(opt)
    with pytest.raises(ValueError, match=r"SGD: params\[0\] \(shape \(4,\)\) appears more than once"):
        opt.add_param_group({"params": [opt.parameters()[1]]})
    _same(_optimizer_state(opt), before)


# -- the random generator -------------------------------------------------------------------------------
RNG_CASES = [
    ("a list", [7, 3], TypeError, r"state must be a dict, got \[7, 3\]"),
    ("seed only", {"seed": 7}, ValueError, r"state must be a dict with the keys 'offset' and 'seed'"),
    ("an extra key", {"seed": 7, "offset": 1, "x": 0}, ValueError, r"state must be a dict with the keys"),
    ("a float seed", {"seed": 1.5, "offset": 0}, TypeError, r"state\['seed'\] must be an int, got 1.5"),
    ("a string offset", {"seed": 7, "offset": "2"}, TypeError, r"state\['offset'\] must be an int, got '2'"),
    ("a bool seed", {"seed": True, "offset": 0}, TypeError, r"state\['seed'\] must be an int, got True"),
    ("a seed of 2**64", {"seed": 2**64, "offset": 0}, ValueError, r"state\['seed'\] must be an int in \[0, 1844"),
    ("a negative offset", {"seed": 7, "offset": -1}, ValueError, r"state\['offset'\] must be an int >= 0, got -1"),
    ("a None offset", {"seed": 7, "offset": None}, TypeError, r"state\['offset'\] must be an int, got None"),
]


@pytest.mark.parametrize("case,state,error,match", RNG_CASES, ids=[c[0] for c in RNG_CASES])
def test_set_rng_state_checks_everything_before_changing_anything(case, state, error, match):
    fnn.manual_seed(11)
    fnn.rand(10)
    before = fnn.get_rng_state()
    with pytest.raises(error, match="set_rng_state: " + match):
        fnn.set_rng_state(state)
    assert fnn.get_rng_state() == before
    g = fr.Generator(5)
    g.uint32(9)
    with pytest.raises(error, match="Generator.set_state: " + match):
        g.set_state(state)
    assert g.get_state() == {"seed": 5, "offset": 3}


def test_a_refused_seed_leaves_the_stream_where_it_was():
    fnn.manual_seed(3)
    fnn.rand(5)
    before = fnn.get_rng_state()
    expected = fnn.rand(4).numpy()
    fnn.set_rng_state(before)
    for bad in (2**64, -1, 1.0, "3", None):
        with pytest.raises((TypeError, ValueError), match="manual_seed: seed must be an int"):
            fnn.manual_seed(bad)
    assert fnn.get_rng_state() == before
    np.testing.assert_array_equal(fnn.rand(4).numpy(), expected)
    fnn.set_rng_state({"seed": np.uint64(2**64 - 1), "offset": np.int64(4)})  # NumPy ints are ints
    assert fnn.get_rng_state() == {"seed": 2**64 - 1, "offset": 4}


# -- Layer.set_weights ----------------------------------------------------------------------------------
def _built(backend):
    b = require(backend)
    model = fnn.Sequential([L.Input((3,)), L.Dense(4), L.BatchNormalization(), L.Dense(2)], backend=b)
    return model


SET_WEIGHTS_CASES = [
    ("not a list", lambda w: np.zeros((3, 4)), TypeError, r"set_weights arrays must be a list of arrays"),
    ("one too few", lambda w: w[:-1], ValueError, r"set_weights expected 8 arrays"),
    ("one too many", lambda w: w + [np.zeros(2)], ValueError, r"set_weights expected 8 arrays"),
    ("the last of the wrong shape", lambda w: w[:-1] + [np.zeros(3, "float32")], ValueError,
     r"set_weights array 7 is for dense_\d+/bias of shape \(2,\), got an array of shape \(3,\)"),
    ("strings", lambda w: w[:-1] + [np.array(["a", "b"])], TypeError,
     r"set_weights array 7 \(for dense_\d+/bias\) must be an array of real numbers \(ints or floats\), got dtype <U1"),
    ("complex", lambda w: w[:-1] + [np.zeros(2, complex)], TypeError,
     r"set_weights array 7 .* must be an array of real numbers"),
    ("booleans", lambda w: w[:-1] + [np.array([True, False])], TypeError, r"set_weights array 7 .*got dtype bool"),
    ("objects", lambda w: w[:-1] + [np.array([None, 1.0], dtype=object)], TypeError,
     r"set_weights array 7 .*got dtype object"),
    ("a ragged list", lambda w: w[:-1] + [[[1.0], [2.0, 3.0]]], TypeError,
     r"set_weights array 7 .* must be an array of real"),
    ("beyond float32", lambda w: w[:-1] + [np.array([1e300, 0.0])], ValueError,
     r"set_weights array 7 \(for dense_\d+/bias\) must hold values that float32 holds .*got 1e\+300"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case,bad,error,match", SET_WEIGHTS_CASES, ids=[c[0] for c in SET_WEIGHTS_CASES])
def test_set_weights_checks_every_array_before_writing_any(backend, case, bad, error, match):
    model = _built(backend)
    weights = model.weights
    before = model.get_weights()
    new = [np.full(w.shape, 0.5, dtype="float64") for w in before]   # all good but the bad one
    with pytest.raises(error, match=r"Sequential '\w+': " + match):
        model.set_weights(bad(new))
    _same(model.get_weights(), before, "weights")
    assert all(a is b for a, b in zip(model.weights, weights))
    model.set_weights(new)   # the good arrays then go in, converted to the weights' dtype
    assert all(w.dtype == np.float32 and (w == 0.5).all() for w in model.get_weights())


def test_set_weights_keeps_nan_and_inf_it_is_given():
    """Not a cast: a NaN or inf asked for is set (TerminateOnNaN's tests rely on it)."""
    model = _built("numpy")
    model.set_weights([np.full(w.shape, v) for w, v in zip(model.get_weights(), [np.nan, np.inf] * 4)])
    assert np.isnan(model.get_weights()[0]).all() and np.isinf(model.get_weights()[1]).all()
