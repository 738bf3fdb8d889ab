"""The training loop: ``Model.fit`` against a hand-written loop, and against PyTorch.

    python bench/compare_fit.py [--rounds 15] [--threads N] [--only tiny mlp cnn mnist_convnet]
                                [--impls loop fit fit+acc torch] [--calls N] [--json out.json]
                                [--torch-python /path/to/python]
    python bench/compare_fit.py --only mnist_convnet --impls loop fit torch --rounds 3

One epoch on the bundled digits (1437 images 1x8x8, batch 32: 45 steps, Adam,
sparse cross-entropy), on the ``cpu`` backend, for the models of bench/workloads.py:
``tiny`` (64-32-10, where the per-step overhead dominates), ``mlp`` (zoo.mlp) and ``cnn``
(zoo.cnn). Implementations:

    loop     the epoch written by hand (workloads.loop_epoch): a permutation from fastnn's
             default generator, per batch zero_grad, forward, F.sparse_categorical_crossentropy,
             backward, step, and the running loss (float per step, as fit keeps it)
    fit      model.fit(x, y, batch_size=32, epochs=1, verbose=0), compiled without metrics
    fit+acc  the same, compiled with metrics=["accuracy"]
    torch    the usual PyTorch loop on the same architecture (torch.randperm, manual
             batching, no DataLoader, Adam), when torch imports

``mnist_convnet`` (not in the default ``--only``): one MNIST-sized epoch instead, the
Keras MNIST convnet of bench/workloads.py on 54,000 random float32 images 1x28x28 with
random labels (seeded, made once per worker process: 170 MB each), batch 128 (422 steps),
Adam lr 1e-3, against the same PyTorch loop. An epoch takes ~20-30 s on 2 cores (26 s fit,
18 s PyTorch, measured with the kernels of the time), so its rounds are one epoch each
(``--calls`` overrides), with no probe epoch in the setup and no untimed wake-up epoch
before each round (``compare.measure`` with ``calls``): each implementation costs
1 + rounds epochs.

``loop`` and ``fit`` train the same model (same seed) on the same batches: before timing,
two epochs of each from the same random state are checked to give bit-identical weights
(``--no-check`` skips it). The check is skipped for ``mnist_convnet``, where it would take
four epochs (about two minutes) before any timing; the code path it checks is the same
as for the digits models.

Each implementation runs in its own worker process with the same thread count, driven
round by round (interleaved, a rest between calls) by bench/compare.py's machinery
(``compare.Workers``, ``compare.measure``); figures are medians over rounds of at least
3 epochs each (digits; ``--calls N``: N epochs). "fit - loop" is the median over rounds of
the paired per-round difference, divided by the steps of an epoch (45; 422 for
mnist_convnet): the cost ``fit`` adds per step (its per-epoch work, input validation and
the loader's setup included). "torch/fit" > 1 means fastnn's fit is faster.

torch runs where it imports. ``--torch-python PY`` re-runs this script under the
interpreter PY (one that has PyTorch and fastnn installed) when torch is not importable
here, so that every worker, fastnn's included, runs under that same interpreter.
"""

from __future__ import annotations

import fastnn  # noqa: F401,E402  (before NumPy: it shortens OpenBLAS's idle spin, fastnn/runtime.py)

import argparse
import json
import math
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare  # noqa: E402
import workloads  # noqa: E402

IMPLS = ("loop", "fit", "fit+acc", "torch")
BACKEND = "cpu"
#: Epochs per round where ``--calls`` is not given and an epoch is too long for the
#: default (enough epochs for ``--min-round`` seconds, at least 3).
LARGE_CALLS = 1


def _maker(name, impl):
    """The callable one worker times: one epoch of model ``name`` by ``impl``."""
    if impl == "torch":
        return workloads.torch_fit_epoch(name)[1]
    if impl == "loop":
        return workloads.loop_epoch(name, BACKEND)[1]
    return workloads.fit_epoch(name, BACKEND, metrics=["accuracy"] if impl == "fit+acc" else ())[1]


def steps_per_epoch(kind):
    return math.ceil(workloads.fit_samples(kind) / workloads.fit_batch(kind))


def calls_per_round(kind, calls):
    """``--calls`` when given; else LARGE_CALLS for the MNIST-sized epoch; else None
    (compare.measure's default: rounds of ~--min-round seconds)."""
    return calls or (LARGE_CALLS if kind in workloads.FIT_LARGE else None)


def check_same_updates(kind, epochs=2) -> bool:
    """fit and the hand loop, from the same random state, give bit-identical weights
    (parameters and batch-norm statistics) after each epoch: same model, data, batch order."""
    import numpy as np

    import fastnn as fnn

    fit_model, fit = workloads.fit_epoch(kind, BACKEND)
    loop_model, loop = workloads.loop_epoch(kind, BACKEND)
    for _ in range(epochs):
        state = fnn.random.get_rng_state()
        fit()
        fnn.random.set_rng_state(state)
        loop()
        if not all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(fit_model.weights, loop_model.weights)):
            return False
    return True


def _quartiles(values):
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def summarize(result, steps):
    """Medians, spreads and the paired comparisons of one workload's samples."""
    out = {}
    for impl, r in result.items():
        rounds = r["rounds"]
        lo, hi = _quartiles(rounds)
        out[impl] = {"median_ms": r["median_s"] * 1e3, "first_ms": r["first_s"] * 1e3,
                     "q1_ms": lo * 1e3, "q3_ms": hi * 1e3, "min_ms": min(rounds) * 1e3, "max_ms": max(rounds) * 1e3}
    pairs = {}
    if "loop" in result:
        loop = result["loop"]["rounds"]
        for impl in ("fit", "fit+acc"):
            if impl in result:
                diffs = [(f - l) / steps * 1e6 for f, l in zip(result[impl]["rounds"], loop)]
                ratios = [f / l for f, l in zip(result[impl]["rounds"], loop)]
                pairs[f"{impl}-loop"] = {"us_per_step": statistics.median(diffs), "iqr": _quartiles(diffs),
                                         "ratio": statistics.median(ratios), "ratio_iqr": _quartiles(ratios)}
    if "torch" in result and "fit" in result:
        ratios = [t / f for t, f in zip(result["torch"]["rounds"], result["fit"]["rounds"])]
        pairs["torch/fit"] = {"ratio": statistics.median(ratios), "ratio_iqr": _quartiles(ratios)}
    out["paired"] = pairs
    return out


def _reexec(python, argv):
    """Run this script again under ``python`` (torch is not importable here)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--torch-python" in argv:  # drop the option: the child must not re-execute again
        i = argv.index("--torch-python")
        del argv[i:i + 2]
    argv = [a for a in argv if not a.startswith("--torch-python=")]
    print(f"torch is not importable under {sys.executable}: running again under {python}", flush=True)
    sys.stdout.flush()
    os.execv(python, [python, str(Path(__file__).resolve()), *argv])


def main(argv=None):
    import fastnn as fnn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="threads for fastnn and torch (default: cores)")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--settle", type=float, default=0.3, help="seconds of rest before each timed round")
    parser.add_argument("--min-round", type=float, default=0.25, help="seconds a round of one implementation lasts")
    parser.add_argument("--only", nargs="+", choices=workloads.FIT_KINDS + workloads.FIT_LARGE,
                        default=list(workloads.FIT_KINDS))
    parser.add_argument("--calls", type=int, default=None,
                        help=f"epochs per round (default: enough for --min-round, at least 3; "
                             f"{LARGE_CALLS} for {', '.join(workloads.FIT_LARGE)})")
    parser.add_argument("--impls", nargs="+", choices=IMPLS, default=list(IMPLS),
                        help="what to compare (torch is dropped when it does not import)")
    parser.add_argument("--torch-python", default=None,
                        help="an interpreter with torch and fastnn: re-run under it when torch does not import here")
    parser.add_argument("--no-check", action="store_true", help="skip the fit == loop weight check")
    parser.add_argument("--json", type=Path, default=None, help="write all samples here")
    args = parser.parse_args(argv)

    impls = list(dict.fromkeys(args.impls))
    torch = None
    if "torch" in impls:
        try:
            import torch
        except ImportError:
            if args.torch_python:
                _reexec(args.torch_python, argv)
            impls.remove("torch")
            print("torch is not importable: comparing fastnn's fit with the hand loop only")
    threads = args.threads or fnn.get_num_threads()
    steps = {kind: steps_per_epoch(kind) for kind in args.only}
    print(f"python {sys.version.split()[0]}   numpy {__import__('numpy').__version__}   "
          f"torch {torch.__version__ if torch else '-'}   threads: {threads}   rounds: {args.rounds}")
    blas = fnn.runtime.blas_info()
    if blas:
        print(f"BLAS: {blas[0].get('internal_api')} {blas[0].get('version')} ({blas[0].get('architecture')})")
    for kind in args.only:
        data = "random 1x28x28" if kind in workloads.FIT_LARGE else "digits 1x8x8"
        print(f"{kind}: {data}, {workloads.fit_samples(kind)} samples, batch {workloads.fit_batch(kind)}, "
              f"{steps[kind]} steps per epoch; backend {BACKEND}")

    if not args.no_check and "loop" in impls:
        for kind in args.only:
            if kind in workloads.FIT_LARGE:
                print(f"check {kind}: skipped (it takes four epochs; see the docstring)")
                continue
            same = check_same_updates(kind)
            print(f"check {kind}: fit and the hand loop give {'bit-identical' if same else 'DIFFERENT'} "
                  f"weights after 2 epochs from the same random state")

    cols = [i for i in IMPLS if i in impls]
    header = (f"{'model':<14}" + "".join(f"{i + ' ms':>13}" for i in cols) + f"{'fit-loop us/step':>18}"
              f"{'fit/loop':>10}{'fit+acc-loop us':>17}{'torch/fit':>11}")
    print("\nms per epoch (median of rounds); per step: paired per-round medians")
    print(header, flush=True)
    results, summaries = {}, {}
    workers = compare.Workers(impls, threads, maker=_maker)
    try:
        for kind in args.only:
            r = compare.measure(workers, kind, impls, args.rounds, args.settle, min_round_s=args.min_round,
                                calls=calls_per_round(kind, args.calls))
            s = summarize(r, steps[kind])
            results[kind], summaries[kind] = r, s
            p = s["paired"]
            row = f"{kind:<14}" + "".join(f"{s[i]['median_ms']:>13.2f}" for i in cols)
            row += f"{p['fit-loop']['us_per_step']:>18.1f}{p['fit-loop']['ratio']:>9.3f}x" if "fit-loop" in p \
                else f"{'':>28}"
            row += f"{p['fit+acc-loop']['us_per_step']:>17.1f}" if "fit+acc-loop" in p else f"{'':>17}"
            row += f"{p['torch/fit']['ratio']:>10.2f}x" if "torch/fit" in p else f"{'':>11}"
            print(row, flush=True)
    finally:
        workers.close()

    print("\nspread: ms per epoch, quartiles [min - max] of the rounds; first epoch in a fresh worker")
    for kind, s in summaries.items():
        for impl in cols:
            v = s[impl]
            print(f"{kind:<14}{impl:<9} median {v['median_ms']:8.2f}   q1-q3 {v['q1_ms']:8.2f} - {v['q3_ms']:<8.2f}"
                  f" [{v['min_ms']:.2f} - {v['max_ms']:.2f}]   first {v['first_ms']:8.1f}")
        for key, v in s["paired"].items():
            extra = f"   {v['us_per_step']:7.1f} us/step (q1-q3 {v['iqr'][0]:.1f} - {v['iqr'][1]:.1f})" \
                if "us_per_step" in v else ""
            print(f"{kind:<14}{key:<13} ratio {v['ratio']:.3f} (q1-q3 {v['ratio_iqr'][0]:.3f} - "
                  f"{v['ratio_iqr'][1]:.3f}){extra}")
    if args.json:
        args.json.write_text(json.dumps({"threads": threads, "steps": steps, "python": sys.version,
                                         "torch": torch.__version__ if torch else None,
                                         "results": results, "summary": summaries}, indent=1))
    return summaries


if __name__ == "__main__":
    main()
