"""Whether ops record the graph: ``with fnn.no_grad(): ...`` turns recording off."""

import contextlib
import threading

_state = threading.local()


def is_grad_enabled() -> bool:
    return getattr(_state, "enabled", True)


@contextlib.contextmanager
def _grad_enabled(flag: bool):
    previous = is_grad_enabled()
    _state.enabled = flag
    try:
        yield
    finally:
        _state.enabled = previous


def no_grad():
    """Context manager: ops inside record no graph and their results need no gradient."""
    return _grad_enabled(False)


def enable_grad():
    """Context manager: turn recording back on inside a ``no_grad`` block."""
    return _grad_enabled(True)
