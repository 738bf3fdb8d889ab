"""fastnn.testing.check_parity: it passes a correct function or layer of the user's, fails
with a message naming the backend, dtype, mode, layout, item, difference and tolerance
when one backend computes something else (an output, only a gradient, only a state
update, only on strided inputs) or when a call modifies its input, reports the worst
difference per item, leaves the user's layer and generator as they were, and refuses bad
arguments with a clear error. The wrong results come from functions that branch on the
backend of their input, as a faulty kernel would."""

import subprocess
import sys

import numpy as np
import pytest

import fastnn as fnn
import fastnn.functional as F
from fastnn import backend as fnn_backends
from fastnn.function import Function
from fastnn.layers import BatchNormalization, Dense, Layer
from fastnn.testing import ParityError, check_parity
from fastnn.testing.tolerances import RTOL

CPU = ("cpu",)


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def gelu_mix(x, w):
    """A user's function built from fastnn ops: two inputs, two outputs."""
    z = x @ w
    return F.gelu(z) * z + x.sum(axis=1, keepdims=True), (z * z).mean(axis=0)


class Tracked(Layer):
    """y = (x - mean) * scale: ``scale`` trains; in training, the non-trainable ``mean``
    moves toward the batch mean, mean <- (1 - momentum) mean + momentum mean_batch."""

    def __init__(self, momentum=0.25, wrong_on=None, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum
        self.wrong_on = wrong_on  # a backend whose update uses twice the momentum (a faulty kernel)

    def build(self, input_shape):
        self.scale = self.add_weight("scale", input_shape, initializer="glorot_uniform")
        self.mean = self.add_weight("mean", input_shape, initializer="zeros", trainable=False)

    def call(self, x, training=None):
        y = (x - self.mean) * self.scale   # with the mean from before the update
        if training:
            momentum = 2 * self.momentum if x.backend == self.wrong_on else self.momentum
            with fnn.no_grad():
                self.mean.data = (self.mean * (1 - momentum) + x.mean(axis=0) * momentum).data
        return y


# -- passing checks -------------------------------------------------------------------------------


def test_a_correct_function_passes_and_the_report_holds_the_numbers(rng):
    x, w = rng.standard_normal((5, 4)), rng.standard_normal((4, 3))
    report = check_parity(gelu_mix, [x, w], backends=CPU)
    assert report.passed and report.failures == []
    assert report.runs == 4  # 2 dtypes x 2 layouts, once each: the function takes no training argument
    assert report.modes == ("-",) and any("takes no training argument" in note for note in report.notes)
    worst = report.worst
    assert list(worst) == ["output 0", "output 1", "gradient of input 0", "gradient of input 1",
                           "input 0 unchanged", "input 1 unchanged"]
    # the tolerance is rtol * max(1, max |expected|), expected from NumPy here
    z = x.astype(np.float32) @ w.astype(np.float32)
    scale = max(1.0, float(np.abs((z * z).mean(axis=0)).max()))
    row = next(r for r in report.rows if r.item == "output 1" and r.dtype == "float32")
    assert row.tolerance == pytest.approx(RTOL["float32"] * scale, rel=1e-5)
    for row in worst.values():
        assert row.error <= row.tolerance
    table = str(report)
    for item in worst:
        assert item in table
    assert "all within tolerance" in table


def test_a_user_layer_with_a_weight_and_a_running_state_passes_and_is_left_unchanged(rng):
    layer = Tracked()
    layer.build((6,))
    before = layer.get_weights()
    rng_state = fnn.get_rng_state()
    x = rng.standard_normal((5, 6)) + 2.0
    report = check_parity(layer, [x], backends=CPU)
    assert report.passed and report.runs == 8
    name = layer.name
    assert {f'gradient of weight "{name}/scale"', f'state "{name}/mean"', "gradient of input 0",
            f'weight "{name}/scale" unchanged'} <= set(report.worst)
    for got, want in zip(layer.get_weights(), before):
        np.testing.assert_array_equal(got, want)
    assert all(t.grad is None for t in layer.weights)
    assert fnn.get_rng_state() == rng_state


def test_an_unbuilt_layer_stays_unbuilt_and_gets_the_same_weights_everywhere(rng):
    layer = Dense(3, activation="tanh")
    report = check_parity(layer, [rng.standard_normal((4, 5))], backends=CPU, dtypes=("float64",))
    assert report.passed and not layer.built
    assert 'gradient of weight "' + layer.name + '/kernel"' in report.worst


def test_batch_norm_running_statistics_are_compared_in_training(rng):
    report = check_parity(BatchNormalization(momentum=0.5), [rng.standard_normal((6, 3)) * 2 + 1], backends=CPU)
    states = {r.item for r in report.rows if r.item.startswith("state")}
    assert len(states) == 2 and all("running" in s for s in states)


def test_dropout_draws_the_same_stream_on_every_backend(rng):
    def dropout_then_square(x, training):
        return F.dropout(x, 0.5, training=training) ** 2

    report = check_parity(dropout_then_square, [rng.standard_normal((8, 9))], backends=CPU)
    assert report.passed and report.modes == ("train", "eval") and report.runs == 8


def test_integer_inputs_stay_integer_and_get_no_gradient(rng):
    logits, labels = rng.standard_normal((5, 4)), np.array([0, 3, 1, 1, 2])
    report = check_parity(F.sparse_categorical_crossentropy, [logits, labels], backends=CPU)
    assert "gradient of input 0" in report.worst and "gradient of input 1" not in report.worst
    assert "input 1 unchanged" in report.worst


def test_fastnn_tensors_are_taken_by_their_host_values(rng):
    x = fnn.tensor(rng.standard_normal((3, 4)), backend="numpy")
    assert check_parity(lambda t: t.exp().sum(axis=0), [x], backends=CPU, dtypes=("float64",)).passed


def test_state_inputs_of_a_function_are_compared_after_the_call(rng):
    x, mean, var = rng.standard_normal((7, 3)), np.zeros(3), np.ones(3)

    def bn(x, mean, var, training):
        return F.batch_norm(x, None, None, mean, var, training=training, momentum=0.5)

    report = check_parity(bn, [x, mean, var], backends=CPU, state=[1, 2])
    assert {"state input 1", "state input 2"} <= set(report.worst)
    assert "gradient of input 1" not in report.worst and "input 1 unchanged" not in report.worst


# -- failing checks ---------------------------------------------------------------------------------


def test_a_wrong_output_on_one_backend_fails_naming_it(rng):
    def off_on_cpu(x):
        y = F.tanh(x)
        return y + 0.5 if x.backend == "cpu" else y

    with pytest.raises(ParityError) as error:
        check_parity(off_on_cpu, [rng.standard_normal((4, 3))], backends=CPU)
    failures = error.value.failures
    assert {r.item for r in failures} == {"output 0"}     # its gradient is right
    assert {(r.backend, r.dtype, r.layout) for r in failures} == {
        ("cpu", d, layout) for d in ("float32", "float64") for layout in ("contiguous", "strided")}
    assert all(r.error == pytest.approx(0.5, rel=1e-6) for r in failures)
    message = str(error.value)
    assert "cpu, float64, mode -, contiguous inputs: output 0: max |difference| 0.5 > tolerance 1e-10" in message
    assert isinstance(error.value, AssertionError)
    assert error.value.report.worst["output 0"].dtype == "float64"   # furthest beyond its tolerance


class CubeWrongGradientOnCpu(Function):
    """x^3, whose backward on the cpu backend returns 1.5 times the gradient 3 x^2 g."""

    def forward(self, x):
        self.x = x
        return x ** 3

    def backward(self, g):
        grad = 3 * self.x ** 2 * g
        return (grad * 1.5 if self.backend is fnn_backends.named("cpu") else grad,)


def test_a_wrong_gradient_only_fails_on_the_gradient(rng):
    x = rng.standard_normal((3, 4))
    with pytest.raises(ParityError) as error:
        check_parity(lambda t: CubeWrongGradientOnCpu.apply(t) * 2, [x], backends=CPU, dtypes=("float64",))
    failures = error.value.failures
    assert {r.item for r in failures} == {"gradient of input 0"}
    # the reference's gradient is 2 * 3 x^2 r; the cpu gives half as much again
    upstream = np.random.default_rng(1).standard_normal(x.shape)     # seed + 1, seed 0
    expected_error = np.abs(0.5 * 6 * x ** 2 * upstream).max()
    assert failures[0].error == pytest.approx(expected_error, rel=1e-9)
    assert "gradient of input 0: max |difference|" in str(error.value)


def test_a_wrong_state_update_only_fails_on_the_state_in_training(rng):
    layer = Tracked(wrong_on="cpu")
    with pytest.raises(ParityError) as error:
        check_parity(layer, [rng.standard_normal((5, 4)) + 1.0], backends=CPU)
    failures = error.value.failures
    assert {r.item for r in failures} == {f'state "{layer.name}/mean"'}
    assert {r.mode for r in failures} == {"train"}
    assert f'mode train, contiguous inputs: state "{layer.name}/mean": max |difference|' in str(error.value)


def test_an_input_modified_in_forward_fails_on_every_backend_that_does_it(rng):
    def adds_to_its_input(x):
        y = x * 2.0
        x.data += 1.0
        return y

    with pytest.raises(ParityError) as error:
        check_parity(adds_to_its_input, [rng.standard_normal((3, 4))], backends=CPU, dtypes=("float32",))
    failures = error.value.failures
    assert {r.item for r in failures} == {"input 0 unchanged"}
    assert {r.backend for r in failures} == {"numpy", "cpu"}
    assert all(r.error == 1.0 and r.tolerance == 0 for r in failures)
    assert "input 0 unchanged: max |difference| 1, must be exactly 0" in str(error.value)


class SquareSpoilingItsInput(Function):
    """x^2, whose backward zeroes the x it saved (on contiguous inputs, the caller's array)."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, g):
        grad = 2 * self.x * g
        self.x[...] = 0
        return (grad,)


def test_an_input_modified_in_backward_is_found(rng):
    with pytest.raises(ParityError) as error:
        check_parity(SquareSpoilingItsInput.apply, [rng.standard_normal((2, 3))], backends=CPU,
                     dtypes=("float64",), layouts=("contiguous",))
    assert {(r.item, r.layout) for r in error.value.failures} == {("input 0 unchanged", "contiguous")}


def test_a_function_wrong_only_on_strided_inputs_fails_only_there(rng):
    def off_when_strided(x):
        y = x * 3.0
        return y if x.data.flags.c_contiguous else y + 1e-3

    with pytest.raises(ParityError) as error:
        check_parity(off_when_strided, [rng.standard_normal((4, 5))], backends=CPU)
    failures = error.value.failures
    assert {(r.item, r.layout) for r in failures} == {("output 0", "strided")}
    assert "float32, mode -, strided inputs: output 0" in str(error.value)


def test_the_worst_difference_is_reported_per_output(rng):
    def two_outputs_off_on_cpu(x):
        off = 1.0 if x.backend == "cpu" else 0.0
        return x * 2.0 + 0.25 * off, x.sum(axis=0) + 0.5 * off

    with pytest.raises(ParityError) as error:
        check_parity(two_outputs_off_on_cpu, [rng.standard_normal((3, 4))], backends=CPU)
    worst = error.value.report.worst
    assert worst["output 0"].error == pytest.approx(0.25, rel=1e-5)
    assert worst["output 1"].error == pytest.approx(0.5, rel=1e-5)
    assert not worst["output 0"].passed and worst["gradient of input 0"].passed
    table = str(error.value.report)
    assert "FAIL" in table and "0.25" in table and "0.5" in table


# -- backends and arguments --------------------------------------------------------------------------


@pytest.fixture
def no_gpu(monkeypatch):
    """The gpu backend unable to run, whether or not a CUDA device answers here."""
    monkeypatch.setattr(fnn_backends.named("gpu"), "unavailable_reason", lambda: "no CUDA device answers (test)")


def test_backends_none_means_every_compiled_backend_that_runs_here(rng):
    report = check_parity(lambda x: x * x, [rng.standard_normal(3)], dtypes=("float64",))
    assert report.backends == tuple(n for n in fnn.available_backends() if n != "numpy")


def test_backends_none_notes_an_absent_gpu(no_gpu, rng):
    report = check_parity(lambda x: x * x, [rng.standard_normal(3)], dtypes=("float64",))
    assert report.backends == ("cpu",)
    assert "gpu not checked: no CUDA device answers (test)" in report.notes


def test_naming_an_absent_gpu_says_why(no_gpu, rng):
    with pytest.raises(fnn.BackendError, match=r"backends names 'gpu', which cannot run here: no CUDA device"):
        check_parity(lambda x: x * x, [rng.standard_normal(3)], backends=("cpu", "gpu"))


def test_no_compiled_backend_at_all_is_an_error_saying_why(no_gpu, monkeypatch, rng):
    monkeypatch.setattr(fnn_backends.named("cpu"), "unavailable_reason", lambda: "numba is not installed (test)")
    with pytest.raises(fnn.BackendError, match=r"no compiled backend can run here .*numba is not installed"):
        check_parity(lambda x: x * x, [rng.standard_normal(3)])


def test_the_reference_can_be_checked_against_itself(rng):
    report = check_parity(lambda x: x.exp(), [rng.standard_normal((2, 3))], backends="numpy")
    assert report.backends == ("numpy",) and report.passed


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(backends=("cpu", "tpu")), ValueError, r"check_parity: backends must be backend names from .*got 'tpu'"),
    (dict(backends=("cpu", "cpu")), ValueError, r"backends must be distinct backend names; 'cpu' appears twice"),
    (dict(backends=()), ValueError, r"backends must be a non-empty tuple"),
    (dict(dtypes=("float16",)), ValueError, r"check_parity: dtypes must be dtypes from 'float32', 'float64', "
                                            r"got 'float16'"),
    (dict(modes=("train", "test")), ValueError, r"check_parity: modes must be modes from 'train', 'eval', "
                                                r"got 'test'"),
    (dict(modes=()), ValueError, r"modes must be a non-empty tuple"),
    (dict(layouts=("sparse",)), ValueError, r"layouts must be layouts from"),
    (dict(rtol=-1.0), ValueError, r"check_parity: rtol must be a finite number >= 0, got -1.0"),
    (dict(grad=[True, True]), ValueError, r"grad must be one bool per input \(1\)"),
    (dict(seed=1.5), TypeError, r"check_parity: seed must be"),
])
def test_bad_arguments_are_refused(kwargs, error, message, rng):
    with pytest.raises(error, match=message):
        check_parity(lambda x: x * x, [rng.standard_normal(3)], **kwargs)


@pytest.mark.parametrize("fn, inputs, kwargs, error, message", [
    (lambda x: x, [], {}, ValueError, r"check_parity: inputs must be a non-empty list of arrays or tensors, got \[\]"),
    (lambda x: x, [np.array(["a"])], {}, TypeError, r"inputs\[0\] must be an array or tensor of numbers"),
    ("not a function", [np.ones(2)], {}, TypeError, r"fn_or_layer must be a function of tensors or a Layer"),
    (lambda x: x.sum(), [np.arange(3)], dict(grad=[0]), TypeError, r"inputs\[0\], which is int64"),
    (Dense(2), [np.ones((2, 2))], dict(state=[0]), ValueError, r"state must be empty for a layer"),
    (lambda x: 3.0, [np.ones(2)], {}, TypeError, r"must return a tensor or a tuple/list of tensors, got 3.0"),
])
def test_bad_subjects_and_inputs_are_refused(fn, inputs, kwargs, error, message):
    with pytest.raises(error, match=message):
        check_parity(fn, inputs, backends=CPU, **kwargs)


def test_import_fastnn_does_not_load_the_parity_module():
    code = "import sys, fastnn; sys.exit('fastnn.testing.parity' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
