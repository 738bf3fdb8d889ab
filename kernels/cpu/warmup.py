"""The settings under which the cpu kernels compile distinct builds, for the warm-up
(``fastnn.precompile``), which runs the case table under each of them.

Every kernel compiles a threaded and a serial build (``_jit.dual`` picks one by size);
below ``activations.NUMPY_BELOW`` elements some activations run NumPy's expression
instead of a kernel; and the convolution picks an algorithm per shape (``conv.FORCED``
overrides the rule). The warm-up's small inputs alone would reach only the serial
builds, the NumPy expressions and one algorithm a shape; each setting below sends them
down another path.
"""

from __future__ import annotations

import contextlib

from . import _jit, activations, conv


def settings(convolution: bool) -> list:
    """Context managers, one per setting a case-table row runs under: the threaded and the
    serial builds, with the compiled kernels at every size, and for a row that
    convolves, each convolution algorithm."""
    algorithms = conv.ALGORITHMS if convolution else (None,)
    return [_setting(threaded, algorithm) for threaded in (True, False) for algorithm in algorithms]


@contextlib.contextmanager
def _setting(threaded: bool, algorithm):
    saved = _jit.PARALLEL_MIN, activations.NUMPY_BELOW, conv.FORCED
    _jit.PARALLEL_MIN = 0 if threaded else 1 << 62
    activations.NUMPY_BELOW = 0
    if algorithm is not None:
        conv.FORCED = algorithm
    try:
        yield
    finally:
        _jit.PARALLEL_MIN, activations.NUMPY_BELOW, conv.FORCED = saved
