"""What every example script shares: its command line, the backend and seed it runs
under, where its plots go, and how it reports its numbers.

Each lesson script in this folder defines

    run(backend, quick, out, seed) -> dict    the lesson itself; returns the numbers it shows
    main(argv=None) -> dict                   parse the command line, run, print the numbers

and ends with ``if __name__ == "__main__": main()``. The tests call ``main`` with
``--quick`` and assert on the returned numbers, so what a learner sees is what is tested.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import fastnn as fnn

BACKENDS = ("numpy", "cpu", "gpu")


def parse_args(script: str, doc: str, argv=None, add_arguments=None) -> argparse.Namespace:
    """The shared options: ``--backend``, ``--quick``, ``--out`` and ``--seed``.

    ``script`` is the script's ``__file__`` (its stem names the default output folder,
    ``runs/examples/<stem>``); ``doc`` its docstring, shown by ``--help``;
    ``add_arguments(parser)`` may add options of the script's own.
    """
    name = Path(script).stem
    parser = argparse.ArgumentParser(prog=f"{name}.py", description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=BACKENDS, default=fnn.get_backend(),
                        help="where the arithmetic runs (default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="small data and few epochs: the same lesson in seconds (what the tests run)")
    parser.add_argument("--out", type=Path, default=Path("runs") / "examples" / name,
                        help="folder for the plots (PNG) (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of fastnn's random stream (default: 0)")
    if add_arguments is not None:
        add_arguments(parser)
    return parser.parse_args(argv)


def execute(run, args: argparse.Namespace, **options) -> dict:
    """Run a lesson under ``args.backend`` with ``fnn.manual_seed(args.seed)``, print its numbers.

    ``run`` gets ``backend``, ``quick``, ``out`` (created) and ``seed``, plus ``options``.
    The returned dict gains ``seconds``, the lesson's wall-clock time.
    """
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with fnn.use_backend(args.backend):
        fnn.manual_seed(args.seed)
        results = run(backend=args.backend, quick=args.quick, out=out, seed=args.seed, **options)
    results["seconds"] = time.perf_counter() - start
    print_results(results)
    return results


def print_results(results: dict) -> None:
    """One ``name: value`` line each; floats to four significant digits (three inside lists)."""
    width = max((len(str(key)) for key in results), default=0)
    for key, value in results.items():
        if isinstance(value, float):
            shown = f"{value:.4g}"
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, float) for v in value):
            shown = "[" + ", ".join(f"{v:.3g}" for v in value) + "]"
        else:
            shown = value
        print(f"{str(key):<{width}}  {shown}")


def figure(nrows: int = 1, ncols: int = 1, figsize=(6.4, 4.8)):
    """A matplotlib Figure and its axes, from the object API (no pyplot state, no display needed).

    One panel gives one Axes; several give the 2-D ``(nrows, ncols)`` array of them, even
    for a single row (``axes[0, 1]``, or ``axes.flat`` to walk them).
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes if nrows * ncols > 1 else axes[0, 0]


def save_figure(fig, out, name: str) -> Path:
    """Write ``fig`` as ``out/name`` (PNG) and return that path."""
    path = Path(out) / name
    fig.savefig(path, dpi=100)
    return path


class AccuracyCurves(fnn.callbacks.Callback):
    """After every epoch, the accuracy on each of ``sets`` ({name: (x, y)}), in inference mode.

    fit's own "accuracy" log is a running mean over the epoch's batches, taken while the
    weights still change and with dropout on; scoring every set after the epoch, the same
    way, compares like with like. ``curves[name]`` holds one accuracy per epoch.
    """

    def __init__(self, sets: dict):
        super().__init__()
        self.sets = dict(sets)
        self.curves = {name: [] for name in self.sets}

    def on_epoch_end(self, epoch, logs=None):
        for name, (x, y) in self.sets.items():
            scores = self.model.evaluate(x, y, batch_size=len(x), return_dict=True)
            self.curves[name].append(scores["accuracy"])
