"""Backend registry: which arrays and which kernels an op runs on.

Three backends exist (DESIGN.md): ``numpy`` (reference kernels, always there),
``cpu`` (Numba kernels) and ``gpu`` (CuPy kernels). Each Tensor records its
backend; an op looks its kernels up by name through that backend, so layers
never branch on the backend.

Kernel resolution: a backend's own kernel if its package provides it; else,
for kernels outside the hot paths, the reference kernel (a *fallback*, listed
by :func:`fallbacks` and pinned by a test); a backend missing a hot-path kernel
is unavailable and says so. Nothing here imports numba or cupy until a backend
needs them.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os

from .kernels.contract import HOT_PATHS, KERNELS

NAMES = ("numpy", "cpu", "gpu")
_PACKAGES = {"numpy": "reference", "cpu": "cpu", "gpu": "gpu"}


class BackendError(RuntimeError):
    """A backend was asked for that cannot run here; the message says why."""


class Backend:
    """One backend: its array module, its kernels and whether it can run here."""

    def __init__(self, name: str):
        self.name = name
        self._package = f"{__package__}.kernels.{_PACKAGES[name]}"
        self._resolved: dict = {}
        self.k = _KernelNamespace(self)

    def __repr__(self):
        return f"Backend({self.name!r})"

    # -- kernels -----------------------------------------------------------
    @property
    def provides(self) -> dict:
        return importlib.import_module(self._package).PROVIDES

    def missing_hot_paths(self) -> list[str]:
        return sorted(HOT_PATHS - set(self.provides))

    def fallbacks(self) -> list[str]:
        """Kernels of the contract this backend runs through the reference implementation."""
        return sorted(set(KERNELS) - set(self.provides) - HOT_PATHS)

    def kernel(self, name: str):
        fn = self._resolved.get(name)
        if fn is not None:
            return fn
        if name not in KERNELS:
            raise KeyError(f"unknown kernel {name!r}; the contract lists: {', '.join(KERNELS)}")
        module = self.provides.get(name)
        if module is not None:
            fn = getattr(importlib.import_module(f"{self._package}.{module}"), name)
        elif name in HOT_PATHS:
            raise BackendError(f"backend {self.name!r} lacks the hot-path kernel {name!r} and may not fall back")
        else:
            fn = get("numpy").kernel(name)
        self._resolved[name] = fn
        return fn

    # -- availability ------------------------------------------------------
    def unavailable_reason(self) -> str | None:
        """None when this backend can run here, else a sentence saying why not."""
        if self.name == "cpu" and importlib.util.find_spec("numba") is None:
            return "numba is not installed (pip install numba)"
        if self.name == "gpu":
            reason = _cuda_unavailable_reason()
            if reason:
                return reason
        missing = self.missing_hot_paths()
        if missing:
            return (f"the {self.name!r} backend does not implement these hot-path kernels yet: "
                    f"{', '.join(missing)}")
        return None

    # -- arrays ------------------------------------------------------------
    @property
    def xp(self):
        """The array module: numpy, or cupy for the gpu backend."""
        if self.name == "gpu":
            import cupy

            return cupy
        import numpy

        return numpy

    def asarray(self, data, dtype=None):
        return self.xp.asarray(data, dtype=dtype)

    def contiguous(self, array):
        """C-contiguous ``array`` (no copy when it already is; 0-d arrays stay 0-d)."""
        if array.flags.c_contiguous:
            return array
        return self.xp.ascontiguousarray(array)

    def to_numpy(self, array):
        if self.name == "gpu":
            return array.get()
        return array

    def add_at(self, target, index, values):
        """target[index] += values with repeated indices accumulating."""
        if self.name == "gpu":
            import cupy

            cupy.add.at(target, index, values)
        else:
            self.xp.add.at(target, index, values)

    def synchronize(self):
        if self.name == "gpu":
            import cupy

            cupy.cuda.get_current_stream().synchronize()


class _KernelNamespace:
    """``backend.k.linear_fwd(...)``: kernels by attribute, resolved once."""

    def __init__(self, backend: Backend):
        self._backend = backend

    def __getattr__(self, name):
        return self._backend.kernel(name)


def _cuda_unavailable_reason() -> str | None:
    if importlib.util.find_spec("cupy") is None:
        return "cupy is not installed (pip install 'fastnn[gpu]', or cupy-cuda12x for CUDA 12)"
    try:
        import cupy

        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # any CUDA driver/runtime failure means: no usable device
        return f"no CUDA device answers ({type(exc).__name__}: {exc})"
    if count < 1:
        return "no CUDA device answers (cupy sees 0 devices)"
    return None


_REGISTRY = {name: Backend(name) for name in NAMES}
_stack: list[str] = []  # set_backend / use_backend choices, innermost last


def _check_name(name) -> str:
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"unknown backend {name!r}; valid backends are {', '.join(NAMES)}")
    return name


def get(name: str) -> Backend:
    """The Backend called ``name``, raising BackendError with the reason if it cannot run here."""
    backend = _REGISTRY[_check_name(name)]
    if name != "numpy":
        reason = backend.unavailable_reason()
        if reason:
            raise BackendError(f"backend {name!r} is not available: {reason}")
    return backend


def available_backends() -> list[str]:
    """Names of the backends that can run on this machine."""
    return [name for name in NAMES if name == "numpy" or _REGISTRY[name].unavailable_reason() is None]


def default_backend() -> str:
    """FASTNN_BACKEND if set, else ``cpu`` where it is available, else ``numpy``."""
    env = os.environ.get("FASTNN_BACKEND")
    if env:
        get(env)  # a bad or unavailable name in the environment is an error, not a silent fallback
        return env
    return "cpu" if _REGISTRY["cpu"].unavailable_reason() is None else "numpy"


def set_backend(name: str) -> None:
    """Make ``name`` the backend for new tensors and models."""
    get(name)
    _stack[:] = [name]


def get_backend() -> str:
    """The name of the current backend."""
    if not _stack:
        _stack.append(default_backend())
    return _stack[-1]


def current() -> Backend:
    return _REGISTRY[get_backend()]


@contextlib.contextmanager
def use_backend(name: str):
    """``with fnn.use_backend("gpu"): ...`` selects a backend for the block."""
    get(name)
    get_backend()  # resolve the default first so leaving the block restores it
    _stack.append(name)
    try:
        yield _REGISTRY[name]
    finally:
        _stack.pop()


def fallbacks(name: str) -> list[str]:
    """Kernels that backend ``name`` runs through the reference implementation."""
    return _REGISTRY[_check_name(name)].fallbacks()


def resolve(backend) -> Backend:
    """A Backend from a name, a Backend or None (the current one)."""
    if backend is None:
        return current()
    if isinstance(backend, Backend):
        return backend
    return get(backend)
