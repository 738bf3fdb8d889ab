"""The parallel threshold inside whole training steps (cpu backend).

    python bench/step_threshold.py [--thresholds 32768 262144 1048576 0]

bench/parallel_threshold.py times kernels alone; here each training step of
bench/workloads.py runs with ``_jit.PARALLEL_MIN`` set to each value (0 in the list
means "never threaded"), in one process, interleaved round by round, medians in ms.
Inside a step a threaded kernel follows a GEMM whose BLAS threads are still spinning,
which is what this measures.
"""

from __future__ import annotations

import fastnn  # noqa: F401,E402  (before NumPy: it shortens OpenBLAS's idle spin, fastnn/runtime.py)

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # noqa: E402

STEPS = (("mlp", 128), ("mlp", 1024), ("cnn", 64))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thresholds", type=int, nargs="+", default=[32768, 262144, 1 << 20, 0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    from fastnn.kernels.cpu import _jit

    saved = _jit.PARALLEL_MIN
    print(f"{'step':<12}" + "".join(f"{(t or 'serial'):>12}" for t in args.thresholds))
    try:
        for kind, batch in STEPS:
            _, step = workloads.fastnn_step(kind, batch, "cpu")
            for _ in range(3):
                step()
            start = time.perf_counter()
            step()
            calls = max(1, int(0.05 / (time.perf_counter() - start)))
            samples = {t: [] for t in args.thresholds}
            for _ in range(args.rounds):
                for t in args.thresholds:
                    _jit.PARALLEL_MIN = t if t else 1 << 62
                    step()  # one untimed call after switching
                    start = time.perf_counter()
                    for _ in range(calls):
                        step()
                    samples[t].append((time.perf_counter() - start) / calls * 1e3)
            print(f"{kind + '_b' + str(batch):<12}" + "".join(f"{statistics.median(samples[t]):>12.3f}"
                                                          for t in args.thresholds), flush=True)
    finally:
        _jit.PARALLEL_MIN = saved


if __name__ == "__main__":
    main()
