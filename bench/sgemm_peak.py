"""The machine's float32 GEMM throughput through NumPy's BLAS, the library fastnn's GEMMs use.

    python bench/sgemm_peak.py [--threads N] [--seconds 1.0]

Times ``np.matmul`` (C = A @ B, A: M x K, B: K x N, float32, C-contiguous, preallocated
output) at large square shapes and at a conv-like shape (64 x 576 x 32768: a 3x3
convolution with 64 filters over 64 channels, the whole batch of 32x32 output positions
in one GEMM, as the "wide" im2col layout does), with the BLAS thread count that fastnn
uses (``fnn.get_num_threads()``, or ``--threads``). Each shape runs once untimed, then
repeatedly for about ``--seconds``; its figure is the fastest call (2*M*K*N / seconds),
because the peak is what the hardware and BLAS allow, not what a noisy neighbour leaves.
The best shape's figure is printed as "sgemm peak". bench/compare.py calls
``sgemm_peak_gflops`` to express the conv workloads as a percentage of it.
"""

from __future__ import annotations

import fastnn  # noqa: F401,E402  (before NumPy: it shortens OpenBLAS's idle spin, fastnn/runtime.py)

import argparse
import time

import numpy as np

#: (M, K, N) of C(M x N) = A(M x K) @ B(K x N).
SHAPES = ((2048, 2048, 2048), (4096, 4096, 4096), (64, 576, 32768))


def gemm_gflops(m, k, n, seconds=1.0):
    """GFLOP/s of the fastest of the float32 ``np.matmul`` calls made in about ``seconds``
    (at least two, after one untimed call that faults the pages in and wakes the threads)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    c = np.empty((m, n), dtype=np.float32)
    np.matmul(a, b, out=c)
    best, calls, deadline = float("inf"), 0, time.perf_counter() + seconds
    while calls < 2 or time.perf_counter() < deadline:
        start = time.perf_counter()
        np.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - start)
        calls += 1
    return 2.0 * m * k * n / best / 1e9


def measure(threads=None, seconds=1.0, shapes=SHAPES):
    """``{(m, k, n): GFLOP/s}`` with BLAS limited to ``threads`` (default: fastnn's count)
    for the duration of the measurement only."""
    from threadpoolctl import threadpool_limits

    if threads is None:
        import fastnn as fnn

        threads = fnn.get_num_threads()
    with threadpool_limits(limits=threads, user_api="blas"):
        return {shape: gemm_gflops(*shape, seconds=seconds) for shape in shapes}


def sgemm_peak_gflops(threads=None, seconds=1.0, shapes=SHAPES):
    """The best float32 GEMM throughput, GFLOP/s, over ``shapes`` (see ``measure``)."""
    return max(measure(threads, seconds, shapes).values())


def main(argv=None):
    import fastnn as fnn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (default: fnn.get_num_threads())")
    parser.add_argument("--seconds", type=float, default=1.0, help="timed seconds per shape")
    args = parser.parse_args(argv)

    threads = args.threads or fnn.get_num_threads()
    blas = fnn.runtime.blas_info()
    name = f"{blas[0].get('internal_api')} {blas[0].get('version')} ({blas[0].get('architecture')})" if blas else "?"
    print(f"numpy {np.__version__}   BLAS: {name}   threads: {threads}")
    results = measure(threads, args.seconds)
    print(f"{'M x K x N':<20}{'GFLOP/s':>10}")
    for (m, k, n), gflops in results.items():
        print(f"{f'{m}x{k}x{n}':<20}{gflops:>10.1f}")
    print(f"sgemm peak: {max(results.values()):.1f} GFLOP/s")
    return results


if __name__ == "__main__":
    main()
