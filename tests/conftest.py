"""Shared fixtures, and suite-wide reporting: every run ends with the backends available
here and the kernels each backend runs through the reference implementation (the pinned
fallback list of tests/test_kernel_registry.py), so CI logs show both."""

import pytest

import fastnn as fnn
from fastnn import backend as backends


@pytest.fixture
def numpy_backend_and_rng_restored():
    """Run a test on the numpy backend and put fastnn's random state back afterwards, so
    tests that draw numbers neither depend on nor shift the draws of the others."""
    state = fnn.get_rng_state()
    with fnn.use_backend("numpy"):
        yield
    fnn.set_rng_state(state)


def pytest_terminal_summary(terminalreporter):
    terminalreporter.section("fastnn backends")
    terminalreporter.write_line(f"available here: {', '.join(backends.available_backends())}")
    for name in backends.NAMES:
        reason = backends._REGISTRY[name].unavailable_reason() if name != "numpy" else None
        fallbacks = backends.fallbacks(name)
        terminalreporter.write_line(f"{name}: falls back to the reference for "
                                    f"{', '.join(fallbacks) if fallbacks else 'nothing'}"
                                    + (f" (unavailable: {reason})" if reason else ""))
