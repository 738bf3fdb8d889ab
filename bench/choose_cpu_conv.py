"""Measurements behind the layout choices of kernels/cpu/{conv,pooling,batchnorm}.py.

    python bench/choose_cpu_conv.py [conv|pool|bn|all] [--torch] [--only SHAPE ...]

--only limits the conv shapes to those named (CONV_SHAPES).

--torch times PyTorch alone (torch.set_num_threads(2)), in its own process: in one
process PyTorch's and Numba's OpenMP thread teams spin against each other on 2 cores
and both figures come out several times too slow.

Alternatives are interleaved in one process (the machine is shared) and the median
of the rounds is printed, in milliseconds per call. float32, weights N(0, 1/fan_in)
(float32 subnormals would make BLAS slow and the figures meaningless).
"""

import sys
import time

import fastnn  # noqa: F401  (before NumPy: it sets the BLAS threads environment)
import numpy as np

from fastnn.kernels.cpu import batchnorm as CB
from fastnn.kernels.cpu import conv as CC
from fastnn.kernels.cpu import pooling as CP
from fastnn.kernels.reference import batchnorm as RB
from fastnn.kernels.reference import conv as RC
from fastnn.kernels.reference import pooling as RP

ROUNDS = 15


def bench(fns, rounds=ROUNDS):
    """fns: name -> callable. Interleaved rounds: (median, min) ms per call. The minimum
    is the steadier figure when other processes share the cores."""
    for f in fns.values():
        f()
    times = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    return {k: (1e3 * float(np.median(v)), 1e3 * float(np.min(v))) for k, v in times.items()}


def show(title, res):
    print(f"{title}: " + "  ".join(f"{k} {v[0]:.3f} (min {v[1]:.3f})" for k, v in res.items()), flush=True)


def _torch():
    if "--torch" not in sys.argv:
        return None
    import torch
    torch.set_num_threads(2)
    return torch


CONV_SHAPES = [  # (name, x shape, w shape, pad, need_gx); the step and op workloads' convolutions
    ("cnn_conv1", (64, 1, 28, 28), (32, 1, 3, 3), (1, 1, 1, 1), False),
    ("cnn_conv2", (64, 32, 14, 14), (64, 32, 3, 3), (1, 1, 1, 1), True),
    ("mnist_conv1", (128, 1, 28, 28), (32, 1, 3, 3), (0, 0, 0, 0), False),
    ("mnist_conv2", (128, 32, 13, 13), (64, 32, 3, 3), (0, 0, 0, 0), True),
    ("conv3x3", (32, 64, 32, 32), (64, 64, 3, 3), (1, 1, 1, 1), True),
    ("conv1_c1k3_28", (64, 1, 28, 28), (32, 1, 3, 3), (1, 1, 1, 1), False),
    ("conv1_c1k5_28", (64, 1, 28, 28), (32, 1, 5, 5), (2, 2, 2, 2), False),
    ("conv1_c3k3_32", (64, 3, 32, 32), (32, 3, 3, 3), (1, 1, 1, 1), False),
    ("conv1_c3k5_32", (64, 3, 32, 32), (32, 3, 5, 5), (2, 2, 2, 2), False),
    ("conv_c8_16x16", (32, 8, 16, 16), (16, 8, 3, 3), (1, 1, 1, 1), True),
    ("conv_c16_8x8", (16, 16, 8, 8), (32, 16, 3, 3), (1, 1, 1, 1), True),
    ("conv1x1", (32, 256, 28, 28), (64, 256, 1, 1), (0, 0, 0, 0), True),
    # further 3x3 shapes for the rule's Winograd thresholds
    ("c64_16x16", (32, 64, 16, 16), (64, 64, 3, 3), (1, 1, 1, 1), True),
    ("c64_8x8", (32, 64, 8, 8), (64, 64, 3, 3), (1, 1, 1, 1), True),
    ("c32_32x32", (32, 32, 32, 32), (32, 32, 3, 3), (1, 1, 1, 1), True),
    ("c16_32x32", (16, 16, 32, 32), (16, 16, 3, 3), (1, 1, 1, 1), True),
    ("c128_16x16", (16, 128, 16, 16), (128, 128, 3, 3), (1, 1, 1, 1), True),
    ("c128_8x8", (32, 128, 8, 8), (128, 128, 3, 3), (1, 1, 1, 1), True),
]


def run_conv(torch):
    """Every algorithm of kernels/cpu/conv.py forced in turn on each shape, ReLU fused:
    forward alone, then forward+backward. The rule's pick is marked with '*'."""
    rng = np.random.default_rng(0)
    selected = CC.FORCED
    only = None
    if "--only" in sys.argv:
        names = sys.argv[sys.argv.index("--only") + 1:]
        only = names[:next((k for k, a in enumerate(names) if a.startswith("--")), len(names))]
    unknown = set(only or ()) - {shape[0] for shape in CONV_SHAPES}
    if unknown:
        raise SystemExit(f"--only: unknown shapes {sorted(unknown)}; known: {[shape[0] for shape in CONV_SHAPES]}")
    for name, xs, ws, pad, need_gx in CONV_SHAPES:
        if only and name not in only:
            continue
        x = rng.standard_normal(xs, dtype=np.float32)
        w = (rng.standard_normal(ws) / np.sqrt(ws[1] * ws[2] * ws[3])).astype(np.float32)
        b = (0.1 * rng.standard_normal(ws[0])).astype(np.float32)
        y_ref, _, _ = RC.conv2d_fwd(x, w, b, (1, 1), pad, "relu", 0.0)
        gy = rng.standard_normal(y_ref.shape, dtype=np.float32)
        fns = {}
        if torch is None:
            CC.FORCED = None
            pick = CC.choose_algorithm(xs, ws, (1, 1), pad)
            runnable = [a for a in CC.ALGORITHMS
                        if not a.startswith("winograd") or CC.winograd_applies(ws, (1, 1))]
            for algorithm in runnable:
                def fwd(algorithm=algorithm):
                    CC.FORCED = algorithm
                    return CC.conv2d_fwd(x, w, b, (1, 1), pad, "relu", 0.0)

                def step(algorithm=algorithm):
                    y, z, saved = fwd(algorithm)
                    CC.conv2d_bwd(xs, w, saved, z, y, gy, (1, 1), pad, "relu", 0.0, need_gx, True, True)
                mark = "*" if algorithm == pick else ""
                fns[f"{algorithm}{mark}_fwd"] = fwd
                fns[f"{algorithm}{mark}_step"] = step
        else:
            tx = torch.from_numpy(x).requires_grad_(need_gx)
            tw = torch.from_numpy(w).requires_grad_(True)
            tb = torch.from_numpy(b).requires_grad_(True)
            tgy = torch.from_numpy(gy)

            def tfwd():
                with torch.no_grad():
                    torch.relu(torch.nn.functional.conv2d(tx, tw, tb, padding=pad[0]))

            def tstep():
                torch.relu(torch.nn.functional.conv2d(tx, tw, tb, padding=pad[0])).backward(tgy)
            fns["torch_fwd"], fns["torch_step"] = tfwd, tstep
        show(name, bench(fns, rounds=7 if xs[0] * ws[0] * ws[1] * xs[2] * xs[3] > 5e7 else ROUNDS))
    CC.FORCED = selected


def run_pool(torch):
    rng = np.random.default_rng(0)
    for name, xs, k, s, pad in [("cnn_pool1", (64, 32, 28, 28), (2, 2), (2, 2), (0, 0, 0, 0)),
                                ("cnn_pool2", (64, 64, 14, 14), (2, 2), (2, 2), (0, 0, 0, 0)),
                                ("pool3s1p1", (32, 64, 32, 32), (3, 3), (1, 1), (1, 1, 1, 1))]:
        x = rng.standard_normal(xs, dtype=np.float32)
        y, am = RP.max_pool2d_fwd(x, k, s, pad)
        gy = rng.standard_normal(y.shape, dtype=np.float32)
        fns = {}
        for tag, mod in (() if torch is not None else (("cpu", CP), ("ref", RP))):
            def mx(mod=mod):
                yy, a = mod.max_pool2d_fwd(x, k, s, pad)
                mod.max_pool2d_bwd(gy, a, xs, k, s, pad)

            def av(mod=mod):
                mod.avg_pool2d_fwd(x, k, s, pad, False)
                mod.avg_pool2d_bwd(gy, xs, k, s, pad, False)
            fns[f"{tag}_max"] = mx
            fns[f"{tag}_avg"] = av
        if torch is not None:
            tx = torch.from_numpy(x).requires_grad_(True)
            tgy = torch.from_numpy(gy)

            def tmx():
                torch.nn.functional.max_pool2d(tx, k, s, pad[0]).backward(tgy)

            def tav():
                torch.nn.functional.avg_pool2d(tx, k, s, pad[0], count_include_pad=False).backward(tgy)
            fns["torch_max"] = tmx
            fns["torch_avg"] = tav
        show(name + " fwd+bwd", bench(fns))


def run_bn(torch):
    rng = np.random.default_rng(0)
    for xs in [(32, 64, 32, 32), (64, 128), (4096, 8), (64, 32, 28, 28)]:
        c = xs[1]
        x = (rng.standard_normal(xs, dtype=np.float32) * 2 + 1).astype(np.float32)
        gy = rng.standard_normal(xs, dtype=np.float32)
        gamma = rng.standard_normal(c, dtype=np.float32)
        beta = rng.standard_normal(c, dtype=np.float32)
        fns = {}
        for tag, mod in (() if torch is not None else (("cpu", CB), ("ref", RB))):
            rm, rv = np.zeros(c, np.float32), np.ones(c, np.float32)
            _, mean, invstd = mod.batchnorm_fwd_train(x, gamma, beta, rm, rv, 0.1, 1e-5)
            fns[f"{tag}_fwd"] = lambda mod=mod, rm=rm, rv=rv: mod.batchnorm_fwd_train(x, gamma, beta, rm, rv, 0.1, 1e-5)
            fns[f"{tag}_bwd"] = lambda mod=mod, m=mean, s=invstd: mod.batchnorm_bwd_train(x, gamma, m, s, gy)
        if torch is not None:
            tx = torch.from_numpy(x)
            tg, tb = torch.from_numpy(gamma).requires_grad_(True), torch.from_numpy(beta).requires_grad_(True)
            trm, trv = torch.zeros(c), torch.ones(c)
            tgy = torch.from_numpy(gy)
            txr = tx.clone().requires_grad_(True)
            yy = torch.nn.functional.batch_norm(txr, trm, trv, tg, tb, True, 0.1, 1e-5)

            def tf():
                with torch.no_grad():
                    torch.nn.functional.batch_norm(tx, trm, trv, tg, tb, True, 0.1, 1e-5)

            def tbw():
                torch.autograd.grad(yy, (txr, tg, tb), tgy, retain_graph=True)
            fns["torch_fwd"] = tf
            fns["torch_bwd"] = tbw
        show(f"bn {xs}", bench(fns))


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else "all"
    t = _torch()
    if what in ("conv", "all"):
        run_conv(t)
    if what in ("pool", "all"):
        run_pool(t)
    if what in ("bn", "all"):
        run_bn(t)
