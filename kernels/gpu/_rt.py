"""Compiling and launching the gpu backend's kernels (cupy is imported on first use).

Modules are compiled on first use, once per (source, dtype), by NVRTC through
``cupy.RawModule`` (CuPy keeps the binaries in its on-disk kernel cache, so later
processes load them without compiling). Launch wrappers convert Python scalars to
the exact C types of the kernel once per call and never synchronise.
"""

from __future__ import annotations

import numpy as np
from ._lazy import cupy

from . import sources

BLOCK = 256
_modules: dict = {}
_functions: dict = {}
_ones: dict = {}
_SCALAR = {"S": None, "i32": np.int32, "i64": np.int64, "u32": np.uint32, "u64": np.uint64}


_NAMES = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}


def _dtype_name(dtype) -> str:
    name = _NAMES.get(dtype)  # a dict lookup: numpy's dtype.name is slow Python
    if name is None:
        name = np.dtype(dtype).name
        if name not in sources.REAL:
            raise TypeError(f"gpu kernels take float32 or float64 arrays, got {name}")
    return name


def _module(key, dtype):
    mod = _modules.get((key, dtype))
    if mod is None:
        kind, name = key
        if kind == "ew":
            code = sources.render_group(name, dtype)
        else:
            code = sources.cu_source(name, dtype)
        mod = cupy.RawModule(code=code, options=("--std=c++14",))
        _modules[(key, dtype)] = mod
    return mod


def cu(filename: str, kernel: str, dtype):
    """A kernel of a CUDA file, compiled for ``dtype``."""
    dt = _dtype_name(dtype)
    fn = _functions.get((kernel, dt))
    if fn is None:
        fn = _module(("cu", filename), dt).get_function(kernel)
        _functions[(kernel, dt)] = fn
    return fn


class _Elementwise:
    """A launcher for one elementwise definition in one dtype."""

    def __init__(self, name, dtype):
        group, definition = sources.ELEMENTWISE_BY_NAME[name]
        self.fn = _module(("ew", group), dtype).get_function(name)
        real = np.dtype(dtype).type
        self.convert = [(_SCALAR[t] or real) if t in _SCALAR else None for _, _, t, _ in definition.params()]
        # positions of the scalar parameters (the arrays pass through untouched)
        self.scalars = tuple((i, c) for i, c in enumerate(self.convert) if c is not None)
        self.per_block = BLOCK * sources.UNROLL
        self.block = (BLOCK,)

    def __call__(self, n, *args):
        if n == 0:
            return
        converted = list(args)
        for i, c in self.scalars:
            converted[i] = c(converted[i])
        converted.append(np.int64(n))
        blocks = (n + self.per_block - 1) // self.per_block
        self.fn((blocks if blocks < 2**31 else 2**31 - 1,), self.block, converted)


def elementwise(name: str, dtype) -> _Elementwise:
    dt = _dtype_name(dtype)
    k = _functions.get((name, dt))
    if k is None:
        k = _functions[(name, dt)] = _Elementwise(name, dt)
    return k


_reductions: dict = {}


def reduction(name: str):
    k = _reductions.get(name)
    if k is None:
        r = sources.REDUCTIONS[name]
        k = _reductions[name] = cupy.ReductionKernel(r.in_params, r.out_params, r.map_expr, r.reduce_expr,
                                                     r.post_map_expr, r.identity, r.name)
    return k


def grid(n: int, block: int = BLOCK) -> int:
    return max(1, min((n + block - 1) // block, 2**31 - 1))


def launch(fn, n_threads: int, args, block: int = BLOCK):
    fn((grid(n_threads, block),), (block,), args)


def ones(n: int, dtype):
    """A cached device vector of ones (for sums through cuBLAS); never written."""
    key = (n, np.dtype(dtype).char, cupy.cuda.runtime.getDevice())
    v = _ones.get(key)
    if v is None:
        v = _ones[key] = cupy.ones(n, dtype=dtype)
    return v


_sm_count: dict = {}


def sm_count() -> int:
    dev = cupy.cuda.runtime.getDevice()
    n = _sm_count.get(dev)
    if n is None:
        n = _sm_count[dev] = cupy.cuda.runtime.getDeviceProperties(dev)["multiProcessorCount"]
    return n

