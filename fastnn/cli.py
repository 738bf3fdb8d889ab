"""The ``fastnn`` command (also ``python -m fastnn``).

    fastnn train      train a model on a bundled or local dataset, with progress, and keep
                      the checkpoint, history CSV, curves PNG and TensorBoard events
    fastnn evaluate   the loss and accuracy of a saved checkpoint on a dataset's test split
    fastnn bench      a short side-by-side of the backends on this machine
    fastnn info       versions, backends (and why one is unavailable), threads, BLAS, cache
    fastnn warmup     compile (or load from the cache) every cpu kernel ahead of time

``mpiexec -n N fastnn train ...`` trains data-parallel on N processes (docs/distributed.md):
``--batch-size`` is then the global batch, and rank 0 alone prints and writes files.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from . import precompile, runtime

DATASETS = ("digits", "mnist", "fashion_mnist")


def best_backend() -> str:
    """gpu where a CUDA device answers, else cpu (Numba), else numpy."""
    from . import backend as backends

    available = backends.available_backends()
    return next(name for name in ("gpu", "cpu", "numpy") if name in available)


def load_dataset(name: str):
    """``(x_train, y_train), (x_test, y_test)`` with images as (N, 1, H, W) float32 in [0, 1]."""
    from . import datasets

    loaders = {"digits": datasets.load_digits, "mnist": datasets.load_mnist,
               "fashion_mnist": datasets.load_fashion_mnist}
    return loaders[name](flat=False)


def _train(args) -> int:
    import fastnn as fnn
    from . import callbacks, zoo

    # Under mpiexec, data-parallel (fit reads the world); alone, a world of one process.
    world = fnn.distributed.init()
    lead = world.rank == 0
    say = print if lead else _silent
    backend = args.backend or best_backend()
    out = world.broadcast_object(args.out or os.path.join("runs", time.strftime("%Y%m%d-%H%M%S")))
    if lead:
        os.makedirs(out, exist_ok=True)
    fnn.manual_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = load_dataset(args.dataset)
    classes = int(y_train.max()) + 1
    ranks = f" on {world.size} processes (global batch)" if world.size > 1 else ""
    say(f"fastnn train: {args.model} on {args.dataset} ({len(x_train)} training, {len(x_test)} test images), "
        f"backend {backend}, {args.epochs} epochs, batch {args.batch_size}{ranks}, lr {args.lr}, seed {args.seed}")
    model = zoo.build(args.model, x_train.shape[1:], classes, backend=backend)
    if lead:
        model.summary()
    model.compile(optimizer=fnn.optim.Adam(lr=args.lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    checkpoint = os.path.join(out, "checkpoint.safetensors")
    history_csv = os.path.join(out, "history.csv")
    curves = os.path.join(out, "curves.png")
    events = os.path.join(out, "tensorboard")
    history = model.fit(
        x_train, y_train, epochs=args.epochs, batch_size=args.batch_size, validation_split=0.1,
        # a live bar per epoch on a terminal; one line per epoch when piped into a log
        verbose=1 if sys.stdout.isatty() else 2,
        callbacks=[callbacks.ModelCheckpoint(checkpoint), callbacks.CSVLogger(history_csv),
                   callbacks.TensorBoard(events, histogram_freq=1)])
    if lead:
        history.plot(curves, title=f"{args.model} on {args.dataset}")
    test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=256)
    say(f"checkpoint: {checkpoint}\nhistory:    {history_csv}\ncurves:     {curves}\n"
        f"tensorboard: tensorboard --logdir {events}")
    say(f"test loss: {test_loss:.4f}  test accuracy: {test_accuracy:.4f}")
    return 0


def _silent(*args, **kwargs) -> None:
    """print for ranks other than 0: one process speaks for the job."""


def _evaluate(args) -> int:
    import fastnn as fnn

    backend = args.backend or best_backend()
    model = fnn.load_model(args.checkpoint, backend=backend)
    _, (x_test, y_test) = load_dataset(args.dataset)
    if model.loss is None:
        model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    results = model.evaluate(x_test, y_test, batch_size=256, return_dict=True)
    print(f"{args.checkpoint} on the {args.dataset} test split ({len(x_test)} images, backend {backend}): "
          + "  ".join(f"{k}: {v:.4f}" for k, v in results.items()))
    return 0


def _bench(args) -> int:
    from . import benchmark

    benchmark.run(workloads=tuple(args.workload), backend_names=args.backend, rounds=args.rounds)
    return 0


def _info(args) -> int:
    print(runtime.info())
    return 0


def _warmup(args) -> int:
    seconds = precompile.warmup(tuple(args.dtype), verbose=args.verbose)
    print(f"cpu kernels ready for {', '.join(args.dtype)} in {seconds:.1f} s "
          f"(cache: {runtime.kernel_cache_dir() if runtime.cache_enabled() else 'off'})")
    return 0


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from . import zoo
    from .backend import NAMES

    parser = argparse.ArgumentParser(prog="fastnn", description="fastnn command line")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = sub.add_parser("train", help="train a model (default: a small CNN on the bundled digits)")
    train.add_argument("--model", default="cnn", choices=sorted(zoo.MODELS))
    train.add_argument("--dataset", default="digits", choices=DATASETS)
    train.add_argument("--backend", default=None, choices=NAMES, help="default: the best available")
    train.add_argument("--epochs", type=_positive_int, default=15)
    train.add_argument("--batch-size", type=_positive_int, default=32,
                       help="the global batch under mpiexec (divisible by the number of processes)")
    train.add_argument("--lr", type=_positive_float, default=2e-3)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", default=None, help="output folder (default: runs/<timestamp>)")
    train.set_defaults(run=_train)

    evaluate = sub.add_parser("evaluate", help="evaluate a checkpoint on a dataset's test split")
    evaluate.add_argument("checkpoint")
    evaluate.add_argument("--dataset", default="digits", choices=DATASETS)
    evaluate.add_argument("--backend", default=None, choices=NAMES, help="default: the best available")
    evaluate.set_defaults(run=_evaluate)

    bench = sub.add_parser("bench", help="time training steps on each available backend, side by side")
    bench.add_argument("--workload", nargs="+", default=["mlp", "cnn"], choices=["mlp", "cnn"])
    bench.add_argument("--backend", nargs="+", default=None, choices=NAMES, help="default: every available one")
    bench.add_argument("--rounds", type=_positive_int, default=7)
    bench.set_defaults(run=_bench)

    sub.add_parser("info", help="print versions, backends, threads, BLAS and cache directory").set_defaults(run=_info)
    warm = sub.add_parser("warmup", help="compile every cpu kernel ahead of time")
    warm.add_argument("--dtype", nargs="+", default=["float32", "float64"], choices=["float32", "float64"])
    warm.add_argument("--verbose", action="store_true", help="print each kernel as it compiles")
    warm.set_defaults(run=_warmup)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
