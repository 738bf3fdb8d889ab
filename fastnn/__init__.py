"""fastnn: deep learning as easy as Keras, as readable as a textbook, with compiled kernels.

    import fastnn as fnn
    import fastnn.functional as F

Nothing here imports numba or cupy; a backend loads them when it first runs a kernel.
"""

from . import functional, init, layers, optim, regularizers, testing
from .backend import BackendError, available_backends, get_backend, set_backend, use_backend
from .grad_mode import enable_grad, is_grad_enabled, no_grad
from .models import Model, Sequential
from .random import get_rng_state, manual_seed, set_rng_state
from .runtime import get_num_threads, set_num_threads, warmup
from .tensor import Tensor, tensor
from .creation import (concatenate, from_dlpack, ones, ones_like, rand, randn, stack, unstack, where, zeros,
                       zeros_like)

__version__ = "0.1.0"

__all__ = [
    "BackendError", "Model", "Sequential", "Tensor", "available_backends", "concatenate", "enable_grad",
    "from_dlpack", "functional", "get_backend", "get_num_threads", "get_rng_state", "init", "is_grad_enabled", "layers", "manual_seed", "no_grad",
    "ones", "ones_like", "optim", "rand", "regularizers", "randn", "set_backend", "set_num_threads", "set_rng_state", "stack", "tensor", "testing", "unstack",
    "use_backend", "warmup", "where", "zeros", "zeros_like",
]
