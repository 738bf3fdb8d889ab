"""The CPU runtime policy: threads and the kernel compilation cache, owned in one place.

Threads. Two thread pools do the work on a CPU: Numba's (parallel kernels) and the
BLAS library's (GEMM). They run one after the other, never nested, so both get the
same count; ``FASTNN_NUM_THREADS`` overrides the default (the cores this process may
use). :func:`set_num_threads` changes both at once. Setting only one of them, or
nesting BLAS calls inside parallel kernels, oversubscribes the cores and can make
training tens of times slower.

Cache. Numba kernels are compiled on first use and cached on disk, so later
processes load them in milliseconds. The cache lives in ``FASTNN_CACHE_DIR``
(default: ``$XDG_CACHE_HOME/fastnn/numba`` or ``~/.cache/fastnn/numba``, never
inside site-packages); ``FASTNN_CACHE=0`` turns caching off.

OpenBLAS's threads. After each multi-threaded GEMM, OpenBLAS's worker threads busy-wait
for new work for 2^28 CPU cycles (about a tenth of a second) by default. A parallel Numba
kernel that follows a GEMM, as every convolution's transforms and epilogues do, then
shares the cores with spinning threads and runs no faster than its serial twin. fastnn
therefore sets ``OPENBLAS_THREAD_TIMEOUT`` (:data:`OPENBLAS_THREAD_TIMEOUT`) when it is
imported, which OpenBLAS reads when it loads, that is when NumPy is first imported:
``import fastnn`` before NumPy (or set the variable yourself) for it to take effect;
``fastnn info`` says whether it did. The value trades the two kinds of model: measured
on the Winograd forward pass of the 64->64 32x32 batch-32 convolution and on the MLP
step at batch 128 (ms, medians of 30; bench/RESULTS.md), 2^14: 19.4 / 4.0, 2^20:
19.6 / 3.3, 2^22: 20.1 / 3.3, 2^24: 22.8-26.1 / 2.5-3.4, 2^28 (default): 33.1 / 2.9.
Short waits let the convolution's parallel transforms have the cores; too short, and
every GEMM of an MLP step wakes sleeping threads first.

Nothing here imports numba until the ``cpu`` backend is used (or :func:`info` is
called, or the warm-up, ``fastnn/precompile.py``, runs).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

from ._version import __version__

_state = {"threads": None, "applied": False}

#: OpenMP spin count fastnn sets for Numba's threads (GOMP_SPINCOUNT; see prepare_numba).
GOMP_SPINCOUNT = "1000"

#: log2 of the CPU cycles OpenBLAS's idle threads spin before they sleep (its default: 28).
OPENBLAS_THREAD_TIMEOUT = "20"


def prepare_openblas() -> None:
    """Shorten OpenBLAS's idle spin (see the module docstring) if NumPy is not loaded yet.

    Called first thing by ``import fastnn``; a value the user set wins."""
    if "OPENBLAS_THREAD_TIMEOUT" in os.environ:
        _state["openblas_timeout"] = f"{os.environ['OPENBLAS_THREAD_TIMEOUT']} (set before fastnn)"
    elif "numpy" in sys.modules:
        _state["openblas_timeout"] = ("OpenBLAS's default: NumPy was imported before fastnn (import fastnn first, "
                                      f"or set OPENBLAS_THREAD_TIMEOUT={OPENBLAS_THREAD_TIMEOUT})")
    else:
        os.environ["OPENBLAS_THREAD_TIMEOUT"] = OPENBLAS_THREAD_TIMEOUT
        _state["openblas_timeout"] = f"{OPENBLAS_THREAD_TIMEOUT} (set by fastnn)"


def openblas_timeout() -> str:
    """What governs OpenBLAS's idle spin in this process (for ``fastnn info``)."""
    return _state.get("openblas_timeout", "not prepared")


def default_num_threads() -> int:
    """Cores this process may run on (``FASTNN_NUM_THREADS`` overrides)."""
    env = os.environ.get("FASTNN_NUM_THREADS")
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ValueError(f"default_num_threads: FASTNN_NUM_THREADS must be a positive integer, "
                             f"got {env!r}") from None
        if n < 1:
            raise ValueError(f"default_num_threads: FASTNN_NUM_THREADS must be a positive integer, got {env!r}")
        return n
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


_CACHE_ON, _CACHE_OFF = ("1", "true", "yes", "on", ""), ("0", "false", "no", "off")


def cache_enabled() -> bool:
    """``FASTNN_CACHE``: on unless 0/false/no/off; any other word than these and
    1/true/yes/on is an error, not silently taken for "on"."""
    value = os.environ.get("FASTNN_CACHE", "1").strip().lower()
    if value not in _CACHE_ON and value not in _CACHE_OFF:
        raise ValueError(f"cache_enabled: FASTNN_CACHE must be one of 1, true, yes, on, 0, false, no, off, "
                         f"got {os.environ['FASTNN_CACHE']!r}")
    return value not in _CACHE_OFF


def cache_dir() -> Path:
    """Where compiled kernels are cached (see the module docstring)."""
    env = os.environ.get("FASTNN_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fastnn" / "numba"


def kernel_cache_dir() -> Path:
    """The directory Numba caches cpu kernels in: :func:`cache_dir` / a hash of the kernel
    sources. Numba invalidates a cached kernel when its own file changes but not when a
    helper it inlines from another module does; keying the directory by every kernel
    source file makes any change (an upgrade, an edit) start from a clean cache."""
    import hashlib
    import importlib.util

    spec = importlib.util.find_spec("fastnn.kernels.cpu")
    digest = hashlib.sha256()
    for location in spec.submodule_search_locations or ():
        for path in sorted(Path(location).glob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return cache_dir() / digest.hexdigest()[:16]


def prepare_numba(numba_config) -> None:
    """Apply the cache and threading-layer policy to ``numba.config``, right after numba is
    imported and before any kernel is defined; a user's own ``NUMBA_CACHE_DIR``,
    ``NUMBA_THREADING_LAYER`` or ``GOMP_SPINCOUNT`` wins. The cache directory is not put
    into the environment, so a child process applies its own ``FASTNN_*`` settings.

    The threading layer (measured in bench/RESULTS.md, "threading layer"): by default
    OpenMP threads spin for a long while after a kernel, taking the cores the next BLAS
    call needs (an MLP step ran 15x slower). With a short spin (``GOMP_SPINCOUNT``, read
    by the OpenMP runtime when it loads) they park at once and a threaded kernel starts in
    a few microseconds, so fastnn uses OpenMP that way. Where an OpenMP runtime is already
    loaded (another library started it) the spin count can no longer be set; then the
    ``workqueue`` layer, whose threads always park but take ~0.1 ms to wake, is used.
    """
    if cache_enabled() and not os.environ.get("NUMBA_CACHE_DIR"):
        numba_config.CACHE_DIR = str(kernel_cache_dir())
    if os.environ.get("NUMBA_THREADING_LAYER"):
        return
    if _openmp_loaded() and "GOMP_SPINCOUNT" not in os.environ:
        numba_config.THREADING_LAYER = "workqueue"
    else:
        os.environ.setdefault("GOMP_SPINCOUNT", GOMP_SPINCOUNT)
        numba_config.THREADING_LAYER = "omp"


def _openmp_loaded() -> bool:
    """Whether an OpenMP runtime is already mapped into this process (Linux; else False)."""
    try:
        with open("/proc/self/maps") as maps:
            return any(("libgomp" in line or "libiomp" in line or "libomp" in line) for line in maps)
    except OSError:
        return False


def get_num_threads() -> int:
    """Threads the cpu backend uses for its kernels and for BLAS."""
    return _state["threads"] or default_num_threads()


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for both Numba kernels and BLAS (applied now if numba is loaded).
    ``n`` is an int >= 1: a TypeError for a float, a string or a bool, a ValueError below 1."""
    from .arguments import integer

    n = integer(n, "set_num_threads", "n", low=1)
    _state["threads"] = n
    if _state["applied"]:
        _apply(n)


def apply_thread_policy() -> None:
    """Called by the cpu kernels on import: set both pools to :func:`get_num_threads`."""
    _state["applied"] = True
    _apply(get_num_threads())


def _apply(n: int) -> None:
    import numba

    n_numba = min(n, numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(n_numba)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n, user_api="blas")


def blas_info() -> list[dict]:
    from threadpoolctl import threadpool_info

    return [i for i in threadpool_info() if i.get("user_api") == "blas"]


def info() -> str:
    """A report of the cpu runtime: versions, threads, BLAS, cache (``fastnn info``)."""
    import numpy

    from . import backend

    lines = [f"fastnn {_version()}  python {sys.version.split()[0]}  numpy {numpy.__version__}"]
    lines.append(f"backends available: {', '.join(backend.available_backends())}"
                 f"  (default: {backend.default_backend()})")
    for name in ("cpu", "gpu"):
        candidate = backend.named(name)
        reason = candidate.unavailable_reason()
        if reason:
            lines.append(f"  {name}: unavailable: {reason}")
        elif not candidate.host_memory:
            lines.append(gpu_info())
    try:
        import numba
    except ImportError:
        lines.append("numba: not installed")
    else:
        importlib.import_module("fastnn.kernels.cpu._jit")  # applies the cache and thread policy

        layer = _threading_layer()
        lines.append(f"numba {numba.__version__}  threading layer: {layer}"
                     f"  threads: {numba.get_num_threads()} of {numba.config.NUMBA_NUM_THREADS}")
    lines.append(f"FASTNN_NUM_THREADS: {os.environ.get('FASTNN_NUM_THREADS', '(unset)')}"
                 f"  -> {get_num_threads()} threads")
    blas = blas_info()
    if not blas:
        lines.append("BLAS: none loaded that threadpoolctl recognises")
    for b in blas:
        lines.append(f"BLAS: {b.get('internal_api')} {b.get('version')}  architecture: {b.get('architecture')}"
                     f"  threads: {b.get('num_threads')}  threading: {b.get('threading_layer')}")
        lines.append(f"  library: {b.get('filepath')}")
    lines.append(f"OPENBLAS_THREAD_TIMEOUT: {openblas_timeout()}")
    state = "on" if cache_enabled() else "off (FASTNN_CACHE=0)"
    where = numba.config.CACHE_DIR if "numba" in sys.modules else kernel_cache_dir()
    lines.append(f"kernel cache: {state}  directory: {where or '(beside the sources)'}")
    return "\n".join(lines)


def gpu_info() -> str:
    """The CUDA device the gpu backend uses: name, compute capability, memory, CuPy and CUDA versions."""
    import cupy

    device = cupy.cuda.Device()
    props = cupy.cuda.runtime.getDeviceProperties(device.id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    runtime_version = cupy.cuda.runtime.runtimeGetVersion()
    return (f"GPU {device.id}: {name}  compute capability {props['major']}.{props['minor']}  "
            f"memory {props['totalGlobalMem'] / 2**30:.1f} GiB  cupy {cupy.__version__}  "
            f"CUDA runtime {runtime_version // 1000}.{runtime_version % 1000 // 10}")


def _threading_layer() -> str:
    import numba
    import numpy as np

    from fastnn.kernels.cpu import _jit

    _jit.touch_parallel(np.zeros(4))  # the layer is chosen when a parallel kernel first runs
    try:
        return numba.threading_layer()
    except ValueError:
        return "not initialised"


def _version() -> str:
    return __version__
