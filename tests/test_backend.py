"""Backend selection (set_backend, get_backend, use_backend, FASTNN_BACKEND), the errors
that say why a backend cannot run, ops mixing backends, and moves between backends.

The selection state is module-level (``fastnn.backend._stack``); every test that
touches it swaps in a fresh list through ``monkeypatch`` so the rest of the suite
sees the state it had before. Where a second usable backend is needed, ``cpu`` is
declared available for the test only (its arrays are NumPy arrays, so tensors can
live on it without any of its kernels running)."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

import fastnn as fnn
import fastnn.functional as F
from fastnn import backend as backends


@pytest.fixture
def fresh_state(monkeypatch):
    """An empty selection stack, no FASTNN_BACKEND and no remembered availability (so a
    test that fakes a missing package is heard), restored afterwards."""
    monkeypatch.setattr(backends, "_stack", [])
    for backend in backends._REGISTRY.values():
        monkeypatch.setattr(backend, "_known_available", False)
    monkeypatch.delenv("FASTNN_BACKEND", raising=False)
    return monkeypatch


@pytest.fixture
def cpu_usable(fresh_state):
    """Pretend the cpu backend is available (tensors only; no cpu kernel is called)."""
    fresh_state.setattr(backends._REGISTRY["cpu"], "unavailable_reason", lambda: None)
    return backends._REGISTRY["cpu"]


def test_available_backends_contains_numpy():
    names = fnn.available_backends()
    assert "numpy" in names
    assert set(names) <= {"numpy", "cpu", "gpu"}
    for name in ("cpu", "gpu"):
        assert (name in names) == (backends._REGISTRY[name].unavailable_reason() is None)


def test_default_backend_without_environment(fresh_state):
    expected = "cpu" if backends._REGISTRY["cpu"].unavailable_reason() is None else "numpy"
    assert fnn.get_backend() == expected


def test_set_and_get_backend(cpu_usable):
    fnn.set_backend("numpy")
    assert fnn.get_backend() == "numpy"
    assert fnn.tensor([1.0]).backend == "numpy"
    fnn.set_backend("cpu")
    assert fnn.get_backend() == "cpu"
    assert fnn.tensor([1.0]).backend == "cpu" and fnn.zeros(2).backend == "cpu"
    assert fnn.tensor([1.0], backend="numpy").backend == "numpy"


def test_use_backend_nests_and_restores(cpu_usable):
    fnn.set_backend("numpy")
    with fnn.use_backend("cpu") as b:
        assert b is cpu_usable and fnn.get_backend() == "cpu"
        with fnn.use_backend("numpy"):
            assert fnn.get_backend() == "numpy"
            assert fnn.tensor([1.0]).backend == "numpy"
        assert fnn.get_backend() == "cpu"
        with pytest.raises(ZeroDivisionError):
            with fnn.use_backend("numpy"):
                1 / 0
        assert fnn.get_backend() == "cpu"
    assert fnn.get_backend() == "numpy"


def test_use_backend_restores_the_default_when_nothing_was_set(cpu_usable):
    default = fnn.get_backend()
    backends._stack.clear()
    with fnn.use_backend("numpy"):
        assert fnn.get_backend() == "numpy"
    assert fnn.get_backend() == default


def test_set_backend_inside_use_backend_block_is_the_new_choice(cpu_usable):
    fnn.set_backend("numpy")
    with fnn.use_backend("numpy"):
        fnn.set_backend("cpu")
        assert fnn.get_backend() == "cpu"


@pytest.mark.parametrize("bad", ["tpu", "NUMPY", "", None, 3])
def test_unknown_backend_names_list_the_valid_ones(fresh_state, bad):
    for call in (lambda: fnn.set_backend(bad), lambda: fnn.use_backend(bad).__enter__(),
                 lambda: fnn.tensor([1.0], backend=bad) if bad is not None else fnn.set_backend(bad)):
        with pytest.raises(ValueError) as err:
            call()
        message = str(err.value)
        assert repr(bad) in message and "numpy" in message and "cpu" in message and "gpu" in message


def test_gpu_request_says_why_it_is_unavailable(fresh_state):
    reason = backends._REGISTRY["gpu"].unavailable_reason()
    if reason is None:
        pytest.skip("a CUDA device and the gpu kernels are available on this machine")
    fnn.set_backend("numpy")
    with pytest.raises(fnn.BackendError) as err:
        fnn.set_backend("gpu")
    message = str(err.value)
    assert "gpu" in message and reason in message
    assert any(why in message for why in ("cupy is not installed", "no CUDA device", "hot-path kernels"))
    assert fnn.get_backend() == "numpy"   # no silent switch, no partial state
    with pytest.raises(fnn.BackendError):
        fnn.use_backend("gpu").__enter__()
    with pytest.raises(fnn.BackendError):
        fnn.tensor([1.0]).to("gpu")
    assert "gpu" not in fnn.available_backends()


def test_gpu_reason_when_cupy_is_missing(fresh_state):
    real = backends.importlib.util.find_spec
    fresh_state.setattr(backends.importlib.util, "find_spec",
                        lambda name, *a: None if name == "cupy" else real(name, *a))
    with pytest.raises(fnn.BackendError, match="cupy is not installed"):
        fnn.set_backend("gpu")


def test_gpu_reason_when_no_device_answers(fresh_state):
    real = backends.importlib.util.find_spec
    fresh_state.setattr(backends.importlib.util, "find_spec",
                        lambda name, *a: object() if name == "cupy" else real(name, *a))

    def no_device():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_device))
    fresh_state.setitem(sys.modules, "cupy", fake)
    with pytest.raises(fnn.BackendError) as err:
        fnn.set_backend("gpu")
    assert "no CUDA device answers" in str(err.value) and "cudaErrorNoDevice" in str(err.value)
    fake.cuda.runtime.getDeviceCount = lambda: 0
    with pytest.raises(fnn.BackendError, match="0 devices"):
        fnn.set_backend("gpu")


def test_environment_variable_selects_the_backend(cpu_usable, monkeypatch):
    monkeypatch.setenv("FASTNN_BACKEND", "numpy")
    assert fnn.get_backend() == "numpy"
    backends._stack.clear()
    monkeypatch.setenv("FASTNN_BACKEND", "cpu")
    assert fnn.get_backend() == "cpu"
    assert fnn.tensor([1.0]).backend == "cpu"
    # an explicit choice wins over the environment
    fnn.set_backend("numpy")
    assert fnn.get_backend() == "numpy"


def test_environment_variable_with_unknown_name(fresh_state):
    fresh_state.setenv("FASTNN_BACKEND", "tpu")
    with pytest.raises(ValueError) as err:
        fnn.get_backend()
    assert "'tpu'" in str(err.value) and "numpy, cpu, gpu" in str(err.value)


def test_environment_variable_with_unavailable_backend(fresh_state):
    fresh_state.setattr(backends._REGISTRY["gpu"], "unavailable_reason", lambda: "cupy is not installed (test)")
    fresh_state.setenv("FASTNN_BACKEND", "gpu")
    with pytest.raises(fnn.BackendError, match=r"'gpu' is not available: cupy is not installed \(test\)"):
        fnn.get_backend()


def test_empty_environment_variable_means_default(fresh_state):
    fresh_state.setenv("FASTNN_BACKEND", "")
    expected = "cpu" if backends._REGISTRY["cpu"].unavailable_reason() is None else "numpy"
    assert fnn.get_backend() == expected


# ---------------------------------------------------------------------------------------------
# tensors on two backends
# ---------------------------------------------------------------------------------------------

def _on_other_backend(monkeypatch, t):
    monkeypatch.setattr(t, "_backend", backends._REGISTRY["cpu"])
    return t


def test_mixed_backends_raise_naming_both(monkeypatch):
    with fnn.use_backend("numpy"):
        a = fnn.tensor(np.ones((2, 3)))
        b = _on_other_backend(monkeypatch, fnn.tensor(np.ones((2, 3))))
        w = _on_other_backend(monkeypatch, fnn.tensor(np.ones((3, 4))))
        for op in (lambda: a + b, lambda: b * a, lambda: F.linear(a, w), lambda: fnn.stack([a, b]),
                   lambda: fnn.concatenate([a, b]), lambda: a @ w):
            with pytest.raises(ValueError) as err:
                op()
            assert "'numpy'" in str(err.value) and "'cpu'" in str(err.value)
        for op in (lambda: F.mse(a, b), lambda: F.binary_crossentropy(a, b), lambda: F.categorical_crossentropy(a, b)):
            with pytest.raises(ValueError) as err:
                op()
            assert "'numpy'" in str(err.value) and "'cpu'" in str(err.value)
        labels = _on_other_backend(monkeypatch, fnn.tensor(np.array([0, 1])))
        with pytest.raises(ValueError, match="'cpu'.*'numpy'"):
            F.sparse_categorical_crossentropy(a, labels)
        rm = _on_other_backend(monkeypatch, fnn.tensor(np.zeros(3)))
        rv = fnn.tensor(np.ones(3))
        with pytest.raises(ValueError, match="'cpu'.*'numpy'"):
            F.batch_norm(a, None, None, rm, rv, training=True)


def test_to_same_backend_round_trip_and_gradient():
    with fnn.use_backend("numpy"):
        x = fnn.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
        y = x.to("numpy")
        assert y.backend == "numpy" and y.dtype == np.float64 and y.requires_grad
        np.testing.assert_array_equal(y.numpy(), x.numpy())
        assert y.data is not x.data
        (y * np.array([1.0, 2.0, 3.0])).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0, 3.0])
        with pytest.raises(ValueError, match="valid backends"):
            x.to("tpu")


def test_to_another_backend_moves_data_and_gradient_back(cpu_usable):
    fnn.set_backend("numpy")
    x = fnn.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    y = x.to("cpu")
    assert y.backend == "cpu" and x.backend == "numpy"
    z = (y * y).sum()
    assert z.backend == "cpu"
    z.backward()
    assert x.grad.backend == "numpy"
    np.testing.assert_array_equal(x.grad.numpy(), 2 * x.numpy())
    back = y.to("numpy")
    assert back.backend == "numpy"
    np.testing.assert_array_equal(back.numpy(), x.numpy())
    with pytest.raises(ValueError, match="'numpy'.*'cpu'|'cpu'.*'numpy'"):
        x + y
    c = fnn.tensor(x, backend="cpu")   # tensor() of a tensor copies onto the requested backend
    assert c.backend == "cpu" and not c.requires_grad
