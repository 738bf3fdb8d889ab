"""Freezing layers (``layer.trainable = False``) and fine-tuning: a frozen layer's weights
leave ``parameters()``, get no gradient and no update from any optimizer (not by weight
decay, not by momentum or Adam moments carried from before), in the graph step and in fit's
direct step alike; freezing a model or a block freezes every layer inside; a frozen batch
norm runs in inference mode; the flags survive checkpoints and configs, and ``summary``
shows them. Also ``Tensor.requires_grad_``."""

import json

import numpy as np
import pytest
import safetensors.numpy

import fastnn as fnn
from backend_params import require
from fastnn import io
from fastnn.callbacks import Callback
from fastnn.direct_step import DirectStep
from fastnn.layers import BatchNormalization, Dense, Dropout, Input, ResidualBlock

pytestmark = pytest.mark.usefixtures("rng_restored")

HOST = ["numpy", "cpu"]
RNG = np.random.default_rng(11)
X = RNG.standard_normal((48, 6)).astype(np.float32)
Y = RNG.integers(0, 3, 48)


def mlp(backend, seed=5, **first):
    fnn.manual_seed(seed)
    return fnn.Sequential([Input((6,)), Dense(8, activation="relu", name="first", **first),
                           Dense(8, activation="tanh", name="middle"), Dense(3, name="head")], backend=backend)


def snapshot(model):
    return {name: t.numpy() for name, t in model.named_weights()}


def moved(before, model):
    """Names of the weights whose values differ from ``before`` (any bit)."""
    return sorted(name for name, t in model.named_weights() if not np.array_equal(before[name], t.numpy()))


OPTIMIZERS = {
    "sgd_momentum_decay": lambda: fnn.optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.05),
    "adam_decay": lambda: fnn.optim.Adam(lr=0.01, weight_decay=0.05),
    "adamw": lambda: fnn.optim.AdamW(lr=0.01, weight_decay=0.1),
}


# -- the optimizer leaves frozen weights alone ------------------------------------------------
@pytest.mark.parametrize("backend", HOST)
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_frozen_weights_stay_bit_identical_through_fit(backend, optimizer):
    """Compiled and trained first (momentum / moments exist for every weight), then the
    middle layer is frozen without compiling again: fit moves every other weight, and the
    frozen ones, and their optimizer state, not by a bit."""
    require(backend)
    model = mlp(backend)
    model.compile(optimizer=OPTIMIZERS[optimizer](), loss="sparse_categorical_crossentropy")
    model.fit(X, Y, batch_size=16, epochs=1, verbose=0)
    middle = model.get_layer("middle")
    middle.trainable = False
    state_before = {k: {n: np.array(v) if n != "step" else v for n, v in s.items()}
                    for k, s in model.optimizer.state_dict()["state"].items()}
    before = snapshot(model)
    model.fit(X, Y, batch_size=16, epochs=2, verbose=0)
    assert moved(before, model) == ["first/bias", "first/kernel", "head/bias", "head/kernel"]
    state = model.optimizer.state_dict()["state"]
    frozen = [i for i, p in enumerate(model.optimizer.parameters()) if p is middle.kernel or p is middle.bias]
    assert len(frozen) == 2
    for i in frozen:   # step counts and buffers as they were: unfreezing resumes from them
        assert state[i]["step"] == state_before[i]["step"] == 3
        for name, value in state[i].items():
            np.testing.assert_array_equal(np.asarray(value), state_before[i][name])


def test_an_optimizer_made_before_freezing_skips_frozen_weights_even_with_a_stale_gradient():
    """The PyTorch loop: the gradient of the weight exists when the layer is frozen; the
    freeze drops it, so step() neither decays nor moves the weight by momentum."""
    model = mlp("numpy")
    opt = fnn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.1)
    x, y = fnn.tensor(X, backend="numpy"), fnn.tensor(Y, backend="numpy")
    for freeze_now in (False, True):
        opt.zero_grad()
        fnn.functional.sparse_categorical_crossentropy(model(x), y).backward()
        if freeze_now:
            before = snapshot(model)
            model.get_layer("first").trainable = False
            assert model.get_layer("first").kernel.grad is None
        opt.step()
    assert moved(before, model) == ["head/bias", "head/kernel", "middle/bias", "middle/kernel"]
    # a gradient set by hand on a frozen weight does not reach it either
    kernel = model.get_layer("first").kernel
    kernel.grad = fnn.ones_like(kernel)
    opt.step()
    np.testing.assert_array_equal(kernel.numpy(), before["first/kernel"])


@pytest.mark.parametrize("clipping", [{}, {"global_clipnorm": 0.05}])
def test_an_optimizer_holding_frozen_weights_steps_as_one_without_them(clipping):
    """compile's optimizer holds the frozen weights; one made from parameters() after the
    freeze does not. Both train the same numbers (a global clipping norm leaves the frozen
    weights out: they have no gradient)."""
    results = []
    for holds_frozen in (True, False):
        model = mlp("numpy")
        model.get_layer("middle").trainable = False
        opt = fnn.optim.Adam(lr=0.01, **clipping) if holds_frozen else fnn.optim.Adam(model.parameters(), lr=0.01,
                                                                                      **clipping)
        model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
        assert len(model.optimizer.parameters()) == (6 if holds_frozen else 4)
        history = model.fit(X, Y, batch_size=16, epochs=2, verbose=0, shuffle=False)
        results.append((model.get_weights(), history.history["loss"]))
    for u, v in zip(results[0][0], results[1][0]):
        np.testing.assert_array_equal(u, v)
    assert results[0][1] == results[1][1]


def test_an_optimizer_of_ones_own_refuses_frozen_weights_but_keeps_those_compile_gave_it():
    model = mlp("numpy")
    first = model.get_layer("first")
    first.trainable = False
    with pytest.raises(ValueError, match=r"Adam: params\[0\] \(shape \(6, 8\)\) must be a leaf tensor with "
                                         r"requires_grad=True \(a weight of a frozen layer has requires_grad=False\)"):
        fnn.optim.Adam([first.kernel])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    group = model.optimizer.param_groups[0]
    assert group["params"][0] is first.kernel
    group["params"] = group["params"][1:]          # a frozen weight it already held may stay in an edit
    assert len(model.optimizer.parameters()) == 5
    with pytest.raises(ValueError, match="must be a leaf tensor with requires_grad=True"):
        group["params"] = [first.kernel.detach()]


def test_unfreezing_resumes_training_without_compiling_again():
    """Frozen before compile (Keras' fine-tuning recipe), then unfrozen: the optimizer
    compile made already holds the weights, so the next fit trains them."""
    model = mlp("numpy")
    model.get_layer("first").trainable = False
    model.compile(optimizer=fnn.optim.SGD(lr=0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
    before = snapshot(model)
    model.fit(X, Y, batch_size=16, epochs=1, verbose=0)
    assert "first/kernel" not in moved(before, model)
    model.get_layer("first").trainable = True
    assert len(model.parameters()) == 6 and model.get_layer("first").kernel.requires_grad
    before = snapshot(model)
    model.fit(X, Y, batch_size=16, epochs=1, verbose=0)
    assert moved(before, model) == sorted(before)
    state = model.optimizer.state_dict()["state"]
    assert [state[i]["step"] for i in range(6)] == [3, 3, 6, 6, 6, 6]


def test_a_fully_frozen_model_fits_without_moving_and_logs_its_loss():
    model = mlp("numpy")
    model.trainable = False
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = snapshot(model)
    history = model.fit(X, Y, batch_size=16, epochs=1, verbose=0)
    assert moved(before, model) == []
    assert np.isfinite(history.history["loss"]).all()
    assert model.optimizer.state == {}


def test_a_regularized_frozen_layer_keeps_its_penalty_and_its_weights():
    model = mlp("numpy", kernel_regularizer=fnn.regularizers.L2(0.5))
    model.get_layer("first").trainable = False
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    before = snapshot(model)
    penalty = 0.5 * float((before["first/kernel"].astype(np.float64) ** 2).sum())
    model.fit(X, Y, batch_size=16, epochs=1, verbose=0)
    assert "first/kernel" not in moved(before, model) and "head/kernel" in moved(before, model)
    unregularized = mlp("numpy")
    unregularized.set_weights(model.get_weights())
    unregularized.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert model.evaluate(X, Y) == pytest.approx(unregularized.evaluate(X, Y) + penalty, rel=1e-5)


# -- what freezing changes on the layers ---------------------------------------------------
def test_parameters_trainable_and_non_trainable_weights_follow_the_flag():
    model = fnn.Sequential([Input((6,)), Dense(4, name="a"), BatchNormalization(name="bn"), Dense(2, name="b")],
                           backend="numpy")
    bn = model.get_layer("bn")
    names = lambda tensors: [t.name for t in tensors]  # noqa: E731
    assert names(model.parameters()) == ["a/kernel", "a/bias", "bn/gamma", "bn/beta", "b/kernel", "b/bias"]
    bn.trainable = False
    assert names(model.parameters()) == names(model.trainable_weights) == ["a/kernel", "a/bias", "b/kernel", "b/bias"]
    assert names(model.non_trainable_weights) == ["bn/gamma", "bn/beta", "bn/running_mean", "bn/running_var"]
    assert [t.requires_grad for t in bn.weights] == [False] * 4
    assert model.count_params() == 28 + 16 + 10
    bn.trainable = True   # the running statistics stay non-trainable
    assert names(model.non_trainable_weights) == ["bn/running_mean", "bn/running_var"]
    assert [t.requires_grad for t in bn.weights] == [True, True, False, False]


def test_freezing_a_model_or_a_block_freezes_every_layer_inside():
    inner = fnn.Sequential([Dense(4, name="inner_dense")], backend="numpy")
    block = ResidualBlock(4, strides=2, name="block")   # a projection shortcut, made in build
    outer = fnn.Sequential([Input((3, 8, 8)), block, fnn.layers.Flatten(), inner], backend="numpy")
    assert block.projection is not None
    outer.trainable = False
    assert all(not layer.trainable for layer in outer._walk())
    assert outer.parameters() == [] and len(outer.non_trainable_weights) == len(outer.weights)
    block.trainable = True
    assert [layer.trainable for layer in (block.conv1, block.projection_bn, inner.layers[0])] == [True, True, False]
    assert outer.parameters() == block.parameters() and len(block.parameters()) == 9
    block.conv1.trainable = False        # one layer of a block alone
    assert block.trainable and not block.conv1.trainable and not block.conv1.kernel.requires_grad


def test_a_block_made_frozen_freezes_the_layers_it_makes_when_built():
    block = ResidualBlock(4, strides=2, trainable=False)
    assert block.projection is None      # made in build, after the constructor
    model = fnn.Sequential([Input((3, 8, 8)), block], backend="numpy")
    assert block.projection is not None and not block.projection.trainable
    assert model.parameters() == [] and not any(t.requires_grad for t in block.weights)
    lazy = Dense(3, trainable=False)
    lazy(np.ones((2, 5), dtype=np.float32))
    assert lazy.parameters() == [] and not lazy.kernel.requires_grad
    built_by_hand = ResidualBlock(4, strides=2, trainable=False)
    built_by_hand.build((3, 8, 8))       # build() called directly, as Keras allows
    assert built_by_hand.weights and not any(t.requires_grad for t in built_by_hand.weights)


def test_no_gradient_reaches_frozen_weights_but_the_input_gradient_flows_through():
    model = mlp("numpy")
    first, middle, head = (model.get_layer(n) for n in ("first", "middle", "head"))
    middle.trainable = False
    x = fnn.tensor(X[:8], backend="numpy")
    fnn.functional.sparse_categorical_crossentropy(model(x), fnn.tensor(Y[:8], backend="numpy")).backward()
    assert middle.kernel.grad is None and middle.bias.grad is None
    assert head.kernel.grad is not None and first.kernel.grad is not None
    assert np.abs(first.kernel.grad.numpy()).sum() > 0
    # the same gradient as with the middle layer trainable: freezing only skips its own
    grad = first.kernel.grad.numpy()
    middle.trainable = True
    model.zero_grad()
    fnn.functional.sparse_categorical_crossentropy(model(x), fnn.tensor(Y[:8], backend="numpy")).backward()
    np.testing.assert_array_equal(first.kernel.grad.numpy(), grad)


@pytest.mark.parametrize("backend", HOST)
def test_a_frozen_batch_norm_runs_in_inference_mode_during_fit(backend):
    require(backend)
    fnn.manual_seed(2)
    model = fnn.Sequential([Input((6,)), Dense(5, name="dense"), BatchNormalization(name="bn", momentum=0.5),
                            Dense(3)], backend=backend)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(X, Y, batch_size=16, epochs=1, verbose=0)   # running statistics away from 0 and 1
    bn = model.get_layer("bn")
    bn.trainable = False
    stats = [bn.running_mean.numpy(), bn.running_var.numpy(), bn.gamma.numpy(), bn.beta.numpy()]
    model.fit(X, Y, batch_size=16, epochs=1, verbose=0)
    for before, now in zip(stats, (bn.running_mean, bn.running_var, bn.gamma, bn.beta)):
        np.testing.assert_array_equal(now.numpy(), before)
    x = fnn.tensor(X[:10], backend=backend)
    np.testing.assert_array_equal(model(x, training=True).numpy(), model(x, training=False).numpy())
    bn.trainable = True    # unfrozen: batch statistics again
    assert not np.array_equal(model(x, training=True).numpy(), model(x, training=False).numpy())


# -- fit's direct step --------------------------------------------------------------------
class FreezeAtEpoch(Callback):
    def __init__(self, layer, epoch, trainable):
        super().__init__()
        self.layer, self.epoch, self.trainable = layer, epoch, trainable

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            self.model.get_layer(self.layer).trainable = self.trainable


def fit_counting(model, direct, callbacks=(), epochs=2):
    """fit with the direct step allowed or not; returns the steps the direct step ran."""
    calls = []
    original = DirectStep.__call__

    def counting(self, xb, yb):
        calls.append(1)
        return original(self, xb, yb)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DirectStep, "__call__", counting)
        if not direct:
            patch.setattr(DirectStep, "plan", classmethod(lambda cls, model, regularizers: None))
        model.fit(X, Y, batch_size=16, epochs=epochs, verbose=0, callbacks=list(callbacks))
    return len(calls)


@pytest.mark.parametrize("backend", HOST)
@pytest.mark.parametrize("frozen", ["first", "middle", "head"])
def test_the_direct_step_trains_a_frozen_model_as_the_graph_step_does(backend, frozen):
    require(backend)
    runs = []
    for direct in (True, False):
        model = mlp(backend)
        model.compile(optimizer=fnn.optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.01),
                      loss="sparse_categorical_crossentropy")
        model.get_layer(frozen).trainable = False
        before = snapshot(model)
        calls = fit_counting(model, direct)
        assert calls == (6 if direct else 0)
        assert not any(name.startswith(frozen + "/") for name in moved(before, model))
        runs.append(model)
    for u, v in zip(runs[0].get_weights(), runs[1].get_weights()):
        np.testing.assert_array_equal(u, v)
    for p, q in zip(runs[0].parameters(), runs[1].parameters()):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    for t in runs[0].non_trainable_weights:
        assert t.grad is None


def test_a_frozen_first_layer_needs_no_backward_in_the_direct_step():
    model = mlp("numpy")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert DirectStep.plan(model, []).backward_from == 1
    model.get_layer("first").trainable = False
    assert DirectStep.plan(model, []).backward_from == 2
    model.trainable = False
    assert DirectStep.plan(model, []) is None     # nothing trains: the graph step logs the loss


@pytest.mark.parametrize("change", [("middle", 1, False, 3), ("first", 1, True, 6)])
def test_a_callback_that_changes_a_flag_during_fit_is_followed_by_both_steps(change):
    """fit plans its direct step again when a flag changes: freezing at epoch 1 stops the
    layer's updates there, unfreezing starts them, the same as the graph step."""
    layer, epoch, trainable, layer_steps = change
    runs = []
    for direct in (True, False):
        model = mlp("numpy")
        model.compile(optimizer=fnn.optim.Adam(lr=0.01), loss="sparse_categorical_crossentropy")
        model.get_layer(layer).trainable = not trainable
        calls = fit_counting(model, direct, [FreezeAtEpoch(layer, epoch, trainable)], epochs=3)
        assert calls == (9 if direct else 0)
        runs.append(model)
    for u, v in zip(runs[0].get_weights(), runs[1].get_weights()):
        np.testing.assert_array_equal(u, v)
    steps = [s["step"] for s in runs[0].optimizer.state_dict()["state"].values()]
    assert sorted(set(steps)) == [layer_steps, 9]   # the changed layer trained one epoch of three, or two


class KernelFlagAtEpochs(Callback):
    """Sets the middle kernel's requires_grad by hand, PyTorch style: off at epoch 1, on at 2."""

    def on_epoch_begin(self, epoch, logs=None):
        kernel = self.model.get_layer("middle").kernel
        if epoch == 1:
            kernel.requires_grad_(False)
            self.frozen_value = kernel.numpy().copy()
        elif epoch == 2:
            self.after_frozen_epoch = kernel.numpy().copy()
            kernel.requires_grad = True


@pytest.mark.parametrize("backend", HOST)
def test_requires_grad_switched_by_hand_during_fit_is_followed_by_both_steps(backend):
    """A weight's requires_grad set by hand in a callback changes what fit's step does from
    the next step on, as a layer's flag does: the weight stays put for the epoch it is off
    (the direct step must not run a plan that still trains it) and trains again after."""
    require(backend)
    runs = []
    for direct in (True, False):
        model = mlp(backend)
        model.compile(optimizer=fnn.optim.Adam(lr=0.01), loss="sparse_categorical_crossentropy")
        flags = KernelFlagAtEpochs()
        calls = fit_counting(model, direct, [flags], epochs=3)
        # epochs 0 and 2 run the direct step; epoch 1 the graph (a trainable layer's weight
        # switched off by hand has no direct plan)
        assert calls == (6 if direct else 0)
        np.testing.assert_array_equal(flags.after_frozen_epoch, flags.frozen_value)
        assert not np.array_equal(model.get_layer("middle").kernel.numpy(), flags.frozen_value)
        runs.append(model)
    for u, v in zip(runs[0].get_weights(), runs[1].get_weights()):
        np.testing.assert_array_equal(u, v)


# -- configs, checkpoints, summary ----------------------------------------------------------
def test_config_carries_trainable_and_a_config_without_it_is_trainable():
    layer = Dense(3, trainable=False, name="d")
    config = layer.get_config()
    assert config["trainable"] is False and "trainable=False" in repr(layer)
    assert "trainable" not in repr(Dense(3))
    clone = Dense.from_config(config)
    assert not clone.trainable
    clone(np.ones((2, 4), dtype=np.float32))
    assert clone.parameters() == []
    del config["trainable"]
    assert Dense.from_config(config).trainable
    frozen = fnn.Sequential([Input((4,)), Dense(2)], backend="numpy", trainable=False)
    assert not frozen.layers[0].trainable and frozen.get_config()["layers"][1]["trainable"] is False
    rebuilt = fnn.Sequential.from_config(frozen.get_config())
    assert not rebuilt.trainable and rebuilt.parameters() == []


@pytest.mark.parametrize("bad", ["no", 0, None, np.float32(1)])
def test_trainable_must_be_a_bool(bad):
    layer = Dense(3, name="d")
    with pytest.raises(TypeError, match=r"Dense 'd': trainable must be True or False, got"):
        layer.trainable = bad
    assert layer.trainable
    with pytest.raises(TypeError, match="Dense: trainable must be True or False"):
        Dense(3, trainable=bad)
    with pytest.raises(TypeError, match="Sequential: trainable must be True or False"):
        fnn.Sequential([Dense(3)], trainable=bad)
    with pytest.raises(TypeError, match=r"Dense.from_config: config\['trainable'\] must be True or False"):
        Dense.from_config({"units": 3, "trainable": bad})


def nested_model(backend):
    fnn.manual_seed(8)
    model = fnn.Sequential([Input((2, 6, 6)), ResidualBlock(3, strides=2, name="block"), fnn.layers.Flatten(),
                            Dropout(0.2), Dense(3, name="head")], backend=backend)
    model.compile(optimizer=fnn.optim.SGD(lr=0.05, momentum=0.9), loss="sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("backend", HOST)
def test_a_checkpoint_restores_every_flag_and_fit_goes_on_alike(tmp_path, backend):
    """Frozen block with one layer inside unfrozen (a config cannot say that: the block makes
    its layers itself), a frozen Dropout; saved after training, loaded, trained on: the same
    weights and optimizer state as the model that was never saved."""
    require(backend)
    x = RNG.standard_normal((12, 2, 6, 6)).astype(np.float32)
    y = RNG.integers(0, 3, 12)
    model = nested_model(backend)
    block = model.get_layer("block")
    model.fit(x, y, batch_size=6, epochs=1, verbose=0)
    block.trainable = False
    block.conv2.trainable = True
    model.layers[2].trainable = False
    model.save(tmp_path / "frozen.fnn")
    loaded = fnn.io.load_model(tmp_path / "frozen.fnn", backend=backend)
    assert [layer.trainable for layer in loaded._walk()] == [layer.trainable for layer in model._walk()]
    assert [t.requires_grad for t in loaded.weights] == [t.requires_grad for t in model.weights]
    assert "partly" in loaded.summary(print_fn=lambda s: None)
    state = fnn.get_rng_state()
    for m in (model, loaded):
        fnn.set_rng_state(state)
        m.fit(x, y, batch_size=6, epochs=1, verbose=0)
    for u, v in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(u, v)
    assert model.optimizer.state_dict()["state"].keys() == loaded.optimizer.state_dict()["state"].keys()


class TwoLayers(fnn.Model):
    """A model of one's own whose __init__ takes no arguments: its config cannot carry the
    flags of the layers it makes, the checkpoint's 'trainable' list does."""

    def __init__(self):
        super().__init__()
        self.hidden = Dense(4, activation="relu")
        self.out = Dense(3)

    def call(self, x, training=None):
        return self.out(self.hidden(x))


def test_a_subclassed_model_gets_its_flags_back(tmp_path):
    fnn.manual_seed(1)
    model = TwoLayers()
    model(X[:2])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.hidden.trainable = False
    model.fit(X, Y, batch_size=16, epochs=1, verbose=0)
    model.save(tmp_path / "sub.fnn")
    loaded = fnn.io.load_model(tmp_path / "sub.fnn", custom_objects={"TwoLayers": TwoLayers})
    assert [loaded.trainable, loaded.hidden.trainable, loaded.out.trainable] == [True, False, True]
    assert loaded.parameters() == [loaded.out.kernel, loaded.out.bias]
    assert len(loaded.optimizer.parameters()) == 4     # compile's optimizer: the frozen weights too


def strip_trainable(path):
    """Rewrite a checkpoint as one written before layers had a trainable flag: no
    'trainable' metadata, no "trainable" in the layer configs; signed again."""
    metadata, tensors = io.read_checkpoint(path)
    metadata = dict(metadata)
    del metadata["trainable"]

    def strip(config):
        config.pop("trainable", None)
        for layer in config.get("layers", []):
            strip(layer)
        return config

    metadata["architecture"] = json.dumps(strip(json.loads(metadata["architecture"])))
    del metadata["sha256"]
    metadata["sha256"] = io.content_sha256(metadata, tensors)
    path.write_bytes(safetensors.numpy.save(dict(tensors), metadata=metadata))


def test_a_checkpoint_written_before_freezing_existed_loads_trainable(tmp_path):
    model = mlp("numpy")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(X, Y, batch_size=16, epochs=1, verbose=0)
    model.get_layer("first").trainable = False
    path = tmp_path / "old.fnn"
    model.save(path)
    strip_trainable(path)
    metadata, _ = io.read_checkpoint(path)
    assert "trainable" not in metadata and '"trainable"' not in metadata["architecture"]
    loaded = fnn.io.load_model(path)
    assert all(layer.trainable for layer in loaded._walk()) and len(loaded.parameters()) == 6
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


@pytest.mark.parametrize("field, value, message", [
    ("trainable", "[]", "checkpoint field 'trainable' must be a non-empty list of true or false"),
    ("trainable", "[true, 1]", "checkpoint field 'trainable.1' must be true or false, got 1"),
    ("trainable", "[true, false]", "checkpoint field 'trainable' must be a list of 5 flags, one per layer"),
    ("architecture", "yes", "checkpoint field 'architecture.layers.1.trainable' must be true or false, got 'yes'"),
])
def test_a_malformed_trainable_field_is_refused(tmp_path, field, value, message):
    model = mlp("numpy")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    path = tmp_path / "bad.fnn"
    model.save(path)
    metadata, tensors = io.read_checkpoint(path)
    metadata = dict(metadata)
    if field == "architecture":
        architecture = json.loads(metadata["architecture"])
        architecture["layers"][1]["trainable"] = value
        value = json.dumps(architecture)
    metadata[field] = value
    del metadata["sha256"]
    metadata["sha256"] = io.content_sha256(metadata, tensors)
    path.write_bytes(safetensors.numpy.save(dict(tensors), metadata=metadata))
    with pytest.raises(fnn.io.CheckpointError, match=message):
        fnn.io.load_model(path)


def test_summary_marks_frozen_layers_and_counts_their_weights_as_non_trainable():
    model = fnn.Sequential([Input((6,)), Dense(4, name="a"), BatchNormalization(name="bn"), Dense(2, name="b")],
                           backend="numpy")
    text = model.summary(print_fn=lambda s: None)
    assert "Trainable params: 46" in text and "Non-trainable params: 8" in text
    assert text.splitlines()[2].split() == ["Layer", "Type", "Output", "Shape", "Param", "#"]   # nothing frozen
    assert model.summary(print_fn=lambda s: None, show_trainable=True).splitlines()[2].endswith("  Trainable")
    model.get_layer("a").trainable = False
    text = model.summary(print_fn=lambda s: None)
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.split()[:1] in (["a"], ["bn"], ["b"])}
    assert rows["a"][-1] == "N" and rows["bn"][-1] == "Y" and rows["b"][-1] == "Y"
    assert rows["a"][-2] == "28"
    assert "Total params: 54" in text and "Trainable params: 18" in text and "Non-trainable params: 36" in text
    assert "Trainable" not in model.summary(print_fn=lambda s: None, show_trainable=False).splitlines()[2]
    with pytest.raises(TypeError, match="summary: show_trainable must be True or False"):
        model.summary(show_trainable="yes")


# -- Tensor.requires_grad_ ------------------------------------------------------------------
@pytest.mark.parametrize("backend", HOST)
def test_requires_grad_sets_the_flag_in_place_and_returns_the_tensor(backend):
    require(backend)
    t = fnn.tensor([1.0, 2.0], backend=backend)
    assert t.requires_grad_() is t and t.requires_grad
    (t * t).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [2.0, 4.0])
    assert t.requires_grad_(False) is t and not t.requires_grad
    y = fnn.tensor([1.0], backend=backend).requires_grad_() * 3.0
    assert y.requires_grad_(True) is y     # True on a result: it already needs a gradient


@pytest.mark.parametrize("make, flag, error, message", [
    (lambda: fnn.tensor([1.0]), 1, TypeError, r"Tensor.requires_grad_: requires_grad must be True or False, got 1"),
    (lambda: fnn.tensor([1.0]), "yes", TypeError, r"requires_grad must be True or False, got 'yes'"),
    (lambda: fnn.tensor([1, 2]), True, TypeError, "only floating tensors can need gradients, this one is int64"),
    (lambda: fnn.tensor([True]), True, TypeError, "only floating tensors can need gradients, this one is bool"),
    (lambda: fnn.tensor([1.0], requires_grad=True) * 2.0, False, ValueError,
     r"cannot switch off on a non-leaf tensor; use .detach\(\)"),
])
def test_requires_grad_refuses_what_the_attribute_refuses(make, flag, error, message):
    t = make()
    was = t.requires_grad
    with pytest.raises(error, match=message):
        t.requires_grad_(flag)
    assert t.requires_grad == was


# -- fine-tuning ----------------------------------------------------------------------------
def test_fine_tuning_a_frozen_digits_base_for_new_classes():
    """A base (Dense, batch norm, ReLU) trained on digits 0-4, frozen; a new head for digits
    5-9 on top of it, the only thing that trains: the base does not move by a bit (the
    frozen batch norm's running statistics included), the old model's predictions stay
    exactly as they were, and the head learns the new classes from the base's features."""
    (x_train, y_train), (x_test, y_test) = fnn.datasets.load_digits()
    old_train, old_test = y_train < 5, y_test < 5
    fnn.manual_seed(0)
    base = [Dense(128, name="base_dense"), BatchNormalization(name="base_bn"), fnn.layers.Activation("relu")]
    pretrain = fnn.Sequential([Input((64,)), *base, Dense(5, name="old_head")], backend="cpu")
    pretrain.compile(optimizer=fnn.optim.Adam(lr=0.01), loss="sparse_categorical_crossentropy",
                     metrics=["accuracy"])
    pretrain.fit(x_train[old_train], y_train[old_train], batch_size=32, epochs=8, verbose=0)
    assert pretrain.evaluate(x_test[old_test], y_test[old_test])[1] > 0.95
    old_predictions = pretrain.predict(x_test)

    for layer in base:
        layer.trainable = False
    finetune = fnn.Sequential([Input((64,)), *base, Dense(5, name="new_head")], backend="cpu")
    finetune.compile(optimizer=fnn.optim.Adam(lr=0.01), loss="sparse_categorical_crossentropy",
                     metrics=["accuracy"])
    assert [t.name for t in finetune.parameters()] == ["new_head/kernel", "new_head/bias"]
    before = [w.numpy() for layer in base for w in layer.weights]
    assert len(before) == 6
    new_train, new_test = ~old_train, ~old_test
    finetune.fit(x_train[new_train], y_train[new_train] - 5, batch_size=32, epochs=12, verbose=0)
    for w, old in zip([w for layer in base for w in layer.weights], before):
        np.testing.assert_array_equal(w.numpy(), old)
    np.testing.assert_array_equal(pretrain.predict(x_test), old_predictions)
    assert finetune.evaluate(x_test[new_test], y_test[new_test] - 5)[1] > 0.93
