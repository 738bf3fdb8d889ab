"""fastnn's gpu backend side by side with PyTorch CUDA, on one GPU.

    python bench/compare_gpu.py [--rounds 15] [--calls 20] [--only mlp_b128 ...] [--json out.json] [--no-profile]

Workloads (float32, forward + backward + SGD update for the steps; bench/workloads.py
defines the models and data, shared with bench/compare.py):

* training steps: MLP 784-512-256-10 (batch 128 and 1024) and CNN 1x28x28 (conv 1->32,
  pool, conv 32->64, pool, dense 128, dense 10; batch 64 and 256), sparse softmax CE, SGD;
* single ops, forward and forward+backward: conv 3x3 64->64 on 32x32 at batch 32, batch
  norm (32, 64, 32, 32), softmax CE (1024, 1000), dense 1024x1024 + bias + ReLU at batch 256;
* bandwidth: achieved GB/s of the fused bias+ReLU epilogue, batch-norm and softmax-CE
  kernels against a device-to-device copy, at the op sizes above and at large sizes,
  counting the fewest bytes each must move (every input read once, every output
  written once);
* launch counts and GPU busy time per step (PyTorch's profiler sees every CUDA kernel
  of the process, CuPy's included), to show where the time of a step goes.

Timing: CUDA events around a batch of ``--calls`` calls after warm-up, synchronised,
median over ``--rounds`` rounds, the implementations interleaved round by round. PyTorch
runs in strict float32 (TF32 off for matmul and cuDNN), as fastnn computes.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # noqa: E402

STEPS = {"mlp_b128": ("mlp", 128), "mlp_b1024": ("mlp", 1024), "cnn_b64": ("cnn", 64), "cnn_b256": ("cnn", 256)}
OPS = workloads.OPS


# -- workloads (bench/workloads.py) without synchronisation: the timer synchronises ----------------
def fastnn_step(kind, batch):
    return workloads.fastnn_step(kind, batch, "gpu", sync=False)[1]


def torch_step(kind, batch):
    return workloads.torch_step(kind, batch, "cuda", sync=False)[1]


def fastnn_op(op):
    """(forward, forward + backward) of a single op."""
    return workloads.fastnn_op(op, "gpu", sync=False)


def torch_op(op):
    return workloads.torch_op(op, "cuda", sync=False)


# -- timing --------------------------------------------------------------------------------------
def _events(impl):
    if impl == "torch":
        import torch

        return (lambda: torch.cuda.Event(enable_timing=True)), (lambda a, b: a.elapsed_time(b)), \
            torch.cuda.synchronize
    import cupy

    return cupy.cuda.Event, lambda a, b: cupy.cuda.get_elapsed_time(a, b), cupy.cuda.Device().synchronize


def time_interleaved(fns: dict, rounds: int, calls: int, warmup: int = 5) -> dict:
    """impl -> (median ms per call, first-call ms); impls interleaved round by round."""
    first = {}
    for impl, fn in fns.items():
        make, _, sync = _events(impl)
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        first[impl] = (time.perf_counter() - t0) * 1e3
        for _ in range(warmup):
            fn()
        sync()
    samples = {impl: [] for impl in fns}
    for _ in range(rounds):
        for impl, fn in fns.items():
            make, elapsed, sync = _events(impl)
            start, end = make(), make()
            sync()
            start.record()
            for _ in range(calls):
                fn()
            end.record()
            end.synchronize()
            samples[impl].append(elapsed(start, end) / calls)
    return {impl: (statistics.median(v), first[impl]) for impl, v in samples.items()}


def time_kernel(fn, rounds=20, calls=10):
    import cupy

    fn()
    cupy.cuda.Device().synchronize()
    times = []
    for _ in range(rounds):
        start, end = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        for _ in range(calls):
            fn()
        end.record()
        end.synchronize()
        times.append(cupy.cuda.get_elapsed_time(start, end) / calls)
    return statistics.median(times)


# -- bandwidth of the memory-bound kernels ----------------------------------------------------------
def bandwidth(sizes="both"):
    """[(kernel, shape, ms, GB/s, % of copy)] at the op sizes and at large sizes."""
    import cupy

    from fastnn.kernels.gpu import batchnorm as bn
    from fastnn.kernels.gpu import softmax as sm
    from fastnn.kernels.gpu import _rt, sources

    rows = []
    rng = cupy.random.default_rng(0)

    def copy_gbs(nbytes):
        a = cupy.empty(nbytes // 4, dtype=cupy.float32)
        a[...] = 1
        b = cupy.empty_like(a)
        ms = time_kernel(lambda: cupy.copyto(b, a))
        return 2 * nbytes / ms / 1e6

    configs = [("op size", (256, 1024), (32, 64, 32, 32), (1024, 1000)),
               ("large", (16384, 4096), (128, 64, 64, 64), (65536, 1000))]
    for label, dense, bn_shape, ce_shape in configs:
        # bias + relu epilogue: read z, write z (in place); the bias vector is negligible
        z = rng.standard_normal(dense, dtype=cupy.float32)
        b = rng.standard_normal(dense[1], dtype=cupy.float32)
        magic, shift = sources.magic_div(dense[1])
        kern = _rt.elementwise("fastnn_bias_relu", cupy.float32)
        nbytes = z.nbytes
        ms = time_kernel(lambda: kern(z.size, b, dense[1], magic, shift, 0.0, z))
        ref = copy_gbs(nbytes)
        rows.append(("bias+relu epilogue", label, dense, ms, 2 * nbytes / ms / 1e6, ref))
        # batch norm training forward (2 launches: statistics pass, normalise pass)
        x = rng.standard_normal(bn_shape, dtype=cupy.float32)
        c = bn_shape[1]
        g, bt = cupy.ones(c, cupy.float32), cupy.zeros(c, cupy.float32)
        rm, rv = cupy.zeros(c, cupy.float32), cupy.ones(c, cupy.float32)
        ms = time_kernel(lambda: bn.batchnorm_fwd_train(x, g, bt, rm, rv, 0.1, 1e-5))
        ref = copy_gbs(x.nbytes)
        rows.append(("batchnorm fwd (train)", label, bn_shape, ms, 2 * x.nbytes / ms / 1e6, ref))
        y, mean, invstd = bn.batchnorm_fwd_train(x, g, bt, rm, rv, 0.1, 1e-5)
        gy = rng.standard_normal(bn_shape, dtype=cupy.float32)
        ms = time_kernel(lambda: bn.batchnorm_bwd_train(x, g, mean, invstd, gy))
        rows.append(("batchnorm bwd (train)", label, bn_shape, ms, 3 * x.nbytes / ms / 1e6, ref))
        # softmax cross-entropy with gradient: read logits, write gradient
        zl = rng.standard_normal(ce_shape, dtype=cupy.float32)
        labels = cupy.asarray(np.random.default_rng(0).integers(0, ce_shape[1], ce_shape[0]))
        ms = time_kernel(lambda: sm.softmax_ce_fwd_bwd(zl, labels, True))
        ref = copy_gbs(zl.nbytes)
        rows.append(("softmax CE fwd+grad", label, ce_shape, ms, 2 * zl.nbytes / ms / 1e6, ref))
    return rows


# -- where the time of a step goes ------------------------------------------------------------------
def profile_step(fn, calls=10):
    """(kernel launches per call, GPU busy ms per call, top kernels) from PyTorch's profiler."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(calls):
            fn()
        torch.cuda.synchronize()
    def device_us(e):
        return getattr(e, "device_time", None) or getattr(e, "cuda_time", 0.0)

    kernels = [e for e in prof.events() if str(e.device_type).endswith("CUDA") and "Memcpy" not in e.name
               and "Memset" not in e.name]
    busy = sum(device_us(e) for e in kernels) / 1e3 / calls
    by_name = {}
    for e in kernels:
        by_name[e.name] = by_name.get(e.name, 0.0) + device_us(e) / 1e3 / calls
    top = sorted(by_name.items(), key=lambda kv: -kv[1])[:6]
    return len(kernels) / calls, busy, top


def overheads(calls=2000):
    """Host microseconds per call of the pieces of a step (launches are asynchronous; the
    device is synchronised once at the end of each loop)."""
    import cupy

    import fastnn as fnn
    import fastnn.functional as F
    from fastnn.kernels.gpu import _blas, _rt
    from fastnn.kernels.gpu import activations as acts

    x = cupy.ones((128, 784), cupy.float32)
    w = cupy.ones((784, 512), cupy.float32)
    z = cupy.ones((128, 512), cupy.float32)
    relu = _rt.elementwise("fastnn_relu_fwd", cupy.float32)
    tx = fnn.tensor(np.ones((128, 784), np.float32), backend="gpu")
    tw = fnn.tensor(np.ones((784, 512), np.float32), backend="gpu", requires_grad=True)
    tb = fnn.tensor(np.ones(512, np.float32), backend="gpu", requires_grad=True)
    pieces = {
        "cupy.empty_like": lambda: cupy.empty_like(z),
        "raw launch (relu kernel)": lambda: relu(z.size, z, 0.0, z),
        "relu_fwd kernel wrapper": lambda: acts.relu_fwd(z, 0.0),
        "cupy ufunc z * 2": lambda: z * 2,
        "cupy.matmul 128x784x512": lambda: cupy.matmul(x, w),
        "cuBLAS gemm (direct)": lambda: _blas.gemm(x, w),
        "F.relu (op + autograd node)": lambda: F.relu(fnn.Tensor._make(z, tx._backend)),
        "F.linear fwd (op + node)": lambda: F.linear(tx, tw, tb, activation="relu"),
    }
    rows = []
    for name, fn in pieces.items():
        for _ in range(50):
            fn()
        cupy.cuda.Device().synchronize()
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        cupy.cuda.Device().synchronize()
        rows.append((name, (time.perf_counter() - t0) / calls * 1e6))
    return rows


def cprofile_step(name, calls=200, top=25):
    import cProfile
    import io
    import pstats

    step = fastnn_step(*STEPS[name])
    for _ in range(10):
        step()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        step()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--json")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--no-bandwidth", action="store_true")
    parser.add_argument("--overhead", action="store_true", help="host cost of the pieces of a step")
    parser.add_argument("--cprofile", help="cProfile one training step workload (e.g. mlp_b128)")
    args = parser.parse_args(argv)

    import cupy
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    device = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    print(f"device: {device}; cupy {cupy.__version__}; torch {torch.__version__}; "
          f"python {platform.python_version()}; {time.strftime('%Y-%m-%d')}")
    results = {"device": device, "date": time.strftime("%Y-%m-%d"), "cupy": cupy.__version__,
               "torch": torch.__version__, "workloads": {}, "bandwidth": [], "profile": {}}

    names = list(STEPS) + [f"{op}_{part}" for op in OPS for part in ("fwd", "fwd+bwd")]
    if args.only:
        names = [n for n in names if n in args.only]
    print(f"\n{'workload':<22}{'fastnn ms':>11}{'torch ms':>11}{'torch/fastnn':>14}{'fastnn first ms':>17}")
    for name in names:
        if name in STEPS:
            fns = {"fastnn": fastnn_step(*STEPS[name]), "torch": torch_step(*STEPS[name])}
        else:
            op, part = name.rsplit("_", 1)
            f_fwd, f_step = fastnn_op(op)
            t_fwd, t_step = torch_op(op)
            fns = {"fastnn": f_fwd if part == "fwd" else f_step, "torch": t_fwd if part == "fwd" else t_step}
        timed = time_interleaved(fns, args.rounds, args.calls)
        (fms, first), (tms, _) = timed["fastnn"], timed["torch"]
        results["workloads"][name] = {"fastnn_ms": fms, "torch_ms": tms, "speedup": tms / fms, "first_ms": first}
        print(f"{name:<22}{fms:>11.3f}{tms:>11.3f}{tms / fms:>13.2f}x{first:>17.1f}")
        if name in STEPS and not args.no_profile:
            try:
                prof = {impl: profile_step(fn) for impl, fn in fns.items()}
            except Exception as exc:  # the profiler is a diagnostic; timings stand without it
                print(f"    (profiler unavailable: {type(exc).__name__}: {exc})")
                continue
            results["profile"][name] = {impl: {"launches": p[0], "gpu_busy_ms": p[1], "top": p[2]}
                                        for impl, p in prof.items()}
            for impl, (launches, busy, top) in prof.items():
                wall = timed[impl][0]
                tops = ", ".join(f"{k[:40]} {v:.3f}" for k, v in top[:4])
                print(f"    {impl:<7} {launches:5.0f} kernels/step, GPU busy {busy:.3f} ms of {wall:.3f} ms "
                      f"({100 * busy / wall:.0f}%); top: {tops}")

    if not args.no_bandwidth:
        print(f"\n{'kernel':<24}{'size':<8}{'shape':<20}{'ms':>9}{'GB/s':>9}{'copy GB/s':>11}{'% of copy':>11}")
        for kernel, label, shape, ms, gbs, copy in bandwidth():
            results["bandwidth"].append({"kernel": kernel, "size": label, "shape": shape, "ms": ms, "gbs": gbs,
                                         "copy_gbs": copy, "fraction": gbs / copy})
            print(f"{kernel:<24}{label:<8}{str(shape):<20}{ms:>9.4f}{gbs:>9.0f}{copy:>11.0f}{100 * gbs / copy:>10.0f}%")
    if args.overhead:
        print(f"\n{'host cost per call':<32}{'us':>8}")
        results["overhead_us"] = {}
        for piece, us in overheads():
            results["overhead_us"][piece] = us
            print(f"{piece:<32}{us:>8.1f}")
    if args.cprofile:
        print(f"\ncProfile of {args.cprofile} (200 steps, by own time):")
        print(cprofile_step(args.cprofile))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
