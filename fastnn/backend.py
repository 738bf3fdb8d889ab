"""Backends: which arrays and which kernels an op runs on.

Three backends exist: ``numpy`` (the ``Backend`` class itself: reference kernels,
always there), ``cpu`` (``CpuBackend``, a subclass: Numba kernels on the same NumPy
arrays) and ``gpu`` (``GpuBackend``: CuPy arrays and kernels). Each Tensor holds its
backend object; an op looks its kernels up by name through it, and asks it, not its
name, about memory and the array module, so no code outside this module and the
kernel packages branches on the backend.

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

import numpy

from .kernels.contract import HOT_PATHS, KERNELS


class BackendError(RuntimeError):
    """A backend was asked for that cannot run here; the message says why."""


class Backend:
    """A backend: its array module, where its arrays live, its kernels, whether it runs here.

    This class is the reference backend (``numpy``: NumPy arrays, the kernels of
    ``kernels/reference``). ``CpuBackend`` is a subclass that swaps the kernel package
    (Numba); ``GpuBackend`` also swaps the array module and memory (CuPy). Code outside
    this module and ``kernels/`` asks a backend object what it needs (``xp``,
    ``host_memory``, ``owns``, ``to_numpy``, ``synchronize``, the capability flags) and
    never compares backend names or array modules: a fourth backend is a subclass here.
    """

    name = "numpy"
    _kernel_package = "reference"
    #: Arrays live in host memory (NumPy arrays): reading one costs no transfer and no sync.
    host_memory = True
    #: Checks on array values (label ranges) are queued and settled at the next point
    #: results are read (``ops/checks.py``), so a step does not wait on the device per
    #: check; its kernels record what the check needs (``ops/losses.py``) in the word
    #: ``label_recorder()`` gives.
    deferred_checks = False
    #: The reference runs wherever fastnn imports; the others are checked (``get``).
    always_available = True

    def __init__(self):
        self._package = f"{__package__}.kernels.{self._kernel_package}"
        self._resolved: dict = {}
        self._known_available = False
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
        """None when this backend can run here, else a sentence saying why not (checked
        afresh on every call; ``get`` remembers a success)."""
        reason = self._runtime_missing()
        if reason:
            return reason
        missing = self.missing_hot_paths()
        if missing:
            return (f"the {self.name!r} backend does not implement these hot-path kernels yet: "
                    f"{', '.join(missing)}")
        return None

    def _runtime_missing(self) -> str | None:
        """Why the array module or kernel compiler is missing here, or None."""
        return None

    # -- arrays ------------------------------------------------------------
    @property
    def xp(self):
        """The array module."""
        return numpy

    def owns(self, array) -> bool:
        """Whether ``array`` is an array of this backend's kind of memory."""
        return isinstance(array, numpy.ndarray)

    def asarray(self, data, dtype=None):
        return self.xp.asarray(data, dtype=dtype)

    def contiguous(self, array):
        """C-contiguous ``array`` (no copy when it already is; 0-d arrays stay 0-d)."""
        if array.flags.c_contiguous:
            return array
        return self.xp.ascontiguousarray(array)

    def to_numpy(self, array):
        """A host (NumPy) array of ``array``, which this backend owns."""
        return array

    def add_at(self, target, index, values):
        """target[index] += values with repeated indices accumulating."""
        self.xp.add.at(target, index, values)

    def synchronize(self):
        """Wait until the work queued on this backend is done (host backends: nothing)."""


class CpuBackend(Backend):
    """NumPy arrays, Numba kernels (``kernels/cpu``)."""

    name = "cpu"
    _kernel_package = "cpu"
    always_available = False

    def _runtime_missing(self):
        if importlib.util.find_spec("numba") is None:
            return "numba is not installed (pip install numba)"
        return None


class GpuBackend(Backend):
    """CuPy arrays in CUDA device memory, CuPy kernels (``kernels/gpu``)."""

    name = "gpu"
    _kernel_package = "gpu"
    host_memory = False
    deferred_checks = True
    always_available = False

    def _runtime_missing(self):
        return _cuda_unavailable_reason()

    def label_recorder(self):
        """The current device's word where the sparse cross-entropy kernel records a row
        whose label is out of range (``deferred_checks``; read at the next check point)."""
        from .kernels.gpu.softmax import bad_label_rows

        return bad_label_rows()

    @property
    def xp(self):
        import cupy

        return cupy

    def owns(self, array) -> bool:
        return _is_device_array(array)

    def to_numpy(self, array):
        return array.get()

    def add_at(self, target, index, values):
        import cupy

        cupy.add.at(target, index, values)

    def synchronize(self):
        import cupy

        cupy.cuda.get_current_stream().synchronize()


def _is_device_array(array) -> bool:
    # By module name, so that asking never imports cupy.
    return type(array).__module__.startswith("cupy")


def of_array(array) -> Backend:
    """The backend whose kind of memory holds ``array``: ``gpu`` for a CuPy array, the
    reference (``numpy``) for anything else. Host arrays are shared by numpy and cpu;
    use it for ``host_memory``, ``xp`` and ``to_numpy``, not to pick kernels."""
    return _REGISTRY["gpu"] if _is_device_array(array) else _REGISTRY["numpy"]


def is_array(obj) -> bool:
    """Whether ``obj`` is an array of some backend (a NumPy or a CuPy array)."""
    return isinstance(obj, numpy.ndarray) or _is_device_array(obj)


def to_host(array):
    """``array`` as a NumPy array: a device array copied to the host, anything else through
    ``numpy.asarray``."""
    return array.get() if _is_device_array(array) else numpy.asarray(array)


class _KernelNamespace:
    """``backend.k.linear_fwd(...)``: kernels by attribute, resolved once."""

    def __init__(self, backend: Backend):
        self._backend = backend

    def __getattr__(self, name):
        # Called only for a name not resolved yet: the kernel is then kept as an attribute,
        # so later lookups are plain attribute reads.
        fn = self._backend.kernel(name)
        setattr(self, name, fn)
        return fn


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


_REGISTRY = {backend.name: backend for backend in (Backend(), CpuBackend(), GpuBackend())}
NAMES = tuple(_REGISTRY)   # ("numpy", "cpu", "gpu")
_stack: list[str] = []  # set_backend / use_backend choices, innermost last


def _check_name(name) -> str:
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"unknown backend {name!r}; valid backends are {', '.join(NAMES)}")
    return name


def get(name) -> Backend:
    """The Backend called ``name`` (or the Backend given), raising BackendError with the
    reason if it cannot run here.

    A backend found available stays so for the process (installed packages and devices do
    not vanish under a running program), so the check, a package lookup on disk, runs once
    and not on every tensor made with ``backend="cpu"``."""
    if isinstance(name, Backend):
        name = name.name
    backend = _REGISTRY.get(name) if isinstance(name, str) else None
    if backend is not None and (backend.always_available or backend._known_available):
        return backend
    backend = named(name)
    reason = backend.unavailable_reason()
    if reason:
        raise BackendError(f"backend {name!r} is not available: {reason}")
    backend._known_available = True
    return backend


def available_backends() -> list[str]:
    """Names of the backends that can run on this machine."""
    return [name for name, backend in _REGISTRY.items()
            if backend.always_available or backend.unavailable_reason() is None]


def named(name: str) -> Backend:
    """The Backend called ``name``, whether or not it can run here (``get`` checks)."""
    return _REGISTRY[_check_name(name)]


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
