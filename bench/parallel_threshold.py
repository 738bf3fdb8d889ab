"""Where threads start to pay: serial vs threaded twins of cpu kernels by size.

    python bench/parallel_threshold.py

Each ``@dual`` kernel of kernels/cpu is compiled twice; the wrapper runs the serial
twin below ``_jit.PARALLEL_MIN`` elements. This times both twins of three kernels of
different arithmetic intensity (relu forward, the SGD-with-momentum update, the
softmax cross-entropy) at sizes around the threshold, interleaved, medians, and prints
the ratio serial/threaded (> 1: threads win).
"""

from __future__ import annotations

import fastnn  # noqa: F401,E402  (before NumPy: it shortens OpenBLAS's idle spin, fastnn/runtime.py)

import statistics
import time

import numpy as np

from fastnn.kernels.cpu import _jit, activations, optim, softmax


def _median_us(fn, min_s=0.02, rounds=7):
    fn()
    calls = max(1, int(min_s / max(_once(fn), 1e-7)))
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(samples)


def _once(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _kernels(size, rng):
    x = rng.standard_normal(size).astype(np.float32)
    p, g, buf = (rng.standard_normal(size).astype(np.float32) for _ in range(3))
    rows = max(1, size // 1000)
    z = rng.standard_normal((rows, 1000)).astype(np.float32)
    labels = rng.integers(0, 1000, rows).astype(np.int64)
    return {
        "relu_fwd": lambda: activations.relu_fwd(x, 0.0),
        "sgd_update (momentum)": lambda: optim.sgd_update(p, g, buf, 0.01, 0.9, 0.0, False, 0.0, False),
        "softmax_ce_fwd_bwd": lambda: softmax.softmax_ce_fwd_bwd(z, labels, True),
    }


def main():
    rng = np.random.default_rng(0)
    saved = _jit.PARALLEL_MIN
    print(f"PARALLEL_MIN = {saved} elements; figures: microseconds per call (serial / threaded)")
    print(f"{'kernel':<24}{'elements':>10}{'serial':>10}{'threaded':>10}{'ratio':>8}")
    try:
        for size in (4096, 16384, 32768, 65536, 262144, 1048576):
            for name, fn in _kernels(size, rng).items():
                if name == "softmax_ce_fwd_bwd" and size < 1000:
                    continue
                _jit.PARALLEL_MIN = 1 << 62
                serial = _median_us(fn)
                _jit.PARALLEL_MIN = 0
                threaded = _median_us(fn)
                print(f"{name:<24}{size:>10}{serial:>10.1f}{threaded:>10.1f}{serial / threaded:>8.2f}", flush=True)
    finally:
        _jit.PARALLEL_MIN = saved


if __name__ == "__main__":
    main()
