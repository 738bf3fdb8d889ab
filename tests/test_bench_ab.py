"""bench/ab.py, the A/B benchmark gate: its statistics, its ABBA order, its git worktrees
(on a tiny repository made here), the check that a side imports its own fastnn, argument
errors and the parsing of the benchmark outputs. No benchmark runs: the benchmark
processes are replaced by functions returning chosen times."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[1] / "bench" / "ab.py"
_SPEC = importlib.util.spec_from_file_location("bench_ab", _PATH)
ab = importlib.util.module_from_spec(_SPEC)
sys.modules["bench_ab"] = ab  # dataclasses look their module up by name
_SPEC.loader.exec_module(ab)


def _git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org",
                           "-c", "commit.gpgsign=false", *args], check=True, capture_output=True, text=True).stdout


def _make_repo(path):
    """A repository with fastnn's layout (fastnn/, top-level kernels/, bench/) and two
    commits: VERSION = 1, then VERSION = 2."""
    path.mkdir()
    _git(path, "init", "-q")
    for name, text in {"fastnn/__init__.py": "VERSION = 1\n", "kernels/__init__.py": "",
                       "bench/compare.py": "", "bench/test_bench_cases.py": "", ".gitignore": "ignored.txt\n"}.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "first")
    (path / "fastnn/__init__.py").write_text("VERSION = 2\n")
    _git(path, "commit", "-q", "-am", "second")
    return path


@pytest.fixture
def repo(tmp_path):
    return _make_repo(tmp_path / "repo")


def _worktrees(repo):
    return [Path(line.split(" ", 1)[1]) for line in _git(repo, "worktree", "list", "--porcelain").splitlines()
            if line.startswith("worktree ")]


# -- statistics --------------------------------------------------------------------------

def test_ratio_pairs_the_rounds_so_a_drift_common_to_both_sides_cancels():
    base = [1.0, 2.0, 3.0, 4.0, 5.0]  # the machine slowed down round by round
    head = [1.2 * t for t in base]
    summary = ab.summarize(base, head, threshold=0.05)
    np.testing.assert_allclose(summary["ratios"], [1.2] * 5)
    assert summary["low"] == pytest.approx(1.2) and summary["high"] == pytest.approx(1.2)
    assert summary["verdict"] == "regressed"
    assert summary["base_median_s"] == 3.0 and summary["head_median_s"] == pytest.approx(3.6)


def test_clearly_slower_is_regressed():
    summary = ab.summarize([1.0] * 5, [1.28, 1.31, 1.35, 1.29, 1.33], threshold=0.05)
    assert summary["ratio"] == pytest.approx(1.31)
    assert (summary["low"], summary["high"]) == pytest.approx((1.28, 1.35))  # 5 rounds: their range
    assert summary["verdict"] == "regressed"


def test_clearly_faster_is_improved():
    summary = ab.summarize([2.0] * 5, [1.4, 1.5, 1.44, 1.38, 1.46], threshold=0.05)
    assert summary["ratio"] == pytest.approx(0.72)
    assert summary["verdict"] == "improved"


def test_noisy_equal_is_same():
    summary = ab.summarize([1.0] * 5, [0.85, 1.2, 1.0, 0.95, 1.15], threshold=0.05)
    assert summary["ratio"] == pytest.approx(1.0)
    assert (summary["low"], summary["high"]) == pytest.approx((0.85, 1.2))
    assert summary["verdict"] == "same"


def test_one_quiet_round_keeps_a_slower_median_from_counting():
    summary = ab.summarize([1.0] * 5, [1.3, 1.3, 1.3, 1.3, 1.02], threshold=0.05)
    assert summary["ratio"] == pytest.approx(1.3)
    assert summary["verdict"] == "same"  # the interval reaches down to 1.02: within the noise band


def test_threshold_edge_counts_only_beyond_it():
    # 1.25 and 0.75 are exact in binary, so "at the edge" is exactly at it
    assert ab.summarize([1.0] * 3, [1.25] * 3, threshold=0.25)["verdict"] == "same"
    assert ab.summarize([1.0] * 3, [1.2500001] * 3, threshold=0.25)["verdict"] == "regressed"
    assert ab.summarize([1.0] * 3, [0.75] * 3, threshold=0.25)["verdict"] == "same"
    assert ab.summarize([1.0] * 3, [0.7499999] * 3, threshold=0.25)["verdict"] == "improved"
    assert ab.verdict(1.06, 1.2, 0.05) == "regressed" and ab.verdict(1.04, 1.2, 0.05) == "same"


@pytest.mark.parametrize("rounds", [2, 3, 4, 5])
def test_interval_of_five_rounds_or_fewer_is_their_range(rounds):
    # a resample's median is the smallest ratio with probability >= 5.8 % > 2.5 % for n <= 5
    ratios = np.random.default_rng(rounds).uniform(0.8, 1.2, rounds)
    assert ab.median_interval(ratios) == pytest.approx((ratios.min(), ratios.max()))


def test_interval_of_many_rounds_matches_the_order_statistics_of_the_median():
    # 41 distinct ratios: the distribution-free 95 % interval of a median runs from rank
    # n/2 - 1.96 sqrt(n)/2 to n/2 + 1.96 sqrt(n)/2, that is from about the 14th to the 26th (0-based)
    ratios = 1 + (np.random.default_rng(1).permutation(41) - 20) / 100
    low, high = ab.median_interval(ratios)
    ranks = np.sort(ratios)
    assert ranks[12] <= low <= ranks[16] and ranks[24] <= high <= ranks[28]
    narrower = ab.median_interval(ratios, confidence=0.5)
    assert low < narrower[0] <= 1.0 <= narrower[1] < high
    assert ab.median_interval(ratios) == (low, high)  # seeded: the same figures every time


def test_round_ratios_refuse_unpaired_or_bad_times():
    with pytest.raises(ValueError, match="same length, got 3 and 2"):
        ab.round_ratios([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match=r"head_times must be positive finite seconds, got \[1.0, 0.0\]"):
        ab.round_ratios([1, 2], [1, 0])


# -- ABBA order ---------------------------------------------------------------------------

def test_round_orders_alternate():
    assert ab.round_orders(4) == [("base", "head"), ("head", "base"), ("base", "head"), ("head", "base")]


def test_measure_runs_every_job_on_both_sides_in_abba_order():
    calls = []
    jobs = [ab.SuiteJob(("bench/x.py",)), ab.CompareJob(("mlp_b128",))]
    sides = [ab.Side("base", "A", "a" * 40), ab.Side("head", "B", "b" * 40)]

    def run(job, side, r):
        calls.append((job.name, side.label, r))
        return {f"{job.name}-case": 1.0 + r + (0.5 if side.label == "head" else 0)}

    times, orders = ab.measure(jobs, sides, 3, run, log=lambda line: None)
    assert calls == [("suite", "base", 0), ("suite", "head", 0), ("compare", "base", 0), ("compare", "head", 0),
                     ("suite", "head", 1), ("suite", "base", 1), ("compare", "head", 1), ("compare", "base", 1),
                     ("suite", "base", 2), ("suite", "head", 2), ("compare", "base", 2), ("compare", "head", 2)]
    assert orders == ab.round_orders(3)
    assert times["suite-case"] == {"base": {0: 1.0, 1: 2.0, 2: 3.0}, "head": {0: 1.5, 1: 2.5, 2: 3.5}}


def test_summaries_pair_only_rounds_both_sides_measured():
    times = {"both": {"base": {0: 1.0, 1: 1.0, 2: 1.0}, "head": {0: 2.0, 2: 2.0}},
             "once": {"base": {0: 1.0}, "head": {0: 1.0}}}
    summaries = ab.summarize_all(times, 0.05, 0.95)
    assert summaries["both"]["ratios"] == [2.0, 2.0] and summaries["both"]["verdict"] == "regressed"
    assert "verdict" not in summaries["once"] and "both in 1" in summaries["once"]["note"]


# -- worktrees and the kernels link ---------------------------------------------------------

def test_sides_are_worktrees_or_a_snapshot_with_the_kernels_link_and_are_removed(repo, tmp_path):
    (repo / "fastnn/__init__.py").write_text("VERSION = 3\n")  # uncommitted
    (repo / "new.py").write_text("untracked\n")
    (repo / "ignored.txt").write_text("ignored\n")
    sides = [ab.resolve_side(repo, "base", "HEAD~1"), ab.resolve_side(repo, "head", ab.WORKTREE)]
    assert sides[1].changed_files == 2
    with ab.checked_out(repo, sides, workdir=tmp_path) as folder:
        base, head = (side.root for side in sides)
        assert (base / "fastnn/__init__.py").read_text() == "VERSION = 1\n"
        assert (head / "fastnn/__init__.py").read_text() == "VERSION = 3\n"
        assert (head / "new.py").is_file() and not (head / "ignored.txt").exists()
        for root in (base, head):
            assert (root / "fastnn/kernels").is_symlink()
            assert (root / "fastnn/kernels").resolve() == (root / "kernels").resolve()
        assert base.resolve() in [p.resolve() for p in _worktrees(repo)]
        assert sides[0].cache_dir.is_dir() and sides[1].cache_dir.is_dir()
    assert not folder.exists()
    assert [p.resolve() for p in _worktrees(repo)] == [repo.resolve()]


def test_worktrees_are_removed_when_a_run_fails(repo, tmp_path):
    sides = [ab.resolve_side(repo, "base", "HEAD~1"), ab.resolve_side(repo, "head", "HEAD")]
    with pytest.raises(ab.RunError):
        with ab.checked_out(repo, sides, workdir=tmp_path) as folder:
            assert len(_worktrees(repo)) == 3
            raise ab.RunError(1, "head: pytest exited with 1", "")
    assert not folder.exists()
    assert [p.resolve() for p in _worktrees(repo)] == [repo.resolve()]


def test_child_runs_only_with_its_own_fastnn(repo, tmp_path):
    script = repo / "bench" / "probe.py"
    script.write_text("import sys, fastnn\nopen(sys.argv[1], 'w').write(str(fastnn.VERSION) + ' ' + sys.argv[2])\n")
    _git(repo, "add", "bench/probe.py")
    _git(repo, "commit", "-q", "-m", "probe")
    side = ab.resolve_side(repo, "head", "HEAD")
    with ab.checked_out(repo, [side], workdir=tmp_path) as folder:
        out = folder / "out.txt"
        ab.run_child(["script", str(side.root / "bench/probe.py"), str(out), "arg"], side, folder / "log")
        assert out.read_text() == "2 arg"
        (side.root / "fastnn/kernels").unlink()  # fastnn.kernels would now come from elsewhere or nowhere
        with pytest.raises(ab.RunError) as error:
            ab.run_child(["script", str(side.root / "bench/probe.py"), str(out), "arg"], side, folder / "log")
        assert error.value.args[0] == ab.EXIT_WRONG_FASTNN
        assert "fastnn.kernels comes from" in error.value.args[2]


def test_child_environment_puts_the_side_first_with_its_own_cache():
    side = ab.Side("base", "A", "a" * 40, root=Path("/x/base"), cache_dir=Path("/x/cache-base"))
    caller = {"PYTHONPATH": "/elsewhere", "NUMBA_CACHE_DIR": "/shared", "FASTNN_NUM_THREADS": "1"}
    env = ab.child_environment(side, caller)
    assert env["PYTHONPATH"].split(":") == ["/x/base", "/elsewhere"]
    assert env["FASTNN_CACHE_DIR"] == "/x/cache-base" and "NUMBA_CACHE_DIR" not in env
    assert env["FASTNN_NUM_THREADS"] == "1"


# -- the whole gate with replaced benchmark processes ------------------------------------------

def _gate(repo, capsys, head_factor, *extra):
    def run(job, side, r):
        slow = head_factor if side.label == "head" else 1.0
        return {"cases::a": 0.010 * slow * (1 + 0.01 * r), "cases::b": 0.002 * (1 + 0.01 * r)}

    code = ab.main(["HEAD~1", "HEAD", "--repo", str(repo), "--rounds", "4", "--compare", "mlp_b128", *extra], run=run)
    return code, capsys.readouterr()


def test_gate_exits_1_listing_the_regressed_case(repo, capsys, tmp_path):
    code, out = _gate(repo, capsys, 1.3, "--json", str(tmp_path / "ab.json"))
    assert code == 1
    assert out.out.strip().endswith("regressed: cases::a")
    saved = json.loads((tmp_path / "ab.json").read_text())
    assert saved["regressed"] == ["cases::a"] and saved["cases"]["cases::b"]["verdict"] == "same"
    assert saved["orders"] == [["base", "head"], ["head", "base"], ["base", "head"], ["head", "base"]]
    assert saved["sides"]["base"]["commit"] == _git(repo, "rev-parse", "HEAD~1").strip()
    assert [p.resolve() for p in _worktrees(repo)] == [repo.resolve()]


def test_gate_exits_0_when_nothing_regressed(repo, capsys):
    code, out = _gate(repo, capsys, 0.7)
    assert code == 0
    assert "no case regressed" in out.out and "improved" in out.out


# -- argument errors ------------------------------------------------------------------------

@pytest.mark.parametrize("args, named", [
    (["no-such-revision"], "'no-such-revision'"),
    (["HEAD", "nope~3"], "'nope~3'"),
    (["HEAD", "--rounds", "1"], "--rounds"),
    (["HEAD", "--threshold", "-0.1"], "--threshold"),
    (["HEAD", "--bogus"], "--bogus"),
    (["HEAD", "--suite", "bench/missing.py"], "bench/missing.py"),
])
def test_usage_errors_exit_2_with_one_line(repo, capsys, args, named):
    assert ab.main([*args, "--repo", str(repo)], run=lambda *a: pytest.fail("nothing may run")) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and named in err
    assert [p.resolve() for p in _worktrees(repo)] == [repo.resolve()]


# -- jobs and benchmark outputs ------------------------------------------------------------------

def test_default_jobs_and_only():
    suite, compare = ab.make_jobs([], None, [], [])
    assert suite.targets == ab.DEFAULT_SUITE and compare.workloads == ab.DEFAULT_COMPARE
    suite, compare = ab.make_jobs([], None, [], ["cnn"])
    assert suite.targets == ("bench/test_bench_cases.py::test_case_forward_backward[conv2d_cnn_conv2_relu-cpu]",)
    assert compare.workloads == ("cnn_b64",)
    (files,) = ab.make_jobs(["bench/test_bench_steps.py"], "cpu", [], ["mlp", "cnn"])
    assert files.keyword == "(cpu) and (mlp or cnn)"
    assert files.args("/r", "/o.json")[-3:] == ["-k", "(cpu) and (mlp or cnn)", "/r/bench/test_bench_steps.py"]
    with pytest.raises(ab.UsageError, match="--only"):
        ab.make_jobs([], None, [], ["no-such-case"])


def test_reads_pytest_benchmark_json():
    sample = {"machine_info": {}, "commit_info": {}, "version": "5.1.0", "datetime": "2026-12-06T10:00:00",
              "benchmarks": [
                  {"group": "linear_relu", "name": "test_case_forward_backward[linear_relu-cpu]",
                   "fullname": "bench/test_bench_cases.py::test_case_forward_backward[linear_relu-cpu]",
                   "params": {"backend": "cpu"}, "extra_info": {"first_call_ms": 13.7},
                   "stats": {"min": 0.0086, "max": 0.0088, "mean": 0.0087, "median": 0.00869, "rounds": 5}},
                  {"group": "op", "name": "test_single_op[conv3x3-fwd-cpu]",
                   "fullname": "/tmp/fastnn-ab-x/head/bench/test_bench_steps.py::test_single_op[conv3x3-fwd-cpu]",
                   "stats": {"min": 0.019, "max": 0.025, "mean": 0.021, "median": 0.02, "rounds": 10}}]}
    assert ab.read_pytest_benchmark(sample) == {
        "test_bench_cases.py::test_case_forward_backward[linear_relu-cpu]": 0.00869,
        "test_bench_steps.py::test_single_op[conv3x3-fwd-cpu]": 0.02}
    assert ab.read_pytest_benchmark(sample, "min") == {
        "test_bench_cases.py::test_case_forward_backward[linear_relu-cpu]": 0.0086,
        "test_bench_steps.py::test_single_op[conv3x3-fwd-cpu]": 0.019}


def test_reads_compare_json():
    sample = {"threads": 2, "cpu": "AMD EPYC", "sgemm_peak_gflops": None, "results": {
        "mlp_b128": {"cpu": {"median_s": 0.0031, "first_s": 0.9, "rounds": [0.0031, 0.0030, 0.0033]}},
        "cnn_b64": {"numpy": {"median_s": 0.2, "first_s": 0.3, "rounds": [0.2]}}}}
    assert ab.read_compare(sample) == {"compare.py::mlp_b128": 0.0031}
    assert ab.read_compare(sample, statistic="min") == {"compare.py::mlp_b128": 0.0030}
