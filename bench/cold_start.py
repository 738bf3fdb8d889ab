"""Start-up cost of the cpu backend: ``import fastnn`` plus the first training step, in a
fresh process, with an empty kernel cache (every kernel compiles) and with a warm one
(kernels load from disk).

    python bench/cold_start.py [--kind mlp|cnn] [--repeats 3]

Targets (issue 3): empty cache under 10 s; warm cache under 1.5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import time
start = time.perf_counter()
import sys
sys.path.insert(0, {bench!r})
import fastnn as fnn
imported = time.perf_counter()
import workloads
_, step = workloads.fastnn_step({kind!r}, 64, "cpu")
step()
done = time.perf_counter()
print(f"{{imported - start:.3f}} {{done - start:.3f}}")
"""


def run_child(kind, cache_dir):
    env = dict(os.environ, FASTNN_CACHE_DIR=str(cache_dir))
    env.pop("NUMBA_CACHE_DIR", None)
    code = CHILD.format(bench=str(Path(__file__).resolve().parent), kind=kind)
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    imported, total = map(float, out.stdout.split())
    return imported, total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=["mlp", "cnn"], default="mlp")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    cold, warm = [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as cache:
            cold.append(run_child(args.kind, cache))   # empty cache: compiles
            warm.append(run_child(args.kind, cache))   # same cache: loads
    for label, runs in (("empty cache", cold), ("warm cache", warm)):
        imp = statistics.median(r[0] for r in runs)
        total = statistics.median(r[1] for r in runs)
        print(f"{args.kind} {label:<12} import {imp:6.2f} s   import + first step {total:6.2f} s   (median of {len(runs)})")


if __name__ == "__main__":
    main()
