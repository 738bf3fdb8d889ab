"""Per-op overhead: fastnn's Python around the arithmetic, against PyTorch's dispatch.

    python bench/overhead.py [--rounds 9] [--only add_8x8 tiny_fwd_bwd fit_step_mlp64]

Workloads (each implementation in its own process, interleaved round by round, medians;
the worker machinery of bench/compare.py):

* ``add_8x8``: ``a + b`` on two 8x8 float32 tensors, no gradient recorded. Nearly all of
  it is dispatch: type checks, backend and dtype resolution, making the result tensor.
* ``tiny_fwd_bwd``: ``relu(x @ w).sum()`` and its backward, x 4x16, w 16x16, both
  requiring gradients, the gradients reset after each call: a whole autograd round trip
  on arrays too small for the arithmetic to matter.
* ``fit_step_mlp64``: one training step of a 64-128-10 MLP (ReLU, softmax
  cross-entropy, Adam) at batch 64, as ``Model.fit`` runs it (an epoch of 32 steps,
  divided by 32), on fastnn only; beside it ``kernels``, the same step as the backend's
  kernels called directly on preallocated arrays (linear forward and backward with the
  fused ReLU, the loss, its mean and its gradient, four Adam updates). fastnn's own Python share
  of the step is 1 - kernels / fit.

Columns: microseconds per call for each implementation, and fastnn/torch (the ratio of
times; < 1: fastnn is faster) or, for the fit step, the Python share.

    python bench/overhead.py --cases [--rounds 15]

times every case-table row (fastnn/testing/table.py) at its *small* size,
forward + backward, on the numpy and cpu backends alternately in one process (the same
library on both sides, so one process is fair), medians, and lists the rows where cpu is
slower than numpy: at these sizes the per-op path, not the arithmetic, decides.
"""

from __future__ import annotations

import fastnn  # noqa: F401  (before NumPy: it shortens OpenBLAS's idle spin, fastnn/runtime.py)

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare  # noqa: E402

WORKLOADS = ("add_8x8", "tiny_fwd_bwd", "fit_step_mlp64")
#: Implementations each workload runs on.
IMPLS = {"add_8x8": ("numpy", "cpu", "torch"), "tiny_fwd_bwd": ("numpy", "cpu", "torch"),
         "fit_step_mlp64": ("cpu", "kernels")}
FIT_STEPS = 32
FIT_BATCH = 64


def _add(impl):
    import numpy as np

    rng = np.random.default_rng(0)
    a_np, b_np = (rng.standard_normal((8, 8)).astype(np.float32) for _ in range(2))
    if impl == "torch":
        import torch

        a, b = torch.from_numpy(a_np), torch.from_numpy(b_np)
    else:
        import fastnn as fnn

        a, b = fnn.tensor(a_np, backend=impl), fnn.tensor(b_np, backend=impl)
    return lambda: a + b


def _tiny(impl):
    import numpy as np

    rng = np.random.default_rng(0)
    x_np, w_np = rng.standard_normal((4, 16)).astype(np.float32), rng.standard_normal((16, 16)).astype(np.float32)
    if impl == "torch":
        import torch

        x, w = torch.tensor(x_np, requires_grad=True), torch.tensor(w_np, requires_grad=True)
        relu = torch.relu
    else:
        import fastnn as fnn
        import fastnn.functional as F

        x = fnn.tensor(x_np, requires_grad=True, backend=impl)
        w = fnn.tensor(w_np, requires_grad=True, backend=impl)
        relu = F.relu

    def step():
        relu(x @ w).sum().backward()
        x.grad = None
        w.grad = None
    return step


def _mlp_data():
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((FIT_STEPS * FIT_BATCH, 64)).astype(np.float32)
    y = rng.integers(0, 10, FIT_STEPS * FIT_BATCH)
    return x, y


def _fit_step(backend):
    import fastnn as fnn
    from fastnn import layers as L

    fnn.manual_seed(0)
    model = fnn.Sequential([L.Input((64,)), L.Dense(128, activation="relu"), L.Dense(10)], backend=backend)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")   # takes the logits
    x, y = _mlp_data()
    model.fit(x, y, batch_size=FIT_BATCH, epochs=1, verbose=0, shuffle=False)   # compile, warm caches

    def epoch():
        model.fit(x, y, batch_size=FIT_BATCH, epochs=1, verbose=0, shuffle=False)
    return epoch


def _kernel_step(backend):
    """The MLP step as kernel calls only: what fit's step would cost with no Python around."""
    import numpy as np

    from fastnn import backend as backends

    k = backends.get(backend).k
    rng = np.random.default_rng(0)
    x_all, y_all = _mlp_data()
    params = [rng.standard_normal((64, 128)).astype(np.float32) * 0.1, np.zeros(128, np.float32),
              rng.standard_normal((128, 10)).astype(np.float32) * 0.1, np.zeros(10, np.float32)]
    moments = [(np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)) for p in params]
    seed = np.ones((), np.float32)   # the gradient of the loss with respect to itself
    batches = [(np.ascontiguousarray(x_all[i:i + FIT_BATCH]), y_all[i:i + FIT_BATCH].astype(np.int64))
               for i in range(0, len(x_all), FIT_BATCH)]

    def epoch():
        for step, (xb, yb) in enumerate(batches, 1):
            w1, b1, w2, b2 = params
            h, _ = k.linear_fwd(xb, w1, b1, "relu", 0.0)
            logits, _ = k.linear_fwd(h, w2, b2, None, 0.0)
            loss, dlogits = k.softmax_ce_fwd_bwd(logits, yb, True)
            k.mean_rows(loss)
            dlogits = k.scale_by_mean_grad(dlogits, seed, len(yb))
            gh, gw2, gb2 = k.linear_bwd(h, w2, None, logits, dlogits, None, 0.0, True, True, True)
            _, gw1, gb1 = k.linear_bwd(xb, w1, None, h, gh, "relu", 0.0, False, True, True)
            for p, g, (m, v, vmax) in zip(params, (gw1, gb1, gw2, gb2), moments):
                k.adam_update(p, g, m, v, vmax, step, 1e-3, 0.9, 0.999, 1e-7, 0.0, False, False)
    return epoch


def _maker(name, impl):
    """The callable one worker times for workload ``name`` on ``impl``."""
    if name == "add_8x8":
        return _add(impl)
    if name == "tiny_fwd_bwd":
        return _tiny(impl)
    if impl == "kernels":
        return _kernel_step("cpu")
    return _fit_step(impl)


def case_rows(rounds):
    """(name, numpy us, cpu us) of every case-table row at its small size, forward + backward
    in float32, the two backends alternating call by call."""
    import statistics
    import time

    import numpy as np

    import fastnn as fnn

    from fastnn.testing.table import ALL_CASES

    def step(instance, tensors, weights):
        out = instance.fn(*tensors)
        out.backward(weights)
        for t in tensors:
            t.grad = None

    rows = []
    for case in ALL_CASES:
        setups = {}
        for backend in ("numpy", "cpu"):
            instance = case.instance(dtype="float32", size="small", mode=case.modes[0])
            tensors = instance.tensors(backend)
            fnn.manual_seed(0)
            with fnn.no_grad():
                probe = instance.fn(*tensors)
            weights = fnn.tensor(np.ones(probe.shape, dtype=probe.dtype), backend=backend)
            setups[backend] = (instance, tensors, weights)
            step(*setups[backend])                       # compile, warm caches
        calls = max(3, int(2e-3 / max(1e-6, _once(step, setups["numpy"]))))
        samples = {"numpy": [], "cpu": []}
        for _ in range(rounds):
            for backend in ("numpy", "cpu"):
                start = time.perf_counter()
                for _ in range(calls):
                    step(*setups[backend])
                samples[backend].append((time.perf_counter() - start) / calls * 1e6)
        rows.append((case.name, statistics.median(samples["numpy"]), statistics.median(samples["cpu"])))
    return rows


def _once(step, setup):
    import time

    start = time.perf_counter()
    step(*setup)
    return time.perf_counter() - start


def main(argv=None):
    import fastnn as fnn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="threads for fastnn and torch (default: cores)")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--settle", type=float, default=0.2, help="seconds of rest before each timed round")
    parser.add_argument("--only", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    parser.add_argument("--cases", action="store_true",
                        help="every case-table row at its small size, numpy against cpu (no PyTorch)")
    args = parser.parse_args(argv)
    if args.cases:
        fnn.set_num_threads(args.threads or fnn.get_num_threads())
        rows = case_rows(args.rounds)
        slower = [(name, n, c) for name, n, c in rows if c > n]
        print(f"cpu: {compare.cpu_model()}   {len(rows)} rows at small size, forward + backward, float32, "
              f"medians of {args.rounds} alternated rounds")
        print(f"cpu slower than numpy in {len(slower)} rows (numpy us, cpu us, numpy/cpu):")
        for name, n, c in sorted(slower, key=lambda r: r[1] / r[2]):
            print(f"  {name:<34} {n:9.1f} {c:9.1f}  {n / c:5.2f}x")
        return
    threads = args.threads or fnn.get_num_threads()
    try:
        import torch
    except ImportError:
        torch = None
    print(f"cpu: {compare.cpu_model()}")
    print(f"threads: {threads}   rounds: {args.rounds}   torch: {torch.__version__ if torch else '- (not importable)'}")
    impls = sorted({i for name in args.only for i in IMPLS[name] if i != "torch" or torch}, key=str)
    workers = compare.Workers(impls, threads, maker=_maker)
    try:
        for name in args.only:
            row_impls = [i for i in IMPLS[name] if i in impls]
            r = compare.measure(workers, name, row_impls, args.rounds, args.settle)
            us = {i: r[i]["median_s"] * 1e6 for i in row_impls}
            if name == "fit_step_mlp64":
                us = {i: t / FIT_STEPS for i, t in us.items()}
            cells = "  ".join(f"{i} {t:9.1f} us" for i, t in us.items())
            if name == "fit_step_mlp64":
                extra = f"fastnn's Python share of the step {1 - us['kernels'] / us['cpu']:.0%}"
            else:
                extra = "  ".join(f"{i}/torch {us[i] / us['torch']:.2f}x" for i in ("numpy", "cpu")
                                  if "torch" in us)
            print(f"{name:<16} {cells}   {extra}", flush=True)
    finally:
        workers.close()


if __name__ == "__main__":
    main()
