"""fastnn's cpu backend side by side with the numpy reference backend and PyTorch CPU.

    python bench/compare.py [--threads N] [--rounds 7] [--only mlp_b128 cnn_b64 ...] [--json out.json]
                            [--peak-seconds 0.5]

Every workload of bench/workloads.py (training steps and single ops) runs on each
implementation — fastnn ``numpy``, fastnn ``cpu`` and, when torch imports, PyTorch CPU
with the same thread count — interleaved round by round, so that a noisy neighbour
slows all of them alike. Each implementation lives in its own worker process, driven
by this one: two libraries' thread pools in one process spin against each other on a
2-core machine (PyTorch's OpenMP threads and the BLAS threads made both sides 2-5x
slower), which would measure the interference, not the libraries. Only one worker
runs at a time, and the next starts after a pause (``--settle``) in which the last
one's idle threads stop spinning (OpenBLAS and OpenMP threads busy-wait for a while
after each call, taking the cores from whoever runs next); each round then makes one
untimed call before the timed ones, so no implementation is timed waking up. Each round times a fixed number of calls per implementation; the
figure is the median over rounds. The first call (compilation, caches) is timed
separately and reported as "first". PyTorch's worker starts with fixed glibc malloc
thresholds (``TORCH_MALLOC_ENV``): otherwise its large outputs page-fault in some
processes and not in others.

Columns: ms per call; samples/s of the cpu backend for training steps; speedups
numpy/cpu (how many times faster the cpu backend is than the reference) and
torch/cpu (> 1: fastnn is faster than PyTorch). For the convolution op rows (every op
of ``workloads.CONV_OPS``): GFLOP/s achieved by the cpu backend and by PyTorch, and each
as a percentage of the float32 GEMM peak of this machine (bench/sgemm_peak.py), measured
once per run in this driver process, with the same thread count, before the workers
start (so no worker is running; the rest before each round lets BLAS's threads settle).
FLOP convention (``workloads.conv_flops``): a forward convolution is 2*N*F*C*kh*kw*OH*OW;
forward+backward is 3x that where the input needs a gradient (conv3x3: data and filter
gradients each cost a forward), 2x for the first-layer rows (conv1_*), whose input
needs none. FLOPs are those of direct convolution, whatever algorithm runs (a Winograd
or FFT kernel can pass 100 % of the GEMM peak).

The top lines name the CPU (/proc/cpuinfo "model name"), threads, torch and the BLAS.
"""

from __future__ import annotations

import fastnn  # noqa: F401,E402  (before NumPy: it shortens OpenBLAS's idle spin, fastnn/runtime.py)

import argparse
import contextlib
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # noqa: E402

STEP_WORKLOADS = {"mlp_b128": ("mlp", 128), "mlp_b1024": ("mlp", 1024), "cnn_b64": ("cnn", 64),
                  "mnist_convnet_b128": ("mnist_convnet", 128)}
OP_WORKLOADS = {f"{op}_{part}": (op, part) for op in workloads.OPS for part in ("fwd", "fwd+bwd")}


def cpu_model():
    """The CPU's name as lscpu shows it ("model name" of /proc/cpuinfo), else platform's guess."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def conv_flops(name):
    """FLOPs of one call of workload ``name`` when it is a convolution op row, else None."""
    if name not in OP_WORKLOADS:
        return None
    op, part = OP_WORKLOADS[name]
    return workloads.conv_flops(op, part) if op in workloads.CONV_OPS else None


def _maker(name, impl):
    """The callable that workload ``name`` times for ``impl``."""
    if name in STEP_WORKLOADS:
        kind, batch = STEP_WORKLOADS[name]
        _, step = workloads.torch_step(kind, batch) if impl == "torch" else workloads.fastnn_step(kind, batch, impl)
        return step
    op, part = OP_WORKLOADS[name]
    forward, step = workloads.torch_op(op) if impl == "torch" else workloads.fastnn_op(op, impl)
    return forward if part == "fwd" else step


def _time(fn, calls):
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def _worker(impl, threads, conn, maker=None):
    """One implementation in its own process: answers ("setup", name[, probe]) with the
    first-call time and the time of one warm call (None with probe=False: for calls of many
    seconds, where the caller fixes the calls per round and a probe would cost two more),
    and ("run", name, calls[, wake]) with the time per call, after one untimed call unless
    wake=False; ("stop",) ends it. ``maker(name, impl)`` gives the callable to time
    (default: this file's workloads; another script passes its own module-level function,
    e.g. bench/compare_fit.py)."""
    import fastnn as fnn

    fnn.set_num_threads(threads)
    if impl == "torch":
        import torch

        torch.set_num_threads(threads)
    fns = {}
    while True:
        message = conn.recv()
        if message[0] == "stop":
            return
        name = message[1]
        if message[0] == "setup":
            fns[name] = (maker or _maker)(name, impl)
            first = _time(fns[name], 1)   # compilation, allocator warm-up
            if len(message) > 2 and not message[2]:
                conn.send((first, None))
                continue
            fns[name]()
            conn.send((first, _time(fns[name], 1)))
        else:
            if len(message) < 4 or message[3]:
                fns[name]()  # untimed: wakes the thread pools and the allocator after the rest
            conn.send(_time(fns[name], message[2]))


#: glibc malloc settings of PyTorch's worker process. With glibc's defaults the mmap
#: threshold moves with the sizes a process has freed so far, so whether a multi-megabyte
#: output comes from the heap or from fresh, page-faulting mmap memory depends on the
#: order of earlier calls: PyTorch's first-layer convolution (1->32 3x3, 28x28, batch 64,
#: forward+backward) took 0.82-0.87 ms in one process and 6.8-7.7 ms in another on this
#: machine, by which workload ran first, and its conv3x3 forward 11.2 or 18.9 ms. Fixed
#: thresholds (read by glibc at process start, hence the environment the worker is spawned
#: with) keep PyTorch in its fast mode, so a ratio compares it at its best. fastnn's worker
#: runs with glibc's defaults, as its users do: it reuses its large buffers, and the same
#: thresholds for it measured no different within this machine's noise (bench/RESULTS.md).
TORCH_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(256 << 20)}


class Workers:
    def __init__(self, impls, threads, maker=None, torch_malloc_env=TORCH_MALLOC_ENV):
        ctx = multiprocessing.get_context("spawn")
        self.conns, self.procs = {}, []
        for impl in impls:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(impl, threads, child, maker), daemon=True)
            with _environment(torch_malloc_env if impl == "torch" else {}):
                proc.start()
            self.conns[impl], self.procs = parent, self.procs + [proc]

    def ask(self, impl, *message):
        self.conns[impl].send(message)
        return self.conns[impl].recv()

    def close(self):
        for conn in self.conns.values():
            conn.send(("stop",))
        for proc in self.procs:
            proc.join(timeout=10)


@contextlib.contextmanager
def _environment(values):
    """os.environ with ``values`` added (a variable the caller set already is kept)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update({key: os.environ.get(key, value) for key, value in values.items()})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def measure(workers, name, impls, rounds, settle, min_round_s=0.2, calls=None):
    """Median seconds per call of workload ``name`` on each of ``impls``, interleaved round
    by round. Calls per round: ``calls`` when given (then no probe call in the setup and no
    untimed wake-up call before each round: meant for calls of seconds, such as a whole
    epoch, where a wake-up is noise and two more calls per implementation are minutes),
    else enough for a round of ~min_round_s (at least 3)."""
    first, per_round = {}, {}
    for impl in impls:
        if calls:
            first[impl], _ = workers.ask(impl, "setup", name, False)
            per_round[impl] = calls
        else:
            first[impl], one = workers.ask(impl, "setup", name)
            per_round[impl] = max(3, int(min_round_s / max(one, 1e-6)))  # a round lasts ~min_round_s
    samples = {impl: [] for impl in impls}
    for _ in range(rounds):
        for impl in impls:
            time.sleep(settle)
            samples[impl].append(workers.ask(impl, "run", name, per_round[impl], not calls))
    return {impl: {"median_s": statistics.median(s), "first_s": first[impl], "rounds": s} for impl, s in samples.items()}


def main(argv=None):
    import fastnn as fnn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="threads for fastnn and torch (default: cores)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--settle", type=float, default=0.3, help="seconds of rest before each timed round")
    parser.add_argument("--only", nargs="+", choices=[*STEP_WORKLOADS, *OP_WORKLOADS], default=None)
    parser.add_argument("--impls", nargs="+", default=["numpy", "cpu", "torch"], choices=["numpy", "cpu", "torch"],
                        help="what to compare (torch is dropped when it does not import)")
    parser.add_argument("--json", type=Path, default=None, help="write all samples here")
    parser.add_argument("--default-malloc", action="store_true",
                        help="start PyTorch's worker with glibc's default malloc thresholds (see TORCH_MALLOC_ENV)")
    parser.add_argument("--peak-seconds", type=float, default=0.5,
                        help="timed seconds per shape of the sgemm peak (conv rows only)")
    args = parser.parse_args(argv)

    print(f"cpu: {cpu_model()}")
    threads = args.threads or fnn.get_num_threads()
    impls = list(dict.fromkeys(args.impls))
    torch = None
    if "torch" in impls:
        try:
            import torch
        except ImportError:
            impls.remove("torch")
            print("torch is not importable: comparing fastnn backends only")
    print(f"threads: {threads}   rounds: {args.rounds}   torch: {torch.__version__ if torch else '-'}")
    blas = fnn.runtime.blas_info()
    if blas:
        print(f"BLAS: {blas[0].get('internal_api')} {blas[0].get('version')} ({blas[0].get('architecture')})")

    names = args.only or [*STEP_WORKLOADS, *OP_WORKLOADS]
    peak = None
    if any(conv_flops(name) for name in names):
        from sgemm_peak import sgemm_peak_gflops

        # In this process, before any worker exists, so nothing competes for the cores.
        peak = sgemm_peak_gflops(threads, seconds=args.peak_seconds)
        print(f"sgemm peak (np.matmul float32, {threads} threads, bench/sgemm_peak.py): {peak:.1f} GFLOP/s")
    gflop_impls = [i for i in ("cpu", "torch") if i in impls]
    header = f"{'workload':<24}" + "".join(f"{impl + ' ms':>12}" for impl in impls) + \
        f"{'cpu first ms':>14}{'cpu samples/s':>15}{'numpy/cpu':>11}{'torch/cpu':>11}"
    if peak:
        header += "".join(f"{impl + ' GFLOP/s':>15}{'%peak':>7}" for impl in gflop_impls)
    print(header)
    results = {}
    workers = Workers(impls, threads, torch_malloc_env={} if args.default_malloc else TORCH_MALLOC_ENV)
    for name in names:
        r = measure(workers, name, impls, args.rounds, args.settle)
        results[name] = r
        row = f"{name:<24}" + "".join(f"{r[i]['median_s'] * 1e3:>12.3f}" for i in impls)
        if "cpu" in r:
            cpu = r["cpu"]["median_s"]
            row += f"{r['cpu']['first_s'] * 1e3:>14.1f}"
            batch = STEP_WORKLOADS[name][1] if name in STEP_WORKLOADS else None
            row += f"{batch / cpu:>15.0f}" if batch else f"{'':>15}"
            row += f"{r['numpy']['median_s'] / cpu:>10.2f}x" if "numpy" in r else f"{'':>11}"
            row += f"{r['torch']['median_s'] / cpu:>10.2f}x" if "torch" in r else f"{'':>11}"
        else:
            row += f"{'':>51}"
        flops = conv_flops(name)
        if peak and flops:
            for impl in gflop_impls:
                gflops = flops / r[impl]["median_s"] / 1e9
                r[impl]["gflops"], r[impl]["percent_of_peak"] = gflops, 100 * gflops / peak
                row += f"{gflops:>15.1f}{100 * gflops / peak:>6.0f}%"
        print(row, flush=True)
    workers.close()
    if args.json:
        args.json.write_text(json.dumps({"threads": threads, "cpu": cpu_model(), "sgemm_peak_gflops": peak,
                                         "results": results}, indent=1))
    return results


if __name__ == "__main__":
    main()
