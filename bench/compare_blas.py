"""sgemm on fastnn's own GEMM shapes, one BLAS per process: is another BLAS worth a dependency?

    python bench/compare_blas.py [--impls numpy mkl blis torch] [--threads 2] [--rounds 15]

Each implementation runs in its own child process (two BLAS thread pools in one process
spin against each other on two cores), one after the other; the figure is the median over
rounds of ms per GEMM, C = A @ B, float32, row-major, with the output written in place:

* ``numpy``: NumPy's own BLAS (the OpenBLAS its wheels bundle), ``np.matmul(a, b, out=c)``;
* ``mkl``: Intel MKL from the ``mkl`` wheel (``pip install mkl``), ``cblas_sgemm`` of
  ``libmkl_rt`` through ctypes;
* ``blis``: the ``blis`` wheel (``pip install blis``), ``blis.py.gemm``;
* ``torch``: ``torch.mm`` (PyTorch's BLAS; a comparison only).

An implementation that does not import is reported and skipped. The shapes are the GEMMs
of the benchmark workloads (bench/workloads.py): the MLP's forward and gradient products,
the CNN's second convolution as im2col GEMMs, one Winograd transform point of the 64->64
convolution and the dense op row. Results: bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import json
import os
import statistics
import subprocess
import sys
import time

#: (name, M, K, N): C (M x N) = A (M x K) @ B (K x N)
SHAPES = [
    ("mlp fwd 128x784x512", 128, 784, 512),
    ("mlp fwd 128x512x256", 128, 512, 256),
    ("mlp gW 784x128x512", 784, 128, 512),
    ("mlp gx 128x256x512", 128, 256, 512),
    ("mlp fwd 1024x784x512", 1024, 784, 512),
    ("cnn conv2 fwd 64x288x12544", 64, 288, 12544),
    ("cnn conv2 gW 288x12544x64", 288, 12544, 64),
    ("cnn conv2 gcols 288x64x12544", 288, 64, 12544),
    ("winograd point 2048x64x64", 2048, 64, 64),
    ("dense 256x1024x1024", 256, 1024, 1024),
]
IMPLS = ("numpy", "mkl", "blis", "torch")


def _gemm(impl, threads):
    """A function gemm(a, b, c) writing a @ b into c, for ``impl``."""
    import numpy as np

    if impl == "numpy":
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
        return lambda a, b, c: np.matmul(a, b, out=c)
    if impl == "mkl":
        found = glob.glob(os.path.join(sys.prefix, "lib", "libmkl_rt.so*"))
        if not found:
            raise ImportError("libmkl_rt not found under sys.prefix (pip install mkl)")
        lib = ctypes.CDLL(found[0])
        lib.MKL_Set_Num_Threads(threads)
        sgemm = lib.cblas_sgemm
        pointer = ctypes.c_void_p
        sgemm.argtypes = [ctypes.c_int] * 6 + [ctypes.c_float, pointer, ctypes.c_int, pointer, ctypes.c_int,
                                               ctypes.c_float, pointer, ctypes.c_int]
        row_major, no_trans = 101, 111

        def gemm(a, b, c):
            m, k = a.shape
            n = b.shape[1]
            sgemm(row_major, no_trans, no_trans, m, n, k, 1.0, a.ctypes.data, k, b.ctypes.data, n, 0.0,
                  c.ctypes.data, n)
        return gemm
    if impl == "blis":
        os.environ.setdefault("BLIS_NUM_THREADS", str(threads))
        from blis.py import gemm as blis_gemm

        return lambda a, b, c: blis_gemm(a, b, out=c, alpha=1.0, beta=0.0)
    if impl == "torch":
        import torch

        torch.set_num_threads(threads)
        return lambda a, b, c: torch.mm(torch.from_numpy(a), torch.from_numpy(b), out=torch.from_numpy(c))
    raise ValueError(f"unknown implementation {impl!r}; expected one of {', '.join(IMPLS)}")


def child(impl, threads, rounds):
    """Time every shape with ``impl``; print one JSON object {shape: ms}."""
    import numpy as np

    gemm = _gemm(impl, threads)
    rng = np.random.default_rng(0)
    result = {}
    for name, m, k, n in SHAPES:
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        c = np.empty((m, n), np.float32)
        gemm(a, b, c)
        # a wrong product (a library's other conventions) must not be timed as a fast one
        np.testing.assert_allclose(c, a @ b, rtol=1e-3, atol=1e-2 * np.sqrt(k))
        calls = max(3, int(2e8 / (2 * m * n * k)))
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(calls):
                gemm(a, b, c)
            samples.append((time.perf_counter() - start) / calls)
        result[name] = statistics.median(samples) * 1e3
    print(json.dumps(result))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impls", nargs="+", default=list(IMPLS), choices=IMPLS)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.threads, args.rounds)
        return None
    results = {}
    for impl in args.impls:
        run = subprocess.run([sys.executable, __file__, "--child", impl, "--threads", str(args.threads),
                              "--rounds", str(args.rounds)], capture_output=True, text=True)
        if run.returncode != 0:
            print(f"{impl}: skipped ({run.stderr.strip().splitlines()[-1] if run.stderr.strip() else 'failed'})")
            continue
        results[impl] = json.loads(run.stdout.strip().splitlines()[-1])
    impls = list(results)
    print(f"{'shape (M x K x N), ms per GEMM':<32}" + "".join(f"{impl:>10}" for impl in impls))
    for name, m, k, n in SHAPES:
        print(f"{name:<32}" + "".join(f"{results[impl][name]:>10.3f}" for impl in impls))
    return results


if __name__ == "__main__":
    main()
