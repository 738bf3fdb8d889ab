"""The ``fastnn`` command (also ``python -m fastnn``).

    fastnn train      train a model on a bundled or local dataset, with progress, and keep
                      the checkpoint and history CSV (and, where matplotlib and tensorboardX
                      are installed, the curves PNG and TensorBoard events)
    fastnn evaluate   the loss and accuracy of a saved checkpoint on a dataset's test split
    fastnn export     a checkpoint as an ONNX file (needs the onnx package)
    fastnn bench      a short side-by-side of the backends on this machine
    fastnn info       versions, backends (and why one is unavailable), threads, BLAS, cache
    fastnn warmup     compile (or load from the cache) every cpu kernel ahead of time

``mpiexec -n N fastnn train ...`` trains data-parallel on N processes (docs/distributed.md):
``--batch-size`` is then the global batch, and rank 0 alone prints and writes files.

Errors. A failure the user can act on prints one line, ``fastnn: error: <message>``, on
stderr and exits with status 2 (as argparse does for a bad option): a file or folder that
cannot be read or written (``OSError``, a missing dataset's ``DatasetNotFoundError``
included), a damaged checkpoint (``CheckpointError``), a backend that cannot run here
(``BackendError``), a model ONNX cannot express (``fastnn.onnx.ExportError``), and a
``ValueError``, ``TypeError`` or ``ImportError`` that fastnn raises itself about a value
it was given or a package it needs (a ``raise`` statement in fastnn's own code). Ctrl-C
prints ``fastnn: error: interrupted`` and exits with 130. Anything else is a bug and keeps
Python's traceback (status 1). ``fastnn --debug COMMAND`` (or ``FASTNN_DEBUG=1``) shows
the traceback of every error. Under mpiexec a rank that fails this way prints its line
with its rank and ends the whole job (``World.abort``), since the other ranks may be
waiting for it in a collective; a bug ends the job through the exception hook of
``fastnn.distributed``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback

from . import precompile, runtime

DATASETS = ("digits", "mnist", "fashion_mnist")
USAGE_ERROR = 2        # argparse's status for a bad command line; the same for every expected failure
INTERRUPTED = 130      # 128 + SIGINT, as shells report a command ended by Ctrl-C
PLOT_HINT = 'pip install matplotlib, or pip install "fastnn[plot]"'
TENSORBOARD_HINT = 'pip install tensorboardX, or pip install "fastnn[tensorboard]"'


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
    fnn.manual_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = load_dataset(args.dataset)
    classes = int(y_train.max()) + 1
    model = zoo.build(args.model, x_train.shape[1:], classes, backend=backend)
    model.compile(optimizer=fnn.optim.Adam(lr=args.lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    if lead:   # once seed, data, model and optimizer took the arguments: a bad one leaves no empty folder
        _make_folder(out)
    ranks = f" on {world.size} processes (global batch)" if world.size > 1 else ""
    say(f"fastnn train: {args.model} on {args.dataset} ({len(x_train)} training, {len(x_test)} test images), "
        f"backend {backend}, {args.epochs} epochs, batch {args.batch_size}{ranks}, lr {args.lr}, seed {args.seed}")
    if lead:
        model.summary()
    checkpoint = os.path.join(out, "checkpoint.safetensors")
    history_csv = os.path.join(out, "history.csv")
    events = os.path.join(out, "tensorboard")
    board = _tensorboard_callback(events)
    history = model.fit(
        x_train, y_train, epochs=args.epochs, batch_size=args.batch_size, validation_split=0.1,
        # a live bar per epoch on a terminal; one line per epoch when piped into a log
        verbose=1 if sys.stdout.isatty() else 2,
        callbacks=[callbacks.ModelCheckpoint(checkpoint), callbacks.CSVLogger(history_csv)]
        + ([board] if board is not None else []))
    curves = _plot_curves(history, os.path.join(out, "curves.png"), f"{args.model} on {args.dataset}") \
        if lead else None
    test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=256)
    say(f"checkpoint: {checkpoint}\nhistory:    {history_csv}")
    say(f"curves:     {curves}" if curves else f"curves:     not drawn ({PLOT_HINT})")
    say(f"tensorboard: tensorboard --logdir {events}" if board is not None
        else f"tensorboard: no events written ({TENSORBOARD_HINT})")
    say(f"test loss: {test_loss:.4f}  test accuracy: {test_accuracy:.4f}")
    return 0


def _make_folder(path) -> None:
    """``os.makedirs(path)``, or an OSError that says it was the output folder that failed."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise OSError(error.errno, f"cannot create the output folder {path}: {error.strerror or error}") from error


def _tensorboard_callback(log_dir):
    """The TensorBoard callback writing into ``log_dir``, or None where tensorboardX is not installed."""
    from . import callbacks

    try:
        return callbacks.TensorBoard(log_dir, histogram_freq=1)
    except ImportError:   # the callback checks for tensorboardX when it is made
        return None


def _plot_curves(history, path, title):
    """Draw the history's curves into ``path`` and return it, or None where matplotlib is not installed."""
    try:
        return history.plot(path, title=title)
    except ImportError:   # fastnn.plot imports matplotlib only when it draws
        return None


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


def _export(args) -> int:
    from .onnx.graph import INSTALL_HINT

    try:   # checked first: without onnx nothing can be written, whatever the checkpoint
        import onnx
    except ImportError as error:
        raise ImportError(f"ONNX export needs the onnx package: {INSTALL_HINT}") from error
    import fastnn as fnn
    from .onnx import export

    model = fnn.load_model(args.checkpoint, backend="numpy")
    path = os.fspath(export(model, args.output, input_shape=args.input_shape, opset=args.opset))
    written = onnx.load(path, load_external_data=False)   # the file as a reader sees it
    opset = next((o.version for o in written.opset_import if o.domain in ("", "ai.onnx")), None)
    print(f"{path}: {os.path.getsize(path):,} bytes, ONNX opset {opset}")
    for kind, values in (("input", written.graph.input), ("output", written.graph.output)):
        for value in values:
            print(f"  {kind:<6} {value.name}: {_describe_onnx_tensor(onnx, value)}")
    return 0


def _describe_onnx_tensor(onnx, value) -> str:
    """``float32 [N, 1, 8, 8]``: an ONNX graph input's or output's element type and shape
    (a named dimension, such as the batch, shown by its name; an unknown one as ?)."""
    tensor = value.type.tensor_type
    element = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name if tensor.elem_type else "?"
    dims = [str(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?") for d in tensor.shape.dim]
    return f"{element} [{', '.join(dims)}]"


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


def _shape(text):
    """``1,8,8`` (or ``1x8x8``) -> (1, 8, 8): positive sizes, at least one."""
    parts = text.replace("x", ",").split(",")
    try:
        shape = tuple(int(part) for part in parts)
    except ValueError:
        shape = ()
    if not shape or any(size < 1 for size in shape):
        raise argparse.ArgumentTypeError(f"must be positive sizes separated by commas, such as 1,8,8, got {text!r}")
    return shape


def _positive_float(text):
    value = float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from . import zoo
    from .backend import NAMES

    parser = argparse.ArgumentParser(prog="fastnn", description="fastnn command line")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of any error (also: FASTNN_DEBUG=1)")
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

    export = sub.add_parser("export", help="write a checkpoint as an ONNX file (needs the onnx package)")
    export.add_argument("checkpoint", help="a checkpoint written by fastnn (model.save, fastnn train)")
    export.add_argument("output", help="the ONNX file to write, e.g. model.onnx")
    export.add_argument("--input-shape", type=_shape, default=None, metavar="SHAPE",
                        help="one sample's shape without the batch dimension, e.g. 1,8,8 "
                             "(default: the model's own input shape)")
    export.add_argument("--opset", type=_positive_int, default=None,
                        help="the ONNX opset version (default: the exporter's)")
    export.set_defaults(run=_export)

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
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); the exit status.

    A bad option exits through argparse (SystemExit 2, its usage and message on stderr).
    An expected failure (see the module docstring) prints ``fastnn: error: <message>`` and
    returns 2; Ctrl-C returns 130; anything else propagates with its traceback, as does
    every error under ``--debug`` or ``FASTNN_DEBUG=1``.
    """
    args = build_parser().parse_args(argv)
    debug = args.debug or os.environ.get("FASTNN_DEBUG", "") not in ("", "0")
    try:
        return args.run(args)
    except KeyboardInterrupt:
        if debug:
            raise
        return _fail("interrupted", INTERRUPTED)
    except Exception as error:
        if debug or not is_expected(error):
            raise
        return _fail(one_line(error), USAGE_ERROR)


def is_expected(error: BaseException) -> bool:
    """Whether ``error`` is a failure the user can act on rather than a bug in fastnn."""
    reported = ((OSError,) + _classes("fastnn.io", "CheckpointError") + _classes("fastnn.backend", "BackendError")
                + _classes("fastnn.onnx", "ExportError"))
    if isinstance(error, reported):
        return True
    return isinstance(error, (ValueError, TypeError, ImportError)) and _raised_by_fastnn(error)


def _classes(module_name: str, class_name: str) -> tuple:
    """``(module.class_name,)`` where the module is loaded and has that exception class, else
    ``()``: an error of a module never imported cannot have been raised, and the error path
    neither imports anything nor fails on a module that is only half there."""
    found = getattr(sys.modules.get(module_name), class_name, None)
    return (found,) if isinstance(found, type) and issubclass(found, BaseException) else ()


def _raised_by_fastnn(error: BaseException) -> bool:
    """Whether a ``raise`` statement in fastnn's own source raised ``error``: how fastnn
    reports bad values and missing packages. A ValueError or TypeError from inside NumPy, or
    a call with wrong arguments, comes from another line and stays a bug."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return False
    last = frames[-1]
    roots = [os.path.dirname(os.path.abspath(__file__))]
    kernels = sys.modules.get("fastnn.kernels")
    if kernels is not None:
        roots += [os.path.abspath(folder) for folder in kernels.__path__]
    inside = any(os.path.abspath(last.filename).startswith(root + os.sep) for root in roots)
    return inside and (last.line or "").lstrip().startswith("raise")


def one_line(error: BaseException) -> str:
    """The error's message on one line: ``path: reason`` for a file error; a message of
    several lines (a dataset's "Looked in: ... To get it, any one of: ...") has its lines
    stripped and joined by "; ", or by a space after a line ending in ":" or "."."""
    if isinstance(error, OSError) and error.strerror:
        text = f"{error.filename}: {error.strerror}" if error.filename is not None else error.strerror
    else:
        text = str(error)
    joined = ""
    for line in filter(None, (line.strip() for line in text.splitlines())):
        joined += line if not joined else (" " if joined.endswith((":", ".")) else "; ") + line
    return joined or type(error).__name__


def _fail(message: str, status: int) -> int:
    """Print ``fastnn: error: <message>`` on stderr and return ``status``; in a world of
    several processes end them all with that status, since the others may be waiting for
    this one in a collective."""
    sys.stdout.flush()
    distributed = sys.modules.get("fastnn.distributed")
    world = distributed.world() if distributed is not None else None
    if world is not None and world.size > 1:
        message = f"rank {world.rank} of {world.size}: {message}"
    print(f"fastnn: error: {message}", file=sys.stderr, flush=True)
    if world is not None and world.size > 1:
        time.sleep(0.5)   # as the exception hook does: the launcher forwards the line before MPI_Abort
        world.abort(status)
    return status


if __name__ == "__main__":
    sys.exit(main())
