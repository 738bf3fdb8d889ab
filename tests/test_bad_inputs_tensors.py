"""Every bad input to tensor creation, shape ops, reductions, joins, the runtime setters,
the warm-up and the DataLoader gets a clear error.

A bad argument raises a TypeError (wrong kind: a float or a string where an int goes) or a
ValueError (right kind, out of range) whose message names the function and the argument,
with what was expected and what came ("zeros: shape must be an int or a tuple of ints,
got 2.5"): never NumPy's message from deep inside, never a silent truncation (zeros(2.5)
was shape (2,)), never a wrap-around (tensor([300], dtype="uint8") was 44). Valid edge
inputs (zeros(0), reshape(-1), axis=-1, NumPy integer sizes, tuple shapes) still work.
"""

import numpy as np
import pytest

import fastnn as fnn
import fastnn.functional as F
from fastnn import runtime
from fastnn.data import DataLoader
from backend_params import require

BACKENDS = ["numpy", "cpu"]


def _t(backend, *shape, dtype="float32"):
    return fnn.tensor(np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape), backend=backend)


# -- tensors: cases that take the backend ------------------------------------------------------------
TENSOR_CASES = [
    # creation: shapes
    (lambda b: fnn.zeros(2.5, backend=b), TypeError, r"zeros: shape must be an int or a tuple of ints, got 2\.5"),
    (lambda b: fnn.zeros("3", backend=b), TypeError, r"zeros: shape must be an int or a tuple of ints, got '3'"),
    (lambda b: fnn.zeros(-1, backend=b), ValueError, r"zeros: shape must be ints >= 0, got -1"),
    (lambda b: fnn.zeros((2, -3), backend=b), ValueError, r"zeros: shape must be ints >= 0, got \(2, -3\)"),
    (lambda b: fnn.zeros(2, 3.0, backend=b), TypeError, r"zeros: shape must be .*got \(2, 3\.0\)"),
    (lambda b: fnn.zeros(True, backend=b), TypeError, r"zeros: shape must be an int .*got True"),
    (lambda b: fnn.zeros(None, backend=b), TypeError, r"zeros: shape must be an int .*got None"),
    (lambda b: fnn.zeros((2, 3), 4, backend=b), TypeError, r"zeros: shape must be"),
    (lambda b: fnn.ones(1.5, backend=b), TypeError, r"ones: shape must be an int or a tuple of ints, got 1\.5"),
    (lambda b: fnn.ones(-2, backend=b), ValueError, r"ones: shape must be ints >= 0, got -2"),
    (lambda b: fnn.rand(-1, backend=b), ValueError, r"rand: shape must be ints >= 0, got -1"),
    (lambda b: fnn.rand(2.0, 3, backend=b), TypeError, r"rand: shape must be .*got \(2\.0, 3\)"),
    (lambda b: fnn.randn(2.0, backend=b), TypeError, r"randn: shape must be an int .*got 2\.0"),
    (lambda b: fnn.randn(np.float64(3), backend=b), TypeError,
     r"randn: shape must be an int .*got np\.float64\(3\.0\)"),
    # creation: dtype and requires_grad
    (lambda b: fnn.zeros(2, dtype="float16", backend=b), TypeError,
     r"zeros: dtype must be float32 or float64, an integer type or bool, got 'float16'"),
    (lambda b: fnn.zeros(2, dtype="foo", backend=b), TypeError, r"zeros: dtype must be .*got 'foo'"),
    (lambda b: fnn.ones(2, dtype="complex64", backend=b), TypeError, r"ones: dtype must be .*got 'complex64'"),
    (lambda b: fnn.rand(2, dtype="int64", backend=b), TypeError, r"rand: dtype must be float32 or float64 .*int64"),
    (lambda b: fnn.randn(2, dtype=bool, backend=b), TypeError, r"randn: dtype must be float32 or float64 .*bool"),
    (lambda b: fnn.zeros(2, requires_grad="yes", backend=b), TypeError,
     r"zeros: requires_grad must be True or False, got 'yes'"),
    (lambda b: fnn.ones(2, dtype="int64", requires_grad=True, backend=b), TypeError,
     r"ones: requires_grad needs a floating dtype .*int64"),
    (lambda b: fnn.rand(2, requires_grad=1, backend=b), TypeError, r"rand: requires_grad must be True or False, got 1"),
    (lambda b: fnn.zeros(2, backend="tpu"), ValueError, r"unknown backend 'tpu'"),
    # fnn.tensor: integer overflow, dtypes, data
    (lambda b: fnn.tensor([300], dtype="uint8", backend=b), ValueError,
     r"tensor: data must be integers that uint8 holds, in \[0, 255\], got 300"),
    (lambda b: fnn.tensor([-1], dtype="uint16", backend=b), ValueError,
     r"tensor: data must be integers that uint16 holds, in \[0, 65535\], got -1"),
    (lambda b: fnn.tensor(np.array([2**63], dtype=np.uint64), backend=b), ValueError,
     r"tensor: data must be integers that int64 holds, .*got 9223372036854775808"),
    (lambda b: fnn.tensor([2**63], backend=b), ValueError, r"tensor: data must be integers that int64 holds"),
    (lambda b: fnn.tensor([1, 2**70], backend=b), ValueError,
     r"tensor: data must be integers that int64 holds, .*got 1180591620717411303424"),
    (lambda b: fnn.tensor(np.array([1, 40000], dtype=np.int64), dtype="int16", backend=b), ValueError,
     r"tensor: data must be integers that int16 holds, in \[-32768, 32767\], got 40000"),
    (lambda b: fnn.tensor([0, 2], dtype=bool, backend=b), ValueError,
     r"tensor: data must be 0s and 1s to make a bool tensor, got 2"),
    (lambda b: fnn.tensor([1.5], dtype="int64", backend=b), TypeError, r"tensor: dtype must be a floating dtype"),
    (lambda b: fnn.tensor([1.0], dtype="float16", backend=b), TypeError,
     r"tensor: dtype must be float32 or float64, an integer type or bool, got 'float16'"),
    (lambda b: fnn.tensor([1.0], dtype="nonsense", backend=b), TypeError, r"tensor: dtype must be .*got 'nonsense'"),
    (lambda b: fnn.tensor(np.ones(2, np.float16), backend=b), TypeError,
     r"tensor: data dtype must be float32 or float64.*got 'float16'"),
    (lambda b: fnn.tensor(["1", "2"], dtype="int64", backend=b), TypeError,
     r"tensor: data must be numbers .*got an array of dtype <U1"),
    (lambda b: fnn.tensor(np.array([1 + 2j]), dtype="float64", backend=b), TypeError,
     r"tensor: data must be numbers .*complex128"),
    (lambda b: fnn.tensor("abc", backend=b), TypeError, r"tensor: data must be a number, .*got 'abc'"),
    (lambda b: fnn.tensor(None, backend=b), TypeError, r"tensor: data must be a number, .*got None"),
    (lambda b: fnn.tensor([[1, 2], [3]], backend=b), ValueError, r"tensor: data must be a rectangular"),
    (lambda b: fnn.tensor([1.0], requires_grad="no", backend=b), TypeError,
     r"tensor: requires_grad must be True or False, got 'no'"),
    # Tensor methods: reshape, flatten, transpose, astype, requires_grad, clip
    (lambda b: _t(b, 7, 2).reshape(3.7, 2), TypeError, r"Tensor.reshape: shape must be .*got \(3\.7, 2\)"),
    (lambda b: _t(b, 6).reshape("6"), TypeError, r"Tensor.reshape: shape must be .*got \('6',\)"),
    (lambda b: _t(b, 6).reshape((2, 3.0)), TypeError, r"Tensor.reshape: shape must be .*got \(2, 3\.0\)"),
    (lambda b: _t(b, 6).reshape(-2, -3), ValueError, r"Tensor.reshape: shape must be ints >= 0, with at most one -1"),
    (lambda b: _t(b, 6).reshape(-1, -1), ValueError, r"Tensor.reshape: shape must be .*at most one -1, got \(-1, -1\)"),
    (lambda b: _t(b, 6).reshape(4, 2), ValueError,
     r"Tensor.reshape: shape must hold the 6 elements of a tensor of shape \(6,\), got \(4, 2\)"),
    (lambda b: _t(b, 2, 3).flatten(1.0), TypeError, r"Tensor.flatten: start_axis must be an int, got 1\.0"),
    (lambda b: _t(b, 2, 3).flatten(5), ValueError, r"Tensor.flatten: start_axis must be an int in \[-2, 2\], got 5"),
    (lambda b: _t(b, 2, 3).transpose(0.0, 1), TypeError,
     r"Tensor.transpose: axes must be ints, a permutation of the axes, got \(0\.0, 1\)"),
    (lambda b: _t(b, 2, 3).transpose(1, "0"), TypeError, r"Tensor.transpose: axes must be ints"),
    (lambda b: _t(b, 2, 3).transpose(1, 4), ValueError,
     r"Tensor.transpose: axes must be a permutation of the 2 axes, got \(1, 4\)"),
    (lambda b: _t(b, 2, 3).transpose(0, 0), ValueError, r"Tensor.transpose: axes must be a permutation"),
    (lambda b: _t(b, 2).astype("float16"), TypeError, r"Tensor.astype: dtype must be float32 or float64"),
    (lambda b: _t(b, 2).astype(None), TypeError, r"Tensor.astype: dtype must be .*got None"),
    (lambda b: setattr(_t(b, 2), "requires_grad", "yes"), TypeError,
     r"Tensor.requires_grad: requires_grad must be True or False, got 'yes'"),
    (lambda b: _t(b, 3).clip("0", 1), TypeError, r"Tensor.clip: min must be a number \(not NaN\) or None, got '0'"),
    (lambda b: _t(b, 3).clip(0, float("nan")), ValueError, r"Tensor.clip: max must be a number \(not NaN\)"),
    (lambda b: _t(b, 3).clip(2, 1), ValueError, r"Tensor.clip: min must be <= max, got min=2 and max=1"),
    # reductions
    (lambda b: _t(b, 3, 4).sum(axis=1.0), TypeError,
     r"Tensor.sum: axis must be an int or a tuple of ints or None, got 1\.0"),
    (lambda b: _t(b, 3, 4).sum(axis="a"), TypeError, r"Tensor.sum: axis must be .*got 'a'"),
    (lambda b: _t(b, 3, 4).sum(axis=(0, 0)), ValueError, r"Tensor.sum: axis must be distinct axes, got \(0, 0\)"),
    (lambda b: _t(b, 3, 4).sum(axis=2), ValueError,
     r"Tensor.sum: axis must be in \[-2, 1\] for a tensor of 2 dimensions, got 2"),
    (lambda b: _t(b, 3, 4).sum(keepdims="no"), TypeError, r"Tensor.sum: keepdims must be True or False, got 'no'"),
    (lambda b: _t(b, 3, 4).mean(axis=[0, 1.5]), TypeError, r"Tensor.mean: axis must be .*got \[0, 1\.5\]"),
    (lambda b: _t(b, 3, 4).mean(axis=-3), ValueError, r"Tensor.mean: axis must be in \[-2, 1\] .*got -3"),
    (lambda b: _t(b, 3, 4).max(axis=True), TypeError, r"Tensor.max: axis must be .*got True"),
    (lambda b: _t(b, 3, 4).min(axis=(0, 5)), ValueError, r"Tensor.min: axis must be in \[-2, 1\] .*got \(0, 5\)"),
    (lambda b: _t(b, 3, 4).max(keepdims=1), TypeError, r"Tensor.max: keepdims must be True or False, got 1"),
    (lambda b: _t(b, 3, 4).argmax(axis=1.0), TypeError, r"Tensor.argmax: axis must be an int, got 1\.0"),
    (lambda b: _t(b, 3, 4).argmax(axis=(0, 1)), TypeError, r"Tensor.argmax: axis must be an int, got \(0, 1\)"),
    (lambda b: _t(b, 3, 4).argmax(axis=5), ValueError, r"Tensor.argmax: axis must be an int in \[-2, 1\], got 5"),
    (lambda b: _t(b, 0, 3).argmax(), ValueError, r"Tensor.argmax: the tensor must not be empty, .*\(0, 3\)"),
    (lambda b: F.softmax(_t(b, 3, 4), axis=1.0), TypeError, r"softmax: axis must be an int, got 1\.0"),
    (lambda b: F.log_softmax(_t(b, 3, 4), axis=(0,)), TypeError, r"log_softmax: axis must be an int, got \(0,\)"),
    # joins
    (lambda b: fnn.stack([_t(b, 2), _t(b, 2)], axis=1.0), TypeError, r"stack: axis must be an int, got 1\.0"),
    (lambda b: fnn.stack([_t(b, 2), _t(b, 2)], axis=2), ValueError, r"stack: axis must be an int in \[-2, 1\], got 2"),
    (lambda b: fnn.stack([], axis=0), ValueError, r"stack: tensors must hold at least one tensor"),
    (lambda b: fnn.stack(_t(b, 2, 2)), TypeError, r"stack: tensors must be a list or tuple of tensors"),
    (lambda b: fnn.stack([_t(b, 2), np.zeros(2, np.float32)]), TypeError, r"stack: tensors\[1\] must be a Tensor"),
    (lambda b: fnn.stack([_t(b, 2), _t(b, 2, dtype="float64")]), TypeError,
     r"stack: tensors must share one dtype, got float32 \(tensors\[0\]\) and float64 \(tensors\[1\]\)"),
    (lambda b: fnn.concatenate([_t(b, 2), _t(b, 3)], axis=1.5), TypeError,
     r"concatenate: axis must be an int, got 1\.5"),
    (lambda b: fnn.concatenate([_t(b, 2), _t(b, 3)], axis=1), ValueError,
     r"concatenate: axis must be an int in \[-1, 0\], got 1"),
    (lambda b: fnn.concatenate([_t(b, 2), _t(b, 3, dtype="int64")]), TypeError,
     r"concatenate: tensors must share one dtype, got float32 .*int64"),
    (lambda b: fnn.concatenate(5), TypeError, r"concatenate: tensors must be a list or tuple of tensors, got 5"),
    (lambda b: fnn.concatenate([fnn.tensor(1.0, backend=b)] * 2), ValueError,
     r"concatenate: tensors must have at least 1 dimension"),
    (lambda b: fnn.unstack(_t(b, 2, 3), axis=1.0), TypeError, r"unstack: axis must be an int, got 1\.0"),
    (lambda b: fnn.unstack(_t(b, 2, 3), axis=-3), ValueError, r"unstack: axis must be an int in \[-2, 1\], got -3"),
    (lambda b: fnn.unstack(np.zeros((2, 3))), TypeError, r"unstack: x must be a Tensor"),
    (lambda b: fnn.zeros_like(np.zeros(3)), TypeError, r"zeros_like: t must be a Tensor"),
    (lambda b: fnn.ones_like(_t(b, 2), requires_grad="x"), TypeError,
     r"ones_like: requires_grad must be True or False, got 'x'"),
    (lambda b: fnn.where(np.array([True]), 1.0, 2.0), TypeError, r"where: a must be a Tensor \(a or b must be one\)"),
    # from_dlpack
    (lambda b: fnn.from_dlpack(3), TypeError, r"from_dlpack: obj must be an object with __dlpack__ .*got 3"),
    (lambda b: fnn.from_dlpack([1.0, 2.0]), TypeError, r"from_dlpack: obj must be an object with __dlpack__"),
    (lambda b: fnn.from_dlpack(np.ones(2, np.float16)), TypeError,
     r"from_dlpack: obj dtype must be float32 or float64"),
    (lambda b: fnn.from_dlpack(np.ones(2), requires_grad="yes"), TypeError,
     r"from_dlpack: requires_grad must be True or False"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("make, error, match", TENSOR_CASES)
def test_bad_tensor_inputs(backend, make, error, match):
    require(backend)
    with pytest.raises(error, match=match):
        make(backend)


# -- arguments without a tensor: runtime, warm-up, DataLoader ------------------------------------------
X = np.zeros((4, 2), np.float32)

OTHER_CASES = [
    (lambda: fnn.set_num_threads(2.0), TypeError, r"set_num_threads: n must be an int, got 2\.0"),
    (lambda: fnn.set_num_threads("2"), TypeError, r"set_num_threads: n must be an int, got '2'"),
    (lambda: fnn.set_num_threads(True), TypeError, r"set_num_threads: n must be an int, got True"),
    (lambda: fnn.set_num_threads(0), ValueError, r"set_num_threads: n must be an int >= 1, got 0"),
    (lambda: fnn.warmup(("float16",)), ValueError,
     r"warmup: dtypes must be float32 or float64 \(the dtypes the kernels compile for\), got 'float16'"),
    (lambda: fnn.warmup(("int32",)), ValueError, r"warmup: dtypes must be float32 or float64 .*got 'int32'"),
    (lambda: fnn.warmup(("float32", "nonsense")), ValueError, r"warmup: dtypes must be .*got 'nonsense'"),
    (lambda: fnn.warmup(()), ValueError, r"warmup: dtypes must be one or more of float32 and float64, got \(\)"),
    (lambda: fnn.warmup(32), TypeError, r"warmup: dtypes must be a tuple of dtypes, .*got 32"),
    (lambda: fnn.warmup(verbose="yes"), TypeError, r"warmup: verbose must be True or False, got 'yes'"),
    (lambda: DataLoader(X, batch_size=2.5), TypeError, r"DataLoader: batch_size must be an int, got 2\.5"),
    (lambda: DataLoader(X, batch_size="8"), TypeError, r"DataLoader: batch_size must be an int, got '8'"),
    (lambda: DataLoader(X, batch_size=0), ValueError, r"DataLoader: batch_size must be an int >= 1, got 0"),
    (lambda: DataLoader(X, shuffle="yes"), TypeError, r"DataLoader: shuffle must be True or False, got 'yes'"),
    (lambda: DataLoader(X, shuffle=1), TypeError, r"DataLoader: shuffle must be True or False, got 1"),
    (lambda: DataLoader(X, drop_last=None), TypeError, r"DataLoader: drop_last must be True or False, got None"),
    (lambda: DataLoader(X, dtype="int32"), TypeError, r"DataLoader: dtype must be float32 or float64 .*got 'int32'"),
    (lambda: DataLoader(X, dtype="bogus"), TypeError, r"DataLoader: dtype must be float32 or float64 .*got 'bogus'"),
    (lambda: DataLoader(X, seed=1.5), TypeError, r"DataLoader: seed must be an int, got 1\.5"),
    (lambda: DataLoader(X, seed=-1), ValueError, r"DataLoader: seed must be an int in \[0, .*got -1"),
    (lambda: DataLoader(X, backend="tpu"), ValueError, r"DataLoader: backend must be one of .*got 'tpu'"),
    (lambda: DataLoader(X, backend=3), TypeError, r"DataLoader: backend must be a name, .*got 3"),
]


@pytest.mark.parametrize("make, error, match", OTHER_CASES)
def test_bad_other_inputs(make, error, match):
    threads = fnn.get_num_threads()
    with pytest.raises(error, match=match):
        make()
    assert fnn.get_num_threads() == threads     # a refused value changes nothing


@pytest.mark.parametrize("name, value, error, match", [
    ("FASTNN_NUM_THREADS", "2.5", ValueError, r"default_num_threads: FASTNN_NUM_THREADS must be a positive integer"),
    ("FASTNN_CACHE", "maybe", ValueError, r"cache_enabled: FASTNN_CACHE must be one of .*got 'maybe'"),
])
def test_bad_environment_variables(monkeypatch, name, value, error, match):
    monkeypatch.setenv(name, value)
    with pytest.raises(error, match=match):
        runtime.default_num_threads() if name == "FASTNN_NUM_THREADS" else runtime.cache_enabled()


def test_cache_environment_words(monkeypatch):
    for value, enabled in [("1", True), ("on", True), ("", True), ("0", False), ("Off", False), ("no", False)]:
        monkeypatch.setenv("FASTNN_CACHE", value)
        assert runtime.cache_enabled() is enabled


def test_at_least_fifty_bad_inputs():
    assert len(TENSOR_CASES) + len(OTHER_CASES) >= 50


# -- nothing is half-changed by an error --------------------------------------------------------------
def test_refused_requires_grad_leaves_the_tensor_as_it_was():
    t = fnn.tensor([1.0, 2.0], backend="numpy")
    with pytest.raises(TypeError):
        t.requires_grad = "yes"
    assert t.requires_grad is False
    with pytest.raises(TypeError):
        fnn.tensor([1, 2], backend="numpy").requires_grad = True


def test_refused_dataloader_arguments_draw_nothing(rng_restored):
    state = fnn.get_rng_state()
    with pytest.raises(TypeError):
        DataLoader(X, shuffle="yes")
    assert fnn.get_rng_state() == state


# -- valid edge inputs still work ---------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_valid_edge_inputs(backend):
    require(backend)
    assert fnn.zeros(0, backend=backend).shape == (0,)
    assert fnn.zeros(backend=backend).shape == ()
    assert fnn.zeros((), backend=backend).shape == ()
    assert fnn.ones((2, 3), backend=backend).shape == (2, 3)
    assert fnn.ones([2, 3], backend=backend).shape == (2, 3)
    assert fnn.zeros(np.int64(3), np.int32(2), backend=backend).shape == (3, 2)
    assert fnn.rand((np.int64(2), 3), backend=backend).shape == (2, 3)
    assert fnn.randn(2, 0, backend=backend).shape == (2, 0)
    assert fnn.zeros(2, dtype=None, backend=backend).dtype == np.float32
    assert fnn.zeros(2, dtype=np.float64, requires_grad=np.bool_(True), backend=backend).requires_grad
    t = _t(backend, 2, 3, 4)
    assert t.reshape(-1).shape == (24,)
    assert t.reshape(np.int64(4), -1).shape == (4, 6)
    assert t.reshape([6, 4]).shape == (6, 4) and t.reshape((2, 12)).shape == (2, 12)
    assert t.reshape(np.int64(24)).shape == (24,)
    assert fnn.zeros(0, 3, backend=backend).reshape(-1, 3).shape == (0, 3)
    assert t.flatten(-1).shape == (2, 3, 4) and t.flatten(3).shape == (2, 3, 4, 1)
    assert t.transpose(-1, 0, 1).shape == (4, 2, 3)
    assert t.transpose((np.int64(2), 1, 0)).shape == (4, 3, 2)
    assert t.sum(axis=-1).shape == (2, 3) and t.sum(axis=np.int64(0)).shape == (3, 4)
    assert t.mean(axis=(0, -1)).shape == (3,) and t.max(axis=[1]).shape == (2, 4)
    assert t.min(axis=-1, keepdims=np.bool_(True)).shape == (2, 3, 1)
    np.testing.assert_array_equal(t.argmax(axis=-1).numpy(), np.full((2, 3), 3))
    assert t.argmax(axis=np.int64(1)).shape == (2, 4)
    assert fnn.zeros(0, 3, backend=backend).argmax(axis=1).shape == (0,)
    assert F.softmax(t, axis=np.int64(1)).shape == (2, 3, 4)
    assert fnn.stack([t, t], axis=-1).shape == (2, 3, 4, 2)
    assert fnn.stack((t for _ in range(3)), axis=np.int64(0)).shape == (3, 2, 3, 4)
    assert fnn.concatenate((t, t), axis=-1).shape == (2, 3, 8)
    assert len(fnn.unstack(t, axis=-1)) == 4
    assert t.clip(min=np.float32(1.0)).numpy().min() == 1.0
    np.testing.assert_array_equal(t.clip(-float("inf"), 3).numpy().max(), 3)


def test_valid_integer_data():
    assert fnn.tensor([255], dtype="uint8").tolist() == [255]
    assert fnn.tensor([-128, 127], dtype="int8").tolist() == [-128, 127]
    assert fnn.tensor(np.array([2**63 - 1], dtype=np.uint64)).tolist() == [2**63 - 1]
    assert fnn.tensor(np.array([0, 1, 0]), dtype=bool).tolist() == [False, True, False]
    assert fnn.tensor([True, False], dtype="int64").tolist() == [1, 0]
    assert fnn.tensor(np.zeros(0, np.int64), dtype="uint8").shape == (0,)
    assert fnn.tensor([2**70], dtype="float64").item() == float(2**70)
    assert fnn.tensor(np.array([3, 7], dtype=np.int32), dtype="uint8").tolist() == [3, 7]


def test_valid_other_arguments():
    threads = fnn.get_num_threads()
    try:
        fnn.set_num_threads(np.int64(1))
        assert fnn.get_num_threads() == 1
    finally:
        fnn.set_num_threads(threads)
    loader = DataLoader(X, batch_size=np.int64(3), shuffle=np.bool_(False), dtype=np.float64, seed=np.uint64(5))
    assert loader.batch_size == 3 and loader.shuffle is False and loader.x.dtype == np.float64 and len(loader) == 2
    assert DataLoader(X, dtype=None).x.dtype == np.float32
    assert fnn.from_dlpack(np.ones(2, np.float32), backend="numpy").shape == (2,)
    from fastnn.precompile import _dtypes
    assert _dtypes("float32") == [np.dtype("float32")] and _dtypes([np.float64, "float64"]) == [np.dtype("float64")]
