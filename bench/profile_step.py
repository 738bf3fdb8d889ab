"""Where one training step's time goes, kernel by kernel, on a fastnn backend.

    python bench/profile_step.py [--workload cnn mnist_convnet] [--steps 20] [--backend cpu]

Workloads of bench/workloads.py: ``cnn`` (batch 64, SGD) and ``mnist_convnet`` (batch 128,
Adam, dropout active). Method, all from outside the library:

* every contract kernel (``backend.k.<name>``) is timed: ``fastnn.backend.Backend.kernel``
  is replaced by a version that returns a timing wrapper around the kernel it resolves
  (the resolution caches are cleared before and after, so nothing stays wrapped);
* on the cpu backend, the Numba sub-kernels of the convolution family are timed too: every
  Numba dispatcher or ``Dual`` (kernels/cpu/_jit.py) at module level in
  ``fastnn.kernels.cpu.conv`` and in the sibling modules it imports from (winograd, ...),
  found by introspection when the script runs, since those modules are being rewritten.
  Only the ones called from Python are replaced (a dispatcher that other Numba code calls
  must stay a dispatcher, or that code could not compile). Time inside them is reported
  as "transforms" (im2col/col2im, layout, Winograd transform and fused bias/activation
  passes; where a shape runs a direct Numba convolution, that arithmetic too); the rest
  of conv2d_fwd / conv2d_bwd is then BLAS GEMM time plus Python glue;
* times are exclusive: a kernel's own time excludes the timed calls made inside it.

conv2d_bwd computes both gradients in one call. To split it, the arguments of one step's
conv2d_bwd calls are kept and the calls re-timed afterwards (median of --steps
repetitions) with only the data gradient (need_gx) and with only the filter gradients
(need_gw, need_gb); the step's conv2d_bwd time (and its transform time) is divided between
"data gradient" and "filter gradient" in the proportion of those two isolated times. They
sum to more than the fused call, because some work serves both (e.g. the transpose of gy
in the wide im2col layout); the isolated figures are printed below the table.

Figures: medians over --steps steps, after warm-up steps (compilation, then the wrappers'
first calls). "Python overhead" = the median step time minus the sum of the median kernel
categories: autograd bookkeeping, tensor arithmetic through NumPy, layers, the optimizer's
loop. The timing wrappers cost time themselves (measured here, ~1 us a call); that cost
is printed and lands mostly in "Python overhead", so the unwrapped step is faster than
the total shown by about that much.
"""

from __future__ import annotations

import fastnn  # noqa: F401,E402  (before NumPy: it shortens OpenBLAS's idle spin, fastnn/runtime.py)

import argparse
import contextlib
import importlib
import inspect
import statistics
import sys
import time
import types
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # noqa: E402

WORKLOADS = {"cnn": 64, "mnist_convnet": 128}  # kind -> batch
WARMUP_STEPS = 3
CONV_BWD = "conv2d_bwd"

CATEGORIES = ("conv forward", "conv data gradient", "conv filter gradient", "pooling", "dense", "activations",
              "softmax/loss", "dropout", "batch norm", "optimizer", "other kernels")
FAMILY_CATEGORY = {"pooling": "pooling", "linear": "dense", "activations": "activations", "softmax": "softmax/loss",
                   "losses": "softmax/loss", "dropout": "dropout", "philox": "dropout", "batchnorm": "batch norm",
                   "optim": "optimizer"}


# -- timing -------------------------------------------------------------------------------

class Timer:
    """Exclusive wall time per key: a call's time minus that of the timed calls inside it."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.calls = defaultdict(int)
        self._children = []     # per running timed call: seconds spent in timed calls inside it
        self.contract = []      # labels of the contract kernels running, innermost last
        self.record = None      # a contract label whose calls to keep (for re-timing), or None
        self.recorded = []      # (raw kernel, args, kwargs)

    def reset(self):
        self.seconds.clear()
        self.calls.clear()

    def run(self, key, fn, args, kwargs):
        self._children.append(0.0)
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            elapsed = time.perf_counter() - start
            inner = self._children.pop()
            self.seconds[key] += elapsed - inner
            self.calls[key] += 1
            if self._children:
                self._children[-1] += elapsed


class TimedKernel:
    """A contract kernel timed under ``label``; other attributes are the kernel's own."""

    def __init__(self, timer, label, fn):
        self.timer, self.label, self.wrapped = timer, label, fn

    def __call__(self, *args, **kwargs):
        timer = self.timer
        if timer.record == self.label:
            timer.recorded.append((self.wrapped, args, kwargs))
        timer.contract.append(self.label)
        try:
            return timer.run(self.label, self.wrapped, args, kwargs)
        finally:
            timer.contract.pop()

    def __getattr__(self, name):  # e.g. softmax_ce_fwd_bwd.scale_by_mean_grad
        return getattr(self.wrapped, name)


class TimedSubkernel:
    """A Numba sub-kernel timed as "<running contract kernel>/<name>"."""

    def __init__(self, timer, name, fn):
        self.timer, self.name, self.wrapped = timer, name, fn

    def __call__(self, *args, **kwargs):
        parent = self.timer.contract[-1] if self.timer.contract else "(no kernel)"
        return self.timer.run(f"{parent}/{self.name}", self.wrapped, args, kwargs)

    def __getattr__(self, name):  # e.g. a Dual's .serial / .parallel
        return getattr(self.wrapped, name)


def _code_names(code):
    """Every global name a code object (and the functions nested in it) refers to."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def conv_subkernels():
    """``[(module, name, object)]``: the Numba sub-kernels of the cpu conv family that Python
    code calls: Duals, and dispatchers named by the module's Python functions but by none of
    its Numba functions."""
    import numba

    from fastnn.kernels.cpu import _jit

    conv = importlib.import_module("fastnn.kernels.cpu.conv")
    package = conv.__name__.rsplit(".", 1)[0]
    modules = {conv.__name__: conv}
    for value in vars(conv).values():  # sibling modules conv uses: imported whole or by name
        name = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
        if isinstance(name, str) and name.startswith(package + ".") and name != _jit.__name__:
            modules[name] = sys.modules[name]
    found = []
    for module in modules.values():
        python_names, numba_names = set(), set()
        for value in vars(module).values():
            if isinstance(value, _jit.Dual):
                numba_names |= _code_names(value.parallel.py_func.__code__)
            elif isinstance(value, numba.core.dispatcher.Dispatcher):
                numba_names |= _code_names(value.py_func.__code__)
            elif getattr(value, "__module__", None) == module.__name__:
                if inspect.isfunction(value):
                    python_names |= _code_names(value.__code__)
                elif inspect.isclass(value):
                    for member in vars(value).values():
                        if inspect.isfunction(member):
                            python_names |= _code_names(member.__code__)
        for name, value in vars(module).items():
            if isinstance(value, _jit.Dual) or (isinstance(value, numba.core.dispatcher.Dispatcher)
                                                and name in python_names and name not in numba_names):
                found.append((module, name, value))
    return found


@contextlib.contextmanager
def instrumented(timer, backend_name):
    """Time every contract kernel, and on cpu the conv family's sub-kernels, until exit."""
    from fastnn import backend as registry

    original_kernel = registry.Backend.kernel
    wrappers = {}

    def kernel(self, name):
        fn = original_kernel(self, name)
        if isinstance(fn, TimedKernel):  # a fallback: the numpy backend's, already wrapped
            return fn
        wrapper = wrappers.get((self.name, name))
        if wrapper is None or wrapper.wrapped is not fn:
            wrapper = wrappers[(self.name, name)] = TimedKernel(timer, name, fn)
        return wrapper

    def clear_caches():  # a resolved kernel cached while patched would stay wrapped
        for name in registry.available_backends():
            registry.get(name)._resolved.clear()

    subkernels = conv_subkernels() if backend_name == "cpu" else []
    clear_caches()
    registry.Backend.kernel = kernel
    for module, name, value in subkernels:
        setattr(module, name, TimedSubkernel(timer, name, value))
    try:
        yield [f"{module.__name__.rsplit('.', 1)[1]}.{name}" for module, name, _ in subkernels]
    finally:
        registry.Backend.kernel = original_kernel
        for module, name, value in subkernels:
            setattr(module, name, value)
        clear_caches()


def wrapper_cost_us(timer, calls=20000):
    """Microseconds a TimedKernel adds to one call (measured on a function doing nothing)."""
    def nothing():
        return None

    wrapped = TimedKernel(timer, "(calibration)", nothing)
    start = time.perf_counter()
    for _ in range(calls):
        nothing()
    bare = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(calls):
        wrapped()
    timed = time.perf_counter() - start
    timer.reset()
    return max(timed - bare, 0.0) / calls * 1e6


# -- categories ---------------------------------------------------------------------------

def _family(kernel):
    from fastnn.kernels.contract import FAMILIES

    for family, names in FAMILIES.items():
        if kernel in names:
            return family
    return "conv" if kernel.startswith("conv") else None


def category(kernel):
    """The table row of a contract kernel; conv2d_bwd/col2im give "conv backward" (split later)."""
    family = _family(kernel)
    if family == "conv":
        return "conv backward" if ("bwd" in kernel or kernel == "col2im") else "conv forward"
    return FAMILY_CATEGORY.get(family, "other kernels")


def summarize_step(seconds):
    """``{row: (seconds, transform seconds)}`` of one step's exclusive times per key."""
    rows = defaultdict(lambda: [0.0, 0.0])
    for key, value in seconds.items():
        kernel, _, sub = key.partition("/")
        row = rows[category(kernel.partition(":")[0])]
        row[0] += value
        if sub:
            row[1] += value
    return rows


# -- one workload -------------------------------------------------------------------------

def retime_conv_backward(timer, calls, repeats):
    """Median seconds (total, transforms) of the recorded conv2d_bwd ``calls`` re-run with
    only the data gradient and with only the filter gradients: ``{"data": ..., "filter": ...}``,
    or None when the kernel's signature has no need_gx / need_gw / need_gb."""
    variants = {"data": [], "filter": []}
    for fn, args, kwargs in calls:
        try:
            bound = inspect.signature(fn).bind(*args, **kwargs)
        except (TypeError, ValueError):
            return None
        flags = bound.arguments
        if not {"need_gx", "need_gw", "need_gb"} <= flags.keys():
            return None
        for part, want in (("data", dict(need_gx=flags["need_gx"], need_gw=False, need_gb=False)),
                           ("filter", dict(need_gx=False, need_gw=flags["need_gw"], need_gb=flags["need_gb"]))):
            if any(want.values()):
                variant = inspect.BoundArguments(bound.signature, {**flags, **want})
                variants[part].append((TimedKernel(timer, f"{CONV_BWD}:{part}", fn), variant.args, variant.kwargs))
    samples = {part: [] for part in variants}
    for repeat in range(repeats + 1):  # the first repetition compiles what the step did not need
        for part, runs in variants.items():
            timer.reset()
            for wrapped, args, kwargs in runs:
                wrapped(*args, **kwargs)
            total = sum(timer.seconds.values())
            subs = sum(v for k, v in timer.seconds.items() if "/" in k)
            if repeat:
                samples[part].append((total, subs))
    return {part: (statistics.median(t for t, _ in s) if s else 0.0, statistics.median(u for _, u in s) if s else 0.0)
            for part, s in samples.items()}


def profile(kind, backend, steps):
    """Per-step medians for workload ``kind``: a dict of table rows and notes."""
    _, step = workloads.fastnn_step(kind, WORKLOADS[kind], backend)
    for _ in range(WARMUP_STEPS):  # unwrapped: compile every kernel before any wrapper exists
        step()
    timer = Timer()
    with instrumented(timer, backend) as subkernel_names:
        for _ in range(2):
            step()
        totals, per_row, per_key = [], defaultdict(list), defaultdict(list)
        for i in range(steps):
            timer.reset()
            timer.record, timer.recorded = (CONV_BWD if i == steps - 1 else None), []
            start = time.perf_counter()
            step()
            totals.append(time.perf_counter() - start)
            for row, value in summarize_step(timer.seconds).items():
                per_row[row].append(value)
            for key, value in timer.seconds.items():
                per_key[key].append((value, timer.calls[key]))
        calls_per_step = sum(timer.calls.values())
        recorded, timer.record = timer.recorded, None
        split = retime_conv_backward(timer, recorded, steps) if recorded else None
        cost_us = wrapper_cost_us(timer)
    # Rows a step did not touch count as 0 in that step's median.
    median = {row: (statistics.median([v[0] for v in values] + [0.0] * (steps - len(values))),
                    statistics.median([v[1] for v in values] + [0.0] * (steps - len(values))))
              for row, values in per_row.items()}
    backward = median.pop("conv backward", (0.0, 0.0))
    if split and (split["data"][0] + split["filter"][0]) > 0:
        share = split["data"][0] / (split["data"][0] + split["filter"][0])
        sub_total = split["data"][1] + split["filter"][1]
        sub_share = split["data"][1] / sub_total if sub_total else share
        median["conv data gradient"] = (backward[0] * share, backward[1] * sub_share)
        median["conv filter gradient"] = (backward[0] * (1 - share), backward[1] * (1 - sub_share))
    elif backward[0]:
        median["conv backward (not split)"] = backward
    return {"total": statistics.median(totals), "rows": median, "split": split, "calls": calls_per_step,
            "wrapper_us": cost_us, "subkernels": subkernel_names,
            "keys": {k: (statistics.median(v for v, _ in vals), vals[-1][1]) for k, vals in per_key.items()}}


# -- report -------------------------------------------------------------------------------

def print_report(kind, backend, result, steps):
    total = result["total"]
    print(f"\n### {kind} (batch {WORKLOADS[kind]}), backend {backend}: {total * 1e3:.2f} ms per step "
          f"(median of {steps})\n")
    print("| category | ms | % of step | of which Numba sub-kernels (transforms) ms | rest (BLAS GEMM + glue) ms |")
    print("|---|---:|---:|---:|---:|")
    rows = result["rows"]
    order = [r for r in CATEGORIES if r in rows] + [r for r in rows if r not in CATEGORIES]
    for row in order:
        seconds, subs = rows[row]
        conv = row.startswith("conv") and result["subkernels"]  # sub-kernels are timed on cpu only
        extra = f" {subs * 1e3:.2f} | {(seconds - subs) * 1e3:.2f} |" if conv else " | |"
        print(f"| {row} | {seconds * 1e3:.2f} | {100 * seconds / total:.1f} |{extra}")
    overhead = total - sum(s for s, _ in rows.values())
    print(f"| Python overhead (autograd, NumPy arithmetic, glue) | {overhead * 1e3:.2f} | "
          f"{100 * overhead / total:.1f} | | |")
    print(f"| **step** | **{total * 1e3:.2f}** | 100 | | |")

    split = result["split"]
    if split:
        (d, ds), (w, ws) = split["data"], split["filter"]
        print(f"\nconv2d_bwd re-timed alone: data gradient {d * 1e3:.2f} ms (transforms {ds * 1e3:.2f}), "
              f"filter gradients {w * 1e3:.2f} ms (transforms {ws * 1e3:.2f}); the step's fused calls took "
              f"{(rows.get('conv data gradient', (0, 0))[0] + rows.get('conv filter gradient', (0, 0))[0]) * 1e3:.2f}"
              f" ms, split in that proportion above.")
    print(f"timing wrappers: {result['calls']} timed calls a step at ~{result['wrapper_us']:.2f} us each "
          f"= ~{result['calls'] * result['wrapper_us'] / 1e3:.2f} ms of the step (mostly in Python overhead)")
    if result["subkernels"]:
        print(f"Numba sub-kernels timed: {', '.join(result['subkernels'])}")
    print("\nper kernel (exclusive ms, median; calls in one step):")
    for key, (seconds, calls) in sorted(result["keys"].items(), key=lambda kv: -kv[1][0]):
        print(f"    {key:<44}{seconds * 1e3:>9.3f}{calls:>6}")


def main(argv=None):
    import fastnn as fnn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--backend", default="cpu", choices=["cpu", "numpy"])
    parser.add_argument("--threads", type=int, default=None, help="threads (default: fnn.get_num_threads())")
    args = parser.parse_args(argv)

    if args.threads:
        fnn.set_num_threads(args.threads)
    print(f"threads: {fnn.get_num_threads()}   backend: {args.backend}   steps: {args.steps} "
          f"(after {WARMUP_STEPS} + 2 warm-up steps)")
    results = {}
    for kind in args.workload:
        results[kind] = profile(kind, args.backend, args.steps)
        print_report(kind, args.backend, results[kind], args.steps)
    return results


if __name__ == "__main__":
    main()
