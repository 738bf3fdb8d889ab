"""The backends a test runs on, and the skip for one that cannot run here.

``cpu`` must run wherever the tests run (numba is a requirement), so only ``gpu``
skips, with the reason, where no CUDA device answers.
"""

import pytest

from fastnn import backend as backends

BACKENDS = ["numpy", "cpu", pytest.param("gpu", marks=pytest.mark.gpu)]


def require(backend):
    """The Backend object, or a skip with the reason for gpu where no CUDA device answers."""
    reason = backends._REGISTRY[backend].unavailable_reason()
    if backend == "gpu" and reason:
        pytest.skip(f"gpu backend unavailable here: {reason}")
    return backends.get(backend)
