"""Data-parallel training against one process on the same machine, same global batch.

    python bench/distributed.py [--models mlp cnn] [--batch 128] [--samples 2048]
                                [--epochs 4] [--rounds 3] [--ranks 2] [--json FILE]

For each zoo model (28 x 28 one-channel images, 10 classes, Adam, backend cpu) it trains
the same global batch two ways, each in its own processes, the two interleaved round by
round:

* ``1 x T``: one process with all T cores of the machine as threads (``fastnn`` as
  usual);
* ``N x T/N``: ``mpiexec -n N python -m mpi4py`` with one share of the cores a rank
  (``fastnn.distributed`` gives each rank cores // N threads), data-parallel ``fit``.

A worker (``--worker``) runs ``fit`` for ``--epochs`` epochs of ``--samples`` random
samples and reports, from its second epoch on (the first compiles and warms up), the
median samples per second and the fraction of step time spent in communication: the time
inside the gradient reduction (packing, the allreduce, unpacking), the averaging of
running statistics, and the sums of the logs, over the epoch's time, on rank 0.
It also reports the gradient bucket size (``fastnn.data_parallel.BUCKET_BYTES``) and the
number of buckets the model's gradients fill.

The table gives medians over the rounds and the speed-up (N-process samples/s over
one-process samples/s). A machine with two cores runs the two ranks on one core each:
this measures whether splitting the cores between processes costs or gains against
threads in one process, with communication through shared memory, not a network.
"""

from __future__ import annotations

import fastnn  # noqa: F401  (before NumPy: it shortens OpenBLAS's idle spin, fastnn/runtime.py)

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

IMAGE, CLASSES = (1, 28, 28), 10


def worker(model_name: str, batch: int, samples: int, epochs: int) -> None:
    """Train and, on rank 0, print one JSON line: samples/s, communication fraction, buckets."""
    import fastnn as fnn
    from fastnn import data_parallel, replicas, zoo

    world = fnn.distributed.init()
    spent = {"communication": 0.0}

    def timed(fn):
        def run(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent["communication"] += time.perf_counter() - start
        return run

    # What a data-parallel step adds to one process's: the names replicas.py calls.
    replicas.reduce_gradients = timed(replicas.reduce_gradients)
    replicas.average_tensors = timed(replicas.average_tensors)
    replicas.Replicas.sum = timed(replicas.Replicas.sum)

    epochs_seen = []

    class EpochClock(fnn.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start, spent["communication"] = time.perf_counter(), 0.0

        def on_epoch_end(self, epoch, logs=None):
            epochs_seen.append((time.perf_counter() - self.start, spent["communication"]))

    fnn.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((samples, *IMAGE)).astype(np.float32)
    y = rng.integers(0, CLASSES, samples)
    model = zoo.build(model_name, IMAGE, CLASSES, backend="cpu")
    model.compile(optimizer=fnn.optim.Adam(lr=1e-3), loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0, callbacks=[EpochClock()])
    timed_epochs = epochs_seen[1:]
    seconds = float(np.median([s for s, _ in timed_epochs]))
    communication = float(np.median([c / s for s, c in timed_epochs])) if world.size > 1 else 0.0
    params = model.parameters()
    buckets = len(list(data_parallel._buckets(params, data_parallel.BUCKET_BYTES)))
    if world.rank == 0:
        print(json.dumps(dict(samples_per_s=samples / seconds, communication=communication,
                              threads=fnn.get_num_threads(), ranks=world.size, buckets=buckets,
                              bucket_bytes=data_parallel.BUCKET_BYTES,
                              gradient_bytes=sum(p.size * np.dtype(p.dtype).itemsize for p in params))))


def run_worker(model_name, args, ranks):
    here = os.path.abspath(__file__)
    command = [sys.executable, "-m", "mpi4py", here, "--worker", model_name, "--batch", str(args.batch),
               "--samples", str(args.samples), "--epochs", str(args.epochs)]
    if ranks > 1:
        mpiexec = shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
        if mpiexec is None:
            raise SystemExit("bench/distributed.py: no mpiexec (pip install 'fastnn[distributed]')")
        command = [mpiexec, "-n", str(ranks), *command]
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if result.returncode:
        raise SystemExit(f"worker failed ({' '.join(command)}):\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["mlp", "cnn"], choices=["mlp", "cnn", "resnet"])
    parser.add_argument("--batch", type=int, default=128, help="the global batch")
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--json", default=None, help="write every sample here")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.batch, args.samples, args.epochs)
        return
    samples = {(m, r): [] for m in args.models for r in (1, args.ranks)}
    for _ in range(args.rounds):
        for model_name in args.models:
            for ranks in (1, args.ranks):     # interleaved: a slow spell of the machine hits both
                samples[model_name, ranks].append(run_worker(model_name, args, ranks))
    cores = os.cpu_count()
    print(f"global batch {args.batch}, {args.samples} samples, median of {args.rounds} rounds "
          f"(each the median of epochs 2..{args.epochs}); {cores} cores")
    print(f"| model | gradients | buckets (of {samples[args.models[0], 1][0]['bucket_bytes'] >> 20} MiB) | "
          f"1 x {cores} threads: samples/s | {args.ranks} x {max(1, cores // args.ranks)}: samples/s | "
          f"speed-up | communication / step |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for model_name in args.models:
        one, many = samples[model_name, 1], samples[model_name, args.ranks]
        alone = float(np.median([s["samples_per_s"] for s in one]))
        split = float(np.median([s["samples_per_s"] for s in many]))
        share = float(np.median([s["communication"] for s in many]))
        print(f"| {model_name} | {one[0]['gradient_bytes'] / 2**20:.2f} MiB | {one[0]['buckets']} | {alone:,.0f} | "
              f"{split:,.0f} | {split / alone:.2f}x | {share:.1%} |")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({f"{m} {r}": v for (m, r), v in samples.items()}, out, indent=1)


if __name__ == "__main__":
    main()
