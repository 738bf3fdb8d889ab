"""How long each lesson of examples/ takes, per backend, in quick and in full mode.

    python bench/time_examples.py [--rounds 3] [--full] [--only perceptron cnn ...]
                                  [--backends numpy cpu] [--markdown]

Every run is a fresh ``python examples/<lesson>.py --backend B [--quick] --out TMP``
process (imports, data loading and the kernel-cache load included, as a learner sees it;
the kernels are compiled once by a warm-up run first). Backends take turns within each
round (interleaved), and the table gives the median wall time over the rounds, plus the
lesson's own ``seconds`` line (the time inside ``run``, without the imports).
The curriculum's tests run ``--quick`` in one process: see their ``--durations``.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from example_scripts import EXAMPLES  # noqa: E402  (tests/ is not a package)
from test_examples import CURRICULUM  # noqa: E402


def run_once(name: str, backend: str, quick: bool) -> tuple[float, float]:
    """Wall seconds of one run, and the ``seconds`` the lesson reported."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, str(EXAMPLES / f"{name}.py"), "--backend", backend, "--out", out]
        start = time.perf_counter()
        done = subprocess.run(command + (["--quick"] if quick else []), capture_output=True, text=True)
        wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{name}.py --backend {backend} failed:\n{done.stderr[-2000:]}")
    inside = re.search(r"^seconds\s+([0-9.eE+-]+)", done.stdout, flags=re.MULTILINE)
    return wall, float(inside.group(1)) if inside else float("nan")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="time the full runs instead of --quick")
    parser.add_argument("--only", nargs="*", default=CURRICULUM, choices=CURRICULUM, metavar="LESSON")
    parser.add_argument("--backends", nargs="*", default=["numpy", "cpu"], choices=["numpy", "cpu", "gpu"])
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    quick = not args.full
    for backend in args.backends:  # compile (or load) every kernel once, outside the timing
        run_once("perceptron", backend, quick=True)
    walls = {(n, b): [] for n in args.only for b in args.backends}
    inside = {(n, b): [] for n in args.only for b in args.backends}
    for _ in range(args.rounds):
        for name in args.only:
            for backend in args.backends:
                wall, seconds = run_once(name, backend, quick)
                walls[name, backend].append(wall)
                inside[name, backend].append(seconds)
    mode = "quick" if quick else "full"
    header = ["lesson"] + [f"{b} {mode}, s (in run)" for b in args.backends]
    rows = [[name] + [f"{statistics.median(walls[name, b]):.2f} ({statistics.median(inside[name, b]):.2f})"
                      for b in args.backends] for name in args.only]
    totals = ["total"] + [f"{sum(statistics.median(walls[n, b]) for n in args.only):.1f}" for b in args.backends]
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" + "---:|" * len(args.backends))
        for row in rows + [totals]:
            print("| " + " | ".join(row) + " |")
    else:
        for row in [header] + rows + [totals]:
            print("  ".join(f"{cell:<24}" for cell in row))


if __name__ == "__main__":
    main()
