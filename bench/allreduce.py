"""What an allreduce costs on this machine, and what that means for data-parallel training.

    mpiexec -n 2 python -m mpi4py bench/allreduce.py [--repeats 1.0]
    python bench/allreduce.py --models [--batch 32] [--alpha ALPHA --beta BETA]

**Under mpiexec** (two or more ranks): times an in-place float32 Sum allreduce of every
message size from 4 B to 64 MiB (powers of 4), two ways:

* ``mpi4py``: ``comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)`` on a numpy array,
  MPI alone;
* ``fastnn``: ``fastnn.distributed.init().allreduce_in_place(buffer, op="mean")``, what
  ``fastnn.data_parallel.reduce_gradients`` calls once per gradient bucket (the same MPI
  call, then a division by the world size).

Each size runs a few times untimed, then ``repeats`` times (more for small messages),
each call between barriers; a call's time is the slowest rank's, its figure the median.
Rank 0 prints bytes, median seconds and the effective bandwidth: algbw = bytes / t (the
payload per second) and busbw = algbw * 2(N-1)/N (what each link carries in a ring
allreduce, comparable across world sizes, as in NCCL's tests). Then it fits

    t(bytes) = alpha + bytes / beta

to the mpi4py column (least squares on relative error, so that 4 B and 64 MiB count
alike) and prints alpha, beta and the worst relative error of the fit. Last, it times
``reduce_gradients`` on the gradients of each zoo model (MNIST-shaped input) against what
the fit predicts for its parameter bytes.

**With --models** (one process, no MPI): builds each zoo model for (1, 28, 28) images
and 10 classes, counts its trainable parameters and their float32 bytes, times one
training step (zero_grad, forward, sparse cross-entropy, backward, Adam step: what a
data-parallel rank computes) at ``--batch`` samples on the cpu backend (20 steps after 3
untimed ones: the median and the fastest; the estimates take the fastest, as other jobs
on a shared machine only ever slow a step down), and prints the ring-allreduce estimate

    T(N) = 2(N-1)/N * bytes / B + 2(N-1) * L        (per gradient bucket)

for N = 8, 64, 512 ranks on a 10 Gb/s network (L = 50 us) and a 100 Gb/s network
(L = 5 us), both at line rate, with the ratio T / step and the scaling efficiency
step / (step + T) (communication after backward, not overlapped with it); then the same
with the latency term 2 log2(N) L of recursive halving and doubling (Rabenseifner's
algorithm, one of those MPI libraries choose from by message size) in place of the ring's.
``--alpha``/``--beta`` (from the mpiexec run) add this machine's N = 2 estimate: at
N = 2 the ring formula is bytes / B + 2L, so B = beta and L = alpha / 2.
"""

from __future__ import annotations

import fastnn  # noqa: F401  (before NumPy: it shortens OpenBLAS's idle spin, fastnn/runtime.py)

import argparse
import math
import time

import numpy as np

SIZES = [4 ** k for k in range(1, 14)]        # bytes: 4 B, 16 B, ..., 64 MiB
WORLD_SIZES = (8, 64, 512)
#: (name, latency L in seconds, bandwidth B in bytes/s): line rate, an optimistic bound.
NETWORKS = (("10 Gb/s", 50e-6, 10e9 / 8), ("100 Gb/s", 5e-6, 100e9 / 8))
IMAGE, CLASSES = (1, 28, 28), 10


def human(nbytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if nbytes < 1024 or unit == "GiB":
            return f"{nbytes:g} {unit}" if unit == "B" else f"{nbytes:.4g} {unit}"
        nbytes /= 1024


def repeats_for(nbytes: int, scale: float) -> int:
    base = 200 if nbytes <= 1 << 16 else 40 if nbytes <= 1 << 22 else 10
    return max(3, int(base * scale))


# -- under mpiexec -----------------------------------------------------------------
def time_calls(comm, call, repeats: int, warmup: int = 3) -> float:
    """The median over ``repeats`` calls of the slowest rank's time for ``call()``."""
    from mpi4py import MPI

    for _ in range(warmup):
        call()
    times = np.empty(repeats)
    for i in range(repeats):
        comm.Barrier()
        start = time.perf_counter()
        call()
        times[i] = time.perf_counter() - start
    comm.Allreduce(MPI.IN_PLACE, times, op=MPI.MAX)
    return float(np.median(times))


def fit_alpha_beta(nbytes, seconds):
    """(alpha, beta) of t = alpha + bytes / beta, least squares on the relative error."""
    nbytes, seconds = np.asarray(nbytes, float), np.asarray(seconds, float)
    a = np.stack([1 / seconds, nbytes / seconds], axis=1)     # each row divided by its t
    (alpha, inverse_beta), *_ = np.linalg.lstsq(a, np.ones_like(seconds), rcond=None)
    return alpha, 1 / inverse_beta


def sweep(scale: float) -> None:
    from mpi4py import MPI

    import fastnn as fnn
    from fastnn import data_parallel, zoo

    world = fnn.distributed.init()
    comm, n = MPI.COMM_WORLD, world.size
    if n < 2:
        raise SystemExit("bench/allreduce.py: run it under mpiexec with two or more ranks "
                         "(mpiexec -n 2 python -m mpi4py bench/allreduce.py), or pass --models")
    talk = world.rank == 0
    if talk:
        print(f"{n} ranks, {world.local_size} on rank 0's node; {MPI.Get_library_version().splitlines()[0]}")
        print("float32 in-place Sum allreduce; median of the slowest rank's time; busbw = algbw * 2(N-1)/N\n")
        print("| bytes | mpi4py median (s) | algbw (GB/s) | busbw (GB/s) | fastnn median (s) | fastnn / mpi4py |")
        print("|---:|---:|---:|---:|---:|---:|")
    measured = []
    for nbytes in SIZES:
        buffer = np.zeros(nbytes // 4, dtype=np.float32)   # zeros: repeated sums neither grow nor overflow
        repeats = repeats_for(nbytes, scale)
        t_mpi = time_calls(comm, lambda: comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM), repeats)
        t_fnn = time_calls(comm, lambda: world.allreduce_in_place(buffer, op="mean"), repeats)
        measured.append((nbytes, t_mpi))
        if talk:
            algbw = nbytes / t_mpi / 1e9
            print(f"| {human(nbytes)} | {t_mpi:.3e} | {algbw:.3f} | {algbw * 2 * (n - 1) / n:.3f} | "
                  f"{t_fnn:.3e} | {t_fnn / t_mpi:.2f} |")
    alpha, beta = fit_alpha_beta(*zip(*measured))
    worst = max(abs(alpha + b / beta - t) / t for b, t in measured)
    if talk:
        print(f"\nfit t = alpha + bytes / beta:  alpha = {alpha * 1e6:.2f} us,  beta = {beta / 1e9:.2f} GB/s  "
              f"(worst relative error {worst:.0%})")
        print(f"ring model at N = {n}: L = alpha / {2 * (n - 1)} = {alpha / (2 * (n - 1)) * 1e6:.2f} us, "
              f"B = beta * 2(N-1)/N = {beta * 2 * (n - 1) / n / 1e9:.2f} GB/s\n")
        print("| model | parameters | float32 bytes | buckets | reduce_gradients median (s) | "
              "alpha + bytes/beta (s) |")
        print("|---|---:|---:|---:|---:|---:|")
    for name in zoo.MODELS:
        fnn.manual_seed(0)
        params = zoo.build(name, IMAGE, CLASSES, backend="cpu").parameters()
        for p in params:
            p.grad = fnn.tensor(np.ones(p.shape, dtype=np.float32), backend="cpu")
        count = sum(p.size for p in params)
        buckets = len(list(data_parallel._buckets(params, data_parallel.BUCKET_BYTES)))
        t = time_calls(comm, lambda: data_parallel.reduce_gradients(params, world), repeats_for(4 * count, scale))
        if talk:
            print(f"| {name} | {count:,} | {human(4 * count)} | {buckets} | {t:.3e} | "
                  f"{alpha + 4 * count / beta:.3e} |")


# -- one process: the zoo models ------------------------------------------------------
def step_seconds(model, batch: int, steps: int = 20, warmup: int = 3) -> tuple[float, float]:
    """(median, fastest) seconds of one training step at ``batch`` samples (what one rank computes)."""
    import fastnn as fnn
    import fastnn.functional as F

    rng = np.random.default_rng(0)
    x = fnn.tensor(rng.random((batch, *IMAGE), dtype=np.float32), backend="cpu")
    y = fnn.tensor(rng.integers(0, CLASSES, batch), backend="cpu")
    optimizer = fnn.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        optimizer.zero_grad()
        loss = F.sparse_categorical_crossentropy(model(x, training=True), y)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):       # the first call compiles (or loads) the Numba kernels
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), min(times)


def allreduce_seconds(nbytes: int, n: int, latency: float, bandwidth: float, bucket: int, ring=True) -> float:
    """Allreduce of ``nbytes`` over ``n`` ranks, in buckets of at most ``bucket`` bytes, each
    2(N-1)/N * bytes / B + latency terms: 2(N-1) L for a ring, 2 log2(N) L for recursive
    halving and doubling (Rabenseifner's algorithm)."""
    full, rest = divmod(nbytes, bucket)
    steps = 2 * (n - 1) if ring else 2 * math.ceil(math.log2(n))
    return sum(2 * (n - 1) / n * b / bandwidth + steps * latency for b in [bucket] * full + ([rest] if rest else []))


def models(batch: int, alpha: float | None, beta: float | None) -> None:
    import fastnn as fnn
    from fastnn import data_parallel, zoo

    print(f"zoo models for {IMAGE} images, {CLASSES} classes; one step at batch {batch}, backend cpu, "
          f"{fnn.get_num_threads()} threads\n")
    print("| model | parameters | float32 bytes | step, median (ms) | step, fastest (ms) |")
    print("|---|---:|---:|---:|---:|")
    rows = []
    for name in zoo.MODELS:
        fnn.manual_seed(0)
        model = zoo.build(name, IMAGE, CLASSES, backend="cpu")
        count = sum(p.size for p in model.parameters())
        median, fastest = step_seconds(model, batch)
        rows.append((name, count, 4 * count, fastest))
        print(f"| {name} | {count:,} | {human(4 * count)} | {median * 1e3:.1f} | {fastest * 1e3:.1f} |")
    print("\nthe estimates below take the fastest step: what the machine does when no other job runs on it")
    bucket = data_parallel.BUCKET_BYTES
    if alpha is not None and beta is not None:
        print(f"\nthis machine, N = 2: L = alpha / 2 = {alpha / 2 * 1e6:.2f} us, B = beta = {beta / 1e9:.2f} GB/s\n")
        print("| model | allreduce (ms) | allreduce / step | efficiency |")
        print("|---|---:|---:|---:|")
        for name, count, nbytes, step in rows:
            t = allreduce_seconds(nbytes, 2, alpha / 2, beta, bucket)
            print(f"| {name} | {t * 1e3:.3f} | {t / step:.3f} | {step / (step + t):.0%} |")
    for ring in (True, False):
        latency_term = "2(N-1) L (ring)" if ring else "2 log2(N) L (Rabenseifner)"
        print(f"\nallreduce per step with latency term {latency_term}; "
              + "; ".join(f"{net}: B = {b / 1e9:.3g} GB/s, L = {lat * 1e6:g} us" for net, lat, b in NETWORKS)
              + "\nefficiency = step / (step + allreduce)\n")
        head = " | ".join(f"{net}: allreduce (ms) | allreduce / step | efficiency" for net, _, _ in NETWORKS)
        print(f"| model | N | {head} |")
        print("|---|---:|" + "---:|" * 3 * len(NETWORKS))
        for name, count, nbytes, step in rows:
            for n in WORLD_SIZES:
                cells = []
                for _, latency, bandwidth in NETWORKS:
                    t = allreduce_seconds(nbytes, n, latency, bandwidth, bucket, ring)
                    cells += [f"{t * 1e3:.2f}", f"{t / step:.2f}", f"{step / (step + t):.0%}"]
                print(f"| {name} | {n} | " + " | ".join(cells) + " |")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", action="store_true", help="the zoo models' step times and the projection")
    parser.add_argument("--batch", type=int, default=32, help="samples per rank for --models (default 32)")
    parser.add_argument("--alpha", type=float, help="seconds, from the mpiexec run (with --models)")
    parser.add_argument("--beta", type=float, help="bytes per second, from the mpiexec run (with --models)")
    parser.add_argument("--repeats", type=float, default=1.0, help="scale the number of timed calls")
    args = parser.parse_args(argv)
    if args.models:
        models(args.batch, args.alpha, args.beta)
    else:
        sweep(args.repeats)


if __name__ == "__main__":
    main()
