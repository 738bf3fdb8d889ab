"""Shared fixtures, and suite-wide reporting: every run ends with the backends available
here and the kernels each backend runs through the reference implementation (the pinned
fallback list of tests/test_kernel_registry.py), so CI logs show both."""

import pytest

import fastnn as fnn
from fastnn import backend as backends


@pytest.fixture
def rng_restored():
    """Put fastnn's global random state back after the test (fit shuffles from it, dropout
    draws from it, load_model sets it), so tests neither depend on nor shift each other's draws."""
    state = fnn.get_rng_state()
    yield
    fnn.set_rng_state(state)


@pytest.fixture
def numpy_backend_and_rng_restored(rng_restored):
    """Run a test on the numpy backend, with fastnn's random state put back afterwards."""
    with fnn.use_backend("numpy"):
        yield


@pytest.fixture
def world_alone(monkeypatch):
    """fastnn.distributed's world of one process, as a script started without mpiexec gets."""
    from fastnn import distributed

    for name in distributed.LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(distributed, "_world", None)
    return distributed.init()


def pytest_terminal_summary(terminalreporter):
    terminalreporter.section("fastnn backends")
    terminalreporter.write_line(f"available here: {', '.join(backends.available_backends())}")
    for name in backends.NAMES:
        reason = backends._REGISTRY[name].unavailable_reason() if name != "numpy" else None
        fallbacks = backends.fallbacks(name)
        terminalreporter.write_line(f"{name}: falls back to the reference for "
                                    f"{', '.join(fallbacks) if fallbacks else 'nothing'}"
                                    + (f" (unavailable: {reason})" if reason else ""))
