"""A/B benchmark regression gate: two revisions of fastnn timed side by side, as ratios.

    python bench/ab.py BASE [HEAD] [--rounds 5] [--threshold 0.05] [--json OUT]
                       [--suite TARGET ...] [-k EXPR] [--compare WORKLOAD ...] [--only TEXT ...]
                       [--per-run median|min] [--bench-from head|base|each] [--confidence 0.95]

BASE and HEAD are git revisions of the repository the command runs in (HEAD defaults to
``HEAD``, the checkout's current commit). The literal ``WORKTREE`` stands for the working
tree as it is now, uncommitted changes and untracked (not ignored) files included: what a
developer wants to measure before committing (``python bench/ab.py HEAD WORKTREE``).
``python bench/ab.py HEAD HEAD`` is an A/A run: both sides the same code, so its intervals
show this machine's noise.

Absolute times on a shared machine move by ~30 % between runs, so the two sides are only
compared within one run, round by round:

* Each side is its own copy of the repository in a temporary folder: ``git worktree add
  --detach`` of the revision (``WORKTREE``: a copy of the tracked and untracked, not
  ignored, files, taken once at the start so later edits do not leak in). The package maps
  ``fastnn.kernels`` to the top-level ``kernels/`` folder (pyproject.toml's package-dir),
  so each copy gets a link ``fastnn/kernels -> ../kernels`` and goes first on the child's
  ``PYTHONPATH``; no install, no network. Without the link, the editable install's import
  hook would quietly hand the side the current checkout's kernels, so every child checks,
  before it runs anything, that ``fastnn`` and ``fastnn.kernels`` resolve inside its own
  copy (and exits with a message if not). The copies are removed at the end, also after an
  error or Ctrl-C (``git worktree remove --force``, then ``git worktree prune``).
* Each side has its own kernel cache (``FASTNN_CACHE_DIR`` in the run's temporary folder;
  a ``NUMBA_CACHE_DIR`` of the caller is dropped for the children, since it would win over
  it), kept for the whole run, and every job runs once per side untimed before the first
  round (the warm-up compiles the kernels), so no timed process compiles anything; inside
  each process the benchmarks make untimed calls first as well.
* Round r runs every job on BASE then HEAD when r is even, HEAD then BASE when r is odd
  (ABBA), each in a fresh process with the same environment (threads: each child's default,
  ``FASTNN_NUM_THREADS`` and the BLAS variables as the caller set them; the report records
  them and what fastnn chose).
* The benchmark scripts both sides run come from one side (``--bench-from head``, the
  default): the same workload definitions on both sides, so only the library differs. Use
  ``--bench-from each`` when the harness changed in a way that the other side cannot run.

Jobs. ``--suite TARGET`` runs pytest-benchmark suites (files or node ids, relative to the
repository root; ``-k`` is passed on) with ``--benchmark-json``, and a case's time is the
median of its benchmark rounds. ``--compare WORKLOAD`` runs bench/compare.py workloads on
the ``cpu`` backend (``--impls cpu --json``), and a case's time is compare.py's median over
its own rounds. Without either, the default set runs: the hot paths, a few kernel cases of
bench/test_bench_cases.py (:data:`DEFAULT_SUITE`) and the mlp and cnn training steps of
bench/compare.py (:data:`DEFAULT_COMPARE`), about 3-4 minutes for 5 rounds on 2 cores.
``--only TEXT`` keeps the cases whose name contains one of the texts. Every case measured
is gated. ``--per-run min`` takes each process's fastest benchmark round instead of the
median: a neighbour's burst only ever adds time, so a burst that hits some rounds of a
process does not move its minimum (sustained load moves both; the minimum also says less
about the typical time).

Statistics. Per case and round: ratio = HEAD time / BASE time of that round (both sides
ran within seconds of each other, so a slow spell of the machine divides out). Reported
per case: both sides' median times over the rounds, the median ratio, and a confidence
interval of the median ratio: a percentile bootstrap over the rounds (10,000 resamples of
the rounds with replacement, seed 0, the median of each resample, its 2.5th and 97.5th
percentiles for 95 %). With 5 rounds or fewer this interval is the range of the rounds'
ratios (a resample's median is the smallest ratio with probability 5.8 % > 2.5 %): a case
counts as changed only when every round says so. The interval is the noise band: a case
*regressed* when the whole interval lies above 1 + threshold, *improved* when it lies
below 1 - threshold, else *same*.

Exit code: 0 when no case regressed, 1 when any did (they are listed), 2 for a usage error
(an unknown revision, a bad option, a selection that matches no benchmark: one line on
stderr), 3 when a benchmark run failed (the end of its output is shown), 130 when interrupted
(Ctrl-C or SIGTERM; the copies are removed first).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: The revision name that stands for the current working tree with uncommitted changes.
WORKTREE = "WORKTREE"

#: Kernel cases of the default set: forward + backward on the cpu backend at benchmark size
#: (dense, the three convolution algorithms of the zoo CNN, pooling, batch norm, the loss, GEMM).
DEFAULT_SUITE = tuple(f"bench/test_bench_cases.py::test_case_forward_backward[{case}-cpu]" for case in (
    "linear_relu", "conv2d_winograd_same_relu", "conv2d_cnn_conv2_relu", "conv2d_first_c1k3_relu",
    "max_pool2d", "batch_norm_4d", "sparse_categorical_crossentropy", "matmul"))
#: Training steps of the default set (bench/compare.py workloads).
DEFAULT_COMPARE = ("mlp_b128", "cnn_b64")

#: compare.py's own rounds inside one process; its median is the process's one sample.
COMPARE_INNER_ROUNDS = 3
#: pytest-benchmark options for suites that do not fix their rounds themselves (pedantic
#: benchmarks do): a short round, with a warm-up, so a process takes seconds.
PYTEST_BENCHMARK_OPTIONS = ("--benchmark-only", "--benchmark-warmup=on", "--benchmark-warmup-iterations=2",
                            "--benchmark-min-rounds=5", "--benchmark-max-time=0.5")

#: Environment variables that set thread counts: recorded in the report, passed on as they are.
THREAD_VARIABLES = ("FASTNN_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS")

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0

EXIT_SAME, EXIT_REGRESSED, EXIT_USAGE, EXIT_RUN_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_CODES = ("exit code: 0 no case regressed, 1 some case regressed (listed), 2 usage error, "
              "3 a benchmark run failed, 130 interrupted")
#: Exit status of a child whose fastnn did not come from its own copy.
EXIT_WRONG_FASTNN = 97

SIDES = ("base", "head")


class UsageError(Exception):
    """A bad revision, option or selection: reported in one line, exit code 2."""


class RunError(Exception):
    """A benchmark process failed: reported with the end of its output, exit code 3."""


def _print(line):
    print(line, flush=True)


# -- statistics -------------------------------------------------------------------------

def round_ratios(base_times, head_times):
    """HEAD time / BASE time of each round (the two lists in round order, same length).

    A ratio within one round cancels what the machine did to both sides in that round."""
    base, head = np.asarray(base_times, dtype=float), np.asarray(head_times, dtype=float)
    if base.shape != head.shape or base.ndim != 1 or base.size == 0:
        raise ValueError(f"round_ratios: base_times and head_times must be two non-empty lists of the same length, "
                         f"got {base.size} and {head.size}")
    for name, times in (("base_times", base), ("head_times", head)):
        if not np.all(np.isfinite(times) & (times > 0)):
            raise ValueError(f"round_ratios: {name} must be positive finite seconds, got {times.tolist()}")
    return head / base


def median_interval(ratios, confidence=0.95, resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED):
    """Percentile-bootstrap interval of the median of ``ratios``: resample the rounds with
    replacement ``resamples`` times (NumPy's generator seeded with ``seed``, so a result is
    reproducible), take each resample's median, and return the (1 - confidence) / 2 and
    (1 + confidence) / 2 quantiles of those medians as ``(low, high)``."""
    ratios = np.asarray(ratios, dtype=float)
    if not 0 < confidence < 1:
        raise ValueError(f"median_interval: confidence must be in (0, 1), got {confidence}")
    rng = np.random.default_rng(seed)
    medians = np.median(ratios[rng.integers(0, ratios.size, size=(resamples, ratios.size))], axis=1)
    low, high = np.quantile(medians, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def verdict(low, high, threshold):
    """"regressed" when the interval [low, high] of HEAD/BASE lies wholly above 1 + threshold
    (slower by more than the threshold beyond the noise), "improved" when wholly below
    1 - threshold, else "same"."""
    if low > 1 + threshold:
        return "regressed"
    if high < 1 - threshold:
        return "improved"
    return "same"


def summarize(base_times, head_times, threshold, confidence=0.95):
    """One case's figures from its per-round times (seconds, round order): both sides'
    median times, the median HEAD/BASE ratio over the rounds, its interval and the verdict."""
    ratios = round_ratios(base_times, head_times)
    low, high = median_interval(ratios, confidence)
    return {"base_median_s": float(np.median(base_times)), "head_median_s": float(np.median(head_times)),
            "ratio": float(np.median(ratios)), "low": low, "high": high,
            "verdict": verdict(low, high, threshold), "ratios": ratios.tolist(),
            "base_s": [float(t) for t in base_times], "head_s": [float(t) for t in head_times]}


def round_orders(rounds):
    """The order of the sides in each round: BASE first in even rounds, HEAD first in odd
    ones (ABBA), so neither side always runs on a machine the other has just warmed."""
    return [SIDES if r % 2 == 0 else SIDES[::-1] for r in range(rounds)]


# -- reading the benchmark outputs ------------------------------------------------------

def read_pytest_benchmark(data, statistic="median"):
    """{case: seconds} from pytest-benchmark's ``--benchmark-json`` output (the parsed dict):
    the median (or, with ``statistic="min"``, the fastest) of each benchmark's rounds. A case
    is named by its file and test id ("test_bench_cases.py::test_x[a-cpu]"), whatever folder
    the suite ran from."""
    cases = {}
    for bench in data.get("benchmarks", []):
        path, _, test = bench["fullname"].rpartition("::")
        cases[f"{path.rsplit('/', 1)[-1]}::{test}"] = float(bench["stats"][statistic])
    return cases


def read_compare(data, impl="cpu", statistic="median"):
    """{case: seconds} from bench/compare.py's ``--json`` output (the parsed dict), for
    implementation ``impl``: compare.py's median over its rounds (or, with
    ``statistic="min"``, the fastest round); cases are named "compare.py::<workload>"."""
    def pick(result):
        return result["median_s"] if statistic == "median" else min(result["rounds"])

    return {f"compare.py::{name}": float(pick(result[impl]))
            for name, result in data.get("results", {}).items() if impl in result}


# -- the two sides ----------------------------------------------------------------------

@dataclass
class Side:
    """One side of the comparison: its label, the revision as given, the commit it
    resolves to, and (once made) its copy of the repository and its kernel cache."""
    label: str
    revision: str
    commit: str
    subject: str = ""
    changed_files: int = 0
    root: Path | None = None
    cache_dir: Path | None = None
    worktree: bool = False  # made by ``git worktree add`` (so removed through git)

    def describe(self):
        subject = self.subject if len(self.subject) <= 72 else self.subject[:71] + "…"
        text = f"{self.revision} = {self.commit[:12]} {subject}".rstrip()
        if self.revision == WORKTREE:
            text = f"{WORKTREE} = {self.commit[:12]} + uncommitted changes in {self.changed_files} files"
        return text


def _git(repo, *args, check=True):
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if check and result.returncode:
        raise RuntimeError(f"git {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def repository_root(path):
    """The top folder of the git repository containing ``path`` (UsageError if none)."""
    result = _git(path, "rev-parse", "--show-toplevel", check=False)
    if result.returncode:
        raise UsageError(f"--repo must be inside a git repository, got {str(path)!r}")
    return Path(result.stdout.strip())


def resolve_side(repo, label, revision):
    """The Side for ``revision`` (a git revision or WORKTREE); UsageError naming the side
    when git knows no such commit."""
    name = "HEAD" if revision == WORKTREE else revision
    result = _git(repo, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}", check=False)
    if result.returncode:
        raise UsageError(f"{label.upper()} must be a git revision of {repo} or {WORKTREE}, "
                         f"got {revision!r} (no such commit)")
    commit = result.stdout.strip()
    side = Side(label, revision, commit, subject=_git(repo, "log", "-1", "--format=%s", commit).stdout.strip())
    if revision == WORKTREE:
        side.changed_files = len(_git(repo, "status", "--porcelain", "--untracked-files=all").stdout.splitlines())
    return side


def link_kernels(root):
    """Make ``root/fastnn/kernels`` point at ``root/kernels`` (relative link), as the
    package-dir mapping of pyproject.toml does for an install; nothing when the revision
    keeps its kernels inside the package already or has no top-level kernels folder."""
    link, target = Path(root) / "fastnn" / "kernels", Path(root) / "kernels"
    if target.is_dir() and not link.exists() and not link.is_symlink():
        link.symlink_to(Path("..") / "kernels", target_is_directory=True)


def snapshot_working_tree(repo, destination):
    """Copy the working tree's tracked and untracked, not ignored, files (as they are now,
    uncommitted changes included) into ``destination``."""
    listing = _git(repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard").stdout
    for name in dict.fromkeys(n for n in listing.split("\0") if n):
        source, target = Path(repo) / name, Path(destination) / name
        if not source.is_symlink() and not source.is_file():  # deleted but not yet staged; a submodule
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)


def remove_side(repo, side):
    """Remove a side's copy: ``git worktree remove --force`` for a worktree (the link and
    the bytecode are untracked files), a plain delete for a snapshot or what is left."""
    if side.root is None:
        return
    if side.worktree:
        _git(repo, "worktree", "remove", "--force", str(side.root), check=False)
    shutil.rmtree(side.root, ignore_errors=True)


@contextlib.contextmanager
def checked_out(repo, sides, workdir=None):
    """Give every side its copy of the repository (worktree or snapshot, with the kernels
    link) and its kernel cache folder in one temporary folder; remove all of it on the way
    out, whatever ends the block (an error, Ctrl-C)."""
    folder = Path(tempfile.mkdtemp(prefix="fastnn-ab-", dir=workdir))
    try:
        for side in sides:
            root = folder / side.label
            if side.revision == WORKTREE:
                root.mkdir()
                side.root = root
                snapshot_working_tree(repo, root)
            else:
                _git(repo, "worktree", "add", "--detach", str(root), side.commit)
                side.root, side.worktree = root, True
            link_kernels(root)
            side.cache_dir = folder / f"cache-{side.label}"
            side.cache_dir.mkdir()
        yield folder
    finally:
        for side in sides:
            remove_side(repo, side)
        shutil.rmtree(folder, ignore_errors=True)
        # git's records of worktrees whose folder is gone: a remove that failed, an add
        # interrupted half-way
        _git(repo, "worktree", "prune", check=False)


# -- child processes --------------------------------------------------------------------

#: What every benchmark process runs first (``python -c``): check that fastnn and
#: fastnn.kernels resolve inside this side's copy (FASTNN_AB_ROOT) before anything is
#: imported from the kernels, record what the process sees (FASTNN_AB_INFO), then run
#: pytest (``pytest ARGS``) or a script (``script PATH ARGS``) as ``python PATH`` would.
CHILD_BOOTSTRAP = r"""
import importlib.util, json, os, sys
root = os.path.realpath(os.environ["FASTNN_AB_ROOT"])
def inside(path):
    return path is not None and os.path.realpath(path).startswith(root + os.sep)
import fastnn
kernels = importlib.util.find_spec("fastnn.kernels")
problems = [f"{name} comes from {path}, not from {root}" for name, path in
            (("fastnn", fastnn.__file__), ("fastnn.kernels", kernels and kernels.origin)) if not inside(path)]
if problems:
    print("bench/ab.py: " + "; ".join(problems), file=sys.stderr)
    sys.exit(97)
if os.environ.get("FASTNN_AB_INFO"):
    info = {"fastnn": fastnn.__file__, "fastnn.kernels": kernels.origin}
    threads = getattr(fastnn, "get_num_threads", None)
    info["fastnn_threads"] = threads() if threads else None
    try:
        import numpy, threadpoolctl
        info["blas"] = [{k: b.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
                        for b in threadpoolctl.threadpool_info() if b.get("user_api") == "blas"]
    except ImportError:
        info["blas"] = []
    with open(os.environ["FASTNN_AB_INFO"], "w") as out:
        json.dump(info, out)
kind, args = sys.argv[1], sys.argv[2:]
if kind == "pytest":
    import pytest
    sys.exit(pytest.main(args))
import runpy
sys.argv = args
runpy.run_path(args[0], run_name="__main__")
"""


def child_environment(side, environ=None):
    """The environment of a side's benchmark process: the caller's, with the side's copy
    first on PYTHONPATH, its own kernel cache, and no NUMBA_CACHE_DIR (which would win)."""
    env = dict(os.environ if environ is None else environ)
    env.pop("NUMBA_CACHE_DIR", None)
    env["PYTHONPATH"] = os.pathsep.join([str(side.root), *filter(None, [env.get("PYTHONPATH")])])
    env["FASTNN_CACHE_DIR"] = str(side.cache_dir)
    env["FASTNN_AB_ROOT"] = str(side.root)
    return env


def run_child(args, side, log, info=None):
    """Run ``python -c CHILD_BOOTSTRAP *args`` for ``side`` in its copy, output to ``log``;
    RunError(exit status, what failed, the output's end) when it fails (status 97: a wrong fastnn)."""
    env = child_environment(side)
    if info:
        env["FASTNN_AB_INFO"] = str(info)
    with open(log, "w") as out:
        code = subprocess.run([sys.executable, "-c", CHILD_BOOTSTRAP, *args], cwd=side.root, env=env,
                              stdout=out, stderr=subprocess.STDOUT).returncode
    if code:
        tail = Path(log).read_text(errors="replace").splitlines()[-25:]
        raise RunError(code, f"{side.label} ({side.revision}): {' '.join(args[:2])} ... exited with {code}",
                       "\n".join(tail))


@dataclass
class SuiteJob:
    """pytest-benchmark suites: ``targets`` (files or node ids relative to the repository
    root) and an optional ``-k`` expression."""
    targets: tuple
    keyword: str | None = None
    statistic: str = "median"
    name: str = "suite"

    def args(self, bench_root, out):
        args = ["pytest", "-p", "no:cacheprovider", "-q", *PYTEST_BENCHMARK_OPTIONS, f"--benchmark-json={out}"]
        if self.keyword:
            args += ["-k", self.keyword]
        return args + [str(Path(bench_root) / target) for target in self.targets]

    def read(self, out):
        return read_pytest_benchmark(json.loads(Path(out).read_text()), self.statistic)

    def missing(self, bench_root):
        """The targets whose file ``bench_root`` lacks."""
        return [t for t in self.targets if not (Path(bench_root) / t.split("::")[0]).is_file()]


@dataclass
class CompareJob:
    """bench/compare.py workloads on the cpu backend."""
    workloads: tuple
    statistic: str = "median"
    name: str = "compare"

    def args(self, bench_root, out):
        return ["script", str(Path(bench_root) / "bench" / "compare.py"), "--impls", "cpu",
                "--rounds", str(COMPARE_INNER_ROUNDS), "--peak-seconds", "0.05", "--json", str(out),
                "--only", *self.workloads]

    def read(self, out):
        return read_compare(json.loads(Path(out).read_text()), statistic=self.statistic)

    def missing(self, bench_root):
        return [] if (Path(bench_root) / "bench" / "compare.py").is_file() else ["bench/compare.py"]


def select(names, patterns):
    """The names containing one of ``patterns`` (all of them without patterns)."""
    return [n for n in names if not patterns or any(p in n for p in patterns)]


def make_jobs(suite, keyword, compare, only, statistic="median"):
    """The jobs to run from the options: the default set unless --suite or --compare is given."""
    if not suite and not compare:
        suite, compare = list(DEFAULT_SUITE), list(DEFAULT_COMPARE)
    jobs = []
    if suite:
        nodes = [t for t in suite if "::" in t]
        files = [t for t in suite if "::" not in t]
        targets = select(nodes, only) + files
        if files and only:  # a whole file: pass the texts on to pytest as a -k expression
            keyword = " or ".join(only) if not keyword else f"({keyword}) and ({' or '.join(only)})"
        if targets:
            jobs.append(SuiteJob(tuple(targets), keyword, statistic))
    if compare:
        workloads = select(compare, only)
        if workloads:
            jobs.append(CompareJob(tuple(workloads), statistic))
    if not jobs:
        raise UsageError(f"--only must match at least one case, got {' '.join(only)}")
    return jobs


def measure(jobs, sides, rounds, run, log=_print):
    """Run every job on both sides ``rounds`` times in ABBA order; ``run(job, side, r)``
    runs one process and returns {case: seconds}. Returns ({case: {label: {round:
    seconds}}}, [the order of the sides in each round])."""
    by_label = {side.label: side for side in sides}
    times, orders = {}, round_orders(rounds)
    for r, order in enumerate(orders):
        line = []
        for job in jobs:
            for label in order:
                start = time.perf_counter()
                for case, seconds in run(job, by_label[label], r).items():
                    times.setdefault(case, {s: {} for s in SIDES})[label][r] = seconds
                line.append(f"{label} {job.name} {time.perf_counter() - start:.1f} s")
        log(f"round {r + 1}/{rounds} ({'-'.join(order)}): " + ", ".join(line))
    return times, orders


# -- report -----------------------------------------------------------------------------

def machine():
    """CPU model and core count as lscpu reports them ("Model name", "CPU(s)")."""
    model, cores = None, os.cpu_count()
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["lscpu"], capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"}).stdout
        for line in out.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Model name":
                model = value.strip()
            elif key.strip() == "CPU(s)" and value.strip().isdigit():
                cores = int(value.strip())
    return {"model": model or platform.processor() or "unknown", "cores": cores}


def _ms(seconds):
    return f"{seconds * 1e3:.4g}"


def report_table(summaries):
    """The results table: case, both medians (ms), the median ratio, its interval, verdict."""
    width = max([len("case"), *map(len, summaries)])
    lines = [f"{'case':<{width}}  {'base ms':>9}  {'head ms':>9}  {'ratio':>6}  {'interval':>13}  verdict"]
    for case, s in summaries.items():
        if "verdict" not in s:
            lines.append(f"{case:<{width}}  {s['note']}")
            continue
        lines.append(f"{case:<{width}}  {_ms(s['base_median_s']):>9}  {_ms(s['head_median_s']):>9}  "
                     f"{s['ratio']:>6.3f}  {s['low']:.3f}-{s['high']:.3f}  {s['verdict']}")
    return "\n".join(lines)


def summarize_all(times, threshold, confidence):
    """summarize() for every case over the rounds in which both sides measured it (at least
    two); a case with fewer gets a note instead and no verdict."""
    summaries = {}
    for case, by_side in sorted(times.items()):
        rounds = sorted(set(by_side["base"]) & set(by_side["head"]))
        if len(rounds) >= 2:
            summaries[case] = summarize([by_side["base"][r] for r in rounds], [by_side["head"][r] for r in rounds],
                                        threshold, confidence)
        else:
            summaries[case] = {"note": f"not compared: base measured it in {len(by_side['base'])} rounds, "
                                       f"head in {len(by_side['head'])}, both in {len(rounds)}"}
    return summaries


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are UsageErrors (one line, exit code 2)."""

    def error(self, message):
        raise UsageError(message)


def parse_arguments(argv):
    """The command line's options, checked (UsageError naming the option otherwise)."""
    parser = _Parser(prog="bench/ab.py", description=__doc__.splitlines()[0],
                     formatter_class=argparse.RawDescriptionHelpFormatter,
                     epilog="\n".join(__doc__.splitlines()[5:9]) + "\n\n" + EXIT_CODES)
    parser.add_argument("base", metavar="BASE", help=f"git revision, or {WORKTREE}")
    parser.add_argument("head", metavar="HEAD", nargs="?", default="HEAD",
                        help=f"git revision, or {WORKTREE} (the working tree with uncommitted changes); default HEAD")
    parser.add_argument("--rounds", type=int, default=5, help="ABBA rounds (default 5; at least 2)")
    parser.add_argument("--threshold", type=float, default=0.05,
                        help="relative change a case must pass beyond its interval (default 0.05)")
    parser.add_argument("--confidence", type=float, default=0.95, help="of the bootstrap interval (default 0.95)")
    parser.add_argument("--suite", nargs="+", default=[], metavar="TARGET",
                        help="pytest-benchmark files or node ids, relative to the repository root")
    parser.add_argument("-k", dest="keyword", default=None, help="pytest -k expression for the suites")
    parser.add_argument("--compare", nargs="+", default=[], metavar="WORKLOAD", help="bench/compare.py workloads")
    parser.add_argument("--only", nargs="+", default=[], metavar="TEXT",
                        help="keep the cases whose name contains one of these")
    parser.add_argument("--per-run", choices=("median", "min"), default="median",
                        help="one process's time of a case: the median of its benchmark rounds (default), or the "
                             "fastest (not moved by a neighbour's burst that hits only some rounds)")
    parser.add_argument("--bench-from", choices=("head", "base", "each"), default="head",
                        help="whose bench/ scripts both sides run (default head; each: every side its own)")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT", help="save every time and figure here")
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="the repository (default: the current one)")
    args = parser.parse_args(argv)
    if args.rounds < 2:
        raise UsageError(f"--rounds must be an integer >= 2 (one round has no noise estimate), got {args.rounds}")
    if not 0 <= args.threshold < 1:
        raise UsageError(f"--threshold must be in [0, 1), got {args.threshold}")
    if not 0 < args.confidence < 1:
        raise UsageError(f"--confidence must be in (0, 1), got {args.confidence}")
    return args


def run_ab(args, run=None, log=_print):
    """The whole comparison for parsed ``args``; returns the exit code. ``run(job, side, r)``
    replaces the benchmark processes (tests); by default each is a child process."""
    repo = repository_root(args.repo)
    sides = [resolve_side(repo, "base", args.base), resolve_side(repo, "head", args.head)]
    jobs = make_jobs(args.suite, args.keyword, args.compare, args.only, args.per_run)
    started = time.time()
    with checked_out(repo, sides) as folder:
        def bench_root(side):
            return side.root if args.bench_from == "each" else next(s for s in sides if s.label == args.bench_from).root

        for side in sides:
            for job in jobs:
                missing = job.missing(bench_root(side))
                if missing:
                    raise UsageError(f"--suite/--compare: {', '.join(missing)} must exist in "
                                     f"{side.label} ({side.revision}), got no such file there")

        infos = {}

        def run_process(job, side, r):
            out = folder / f"{job.name}-{side.label}-{r}.json"
            info = folder / f"info-{side.label}.json" if r == "warm-up" else None
            run_child(job.args(bench_root(side), out), side, folder / f"{job.name}-{side.label}-{r}.log", info)
            if info:
                infos[side.label] = json.loads(info.read_text())
            return job.read(out)

        if run is None:
            log("warm-up (untimed: kernels compiled into each side's cache) ...")
            for side in sides:
                for job in jobs:
                    try:
                        cases = run_process(job, side, "warm-up")
                    except RunError as error:
                        if error.args[0] in (4, 5) or (job.name == "compare" and error.args[0] == 2):
                            last = (error.args[2].splitlines() or ["no output"])[-1]
                            raise UsageError(f"--suite/-k/--compare/--only must select a benchmark "
                                             f"{side.label} can run, got: {last}") from None
                        raise
                    if not cases:
                        raise UsageError(f"--suite/-k/--compare/--only must select at least one benchmark, "
                                         f"got none on {side.label} ({side.revision})")
            run = run_process
        times, orders = measure(jobs, sides, args.rounds, run, log)
    summaries = summarize_all(times, args.threshold, args.confidence)
    environment = {name: os.environ.get(name, "(unset)") for name in THREAD_VARIABLES}
    host = machine()
    regressed = [case for case, s in summaries.items() if s.get("verdict") == "regressed"]

    log("")
    log(f"machine: {host['model']}, {host['cores']} cores")
    for side in sides:
        log(f"{side.label}: {side.describe()}")
    log(f"rounds: {args.rounds} (ABBA), a process's time: the {args.per_run} of its benchmark rounds, "
        f"threshold: {args.threshold:.1%}, interval: {args.confidence:.0%} bootstrap of the median ratio "
        f"over rounds ({BOOTSTRAP_RESAMPLES} resamples, seed {BOOTSTRAP_SEED})")
    log("threads: " + ", ".join(f"{k}={v}" for k, v in environment.items()))
    for label, info in infos.items():
        blas = ", ".join(f"{b['internal_api']} {b['version']} ({b['num_threads']} threads)" for b in info["blas"])
        log(f"  {label}: fastnn {info['fastnn_threads']} threads, BLAS {blas or 'none'}; {info['fastnn']}")
    log(f"ratio = head time / base time in the same round; wall time {time.time() - started:.0f} s")
    log(report_table(summaries))
    log("regressed: " + ", ".join(regressed) if regressed else "no case regressed")
    if args.json:
        args.json.write_text(json.dumps({
            "machine": host, "rounds": args.rounds, "per_run": args.per_run, "threshold": args.threshold,
            "confidence": args.confidence,
            "bootstrap": {"resamples": BOOTSTRAP_RESAMPLES, "seed": BOOTSTRAP_SEED},
            "sides": {s.label: {"revision": s.revision, "commit": s.commit, "subject": s.subject} for s in sides},
            "orders": [list(o) for o in orders], "threads_environment": environment, "children": infos,
            "cases": summaries, "regressed": regressed}, indent=1))
    return EXIT_REGRESSED if regressed else EXIT_SAME


def main(argv=None, run=None):
    """Command line entry: returns the exit code (see the module docstring)."""
    def terminate(signum, frame):
        raise KeyboardInterrupt  # the checked_out() cleanup runs on kill as on Ctrl-C

    previous = signal.signal(signal.SIGTERM, terminate)  # main thread only, as a command runs
    try:
        return run_ab(parse_arguments(argv), run=run)
    except UsageError as error:
        print(f"bench/ab.py: {error}", file=sys.stderr)
        return EXIT_USAGE
    except RunError as error:
        print(f"bench/ab.py: {error.args[1]}\n{error.args[2]}", file=sys.stderr)
        return EXIT_RUN_FAILED
    except RuntimeError as error:  # git could not make a worktree
        print(f"bench/ab.py: {error}", file=sys.stderr)
        return EXIT_RUN_FAILED
    except KeyboardInterrupt:
        print("bench/ab.py: interrupted (the temporary copies are removed)", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
