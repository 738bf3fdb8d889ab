"""fastnn: deep learning as easy as Keras, as readable as a textbook, with compiled kernels.

    import fastnn as fnn
    import fastnn.functional as F

Nothing here imports numba or cupy; a backend loads them when it first runs a kernel.
The modules with optional or heavier dependencies (``plot``: matplotlib; ``io``:
safetensors; ``onnx``: the onnx package; ``distributed``: mpi4py, under an MPI launcher)
and ``datasets`` (the digits and diabetes tables ship inside fastnn) load on first use:
``fnn.datasets``, ``fnn.plot`` and ``fnn.load_model`` work without importing them here.
"""

from . import runtime as _runtime

_runtime.prepare_openblas()  # before anything below imports NumPy (and with it OpenBLAS)

import importlib  # noqa: E402

from . import callbacks, data, functional, init, layers, losses, metrics, optim, regularizers, testing
from .data import DataLoader
from .backend import BackendError, available_backends, get_backend, set_backend, use_backend
from .grad_mode import enable_grad, is_grad_enabled, no_grad
from .models import Model, Sequential
from .random import get_rng_state, manual_seed, set_rng_state
from .precompile import warmup
from .runtime import get_num_threads, set_num_threads
from .tensor import Tensor, tensor
from .creation import (concatenate, from_dlpack, ones, ones_like, rand, randn, stack, unstack, where, zeros,
                       zeros_like)

from ._version import __version__

_LAZY_MODULES = ("datasets", "plot", "io", "tensorboard", "zoo", "benchmark", "viz", "diagnostics", "similarity",
                 "distributed", "onnx")


def __getattr__(name):
    # ``fnn.datasets`` / ``fnn.plot`` / ``fnn.io`` / ``fnn.zoo`` ...: imported the first time they are used.
    if name in _LAZY_MODULES:
        try:
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise  # the module exists but a dependency of it is missing: say which
    raise AttributeError(f"module 'fastnn' has no attribute {name!r}")


def load_model(path, backend=None, custom_objects=None, **kwargs):
    """Rebuild a model saved with ``model.save(path)`` (see ``fastnn.io.load_model``)."""
    from .io import load_model as _load_model

    return _load_model(path, backend=backend, custom_objects=custom_objects, **kwargs)

__all__ = [
    "DataLoader", "callbacks", "data", "datasets", "load_model", "losses", "metrics", "plot",
    "BackendError", "Model", "Sequential", "Tensor", "available_backends", "concatenate", "enable_grad",
    "from_dlpack", "functional", "get_backend", "get_num_threads", "get_rng_state", "init", "is_grad_enabled", "layers", "manual_seed", "no_grad",
    "ones", "ones_like", "optim", "rand", "regularizers", "randn", "set_backend", "set_num_threads", "set_rng_state", "stack", "tensor", "testing", "unstack",
    "use_backend", "warmup", "where", "zeros", "zeros_like",
]
