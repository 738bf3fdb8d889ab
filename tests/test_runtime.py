"""The cpu runtime policy: threads (Numba and BLAS set together), the kernel cache
(location, opt-out), ahead-of-time warm-up and the ``fastnn info`` report."""

import os
import subprocess
import sys

import numpy as np
import pytest

import fastnn as fnn
from fastnn import runtime


def _child(code, **env):
    full = dict(os.environ, **env)
    for name in ("NUMBA_CACHE_DIR", "FASTNN_BACKEND"):
        full.pop(name, None)
    full.update(env)
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, check=True).stdout


def test_num_threads_env_sets_numba_and_blas_together():
    # numpy's BLAS (the one fastnn's GEMMs run on) is found before numba loads libraries
    # of its own (scipy's BLAS, for Numba's linear algebra, which fastnn never calls).
    out = _child(
        "import numpy as np\n"
        "from threadpoolctl import threadpool_info\n"
        "numpy_blas = {i['filepath'] for i in threadpool_info() if i['user_api'] == 'blas'}\n"
        "import fastnn as fnn, numba\n"
        "import fastnn.functional as F; F.relu(fnn.tensor(np.ones((3, 3), np.float32), backend='cpu'))\n"
        "print(fnn.get_num_threads(), numba.get_num_threads(),"
        " sorted({i['num_threads'] for i in threadpool_info() if i['filepath'] in numpy_blas}))",
        FASTNN_NUM_THREADS="1")
    assert out.split(None, 2) == ["1", "1", "[1]\n"]


def test_set_num_threads_applies_to_both_pools():
    import numba
    from threadpoolctl import threadpool_info

    fnn.functional.relu(fnn.tensor(np.ones(3, np.float32), backend="cpu"))  # loads the cpu kernels
    before = fnn.get_num_threads()
    try:
        fnn.set_num_threads(1)
        assert numba.get_num_threads() == 1
        assert {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"} == {1}
    finally:
        fnn.set_num_threads(before)
    assert numba.get_num_threads() == min(before, numba.config.NUMBA_NUM_THREADS)


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-2, ValueError), (1.5, TypeError), ("2", TypeError),
                                        (True, TypeError)])
def test_set_num_threads_rejects_bad_values(bad, error):
    with pytest.raises(error, match="set_num_threads: n must be an int"):
        fnn.set_num_threads(bad)


@pytest.mark.parametrize("value", ["zero", "0", "-1"])
def test_bad_thread_environment_variable_is_an_error(monkeypatch, value):
    monkeypatch.setenv("FASTNN_NUM_THREADS", value)
    with pytest.raises(ValueError, match="FASTNN_NUM_THREADS"):
        runtime.default_num_threads()


def test_cache_dir_defaults_to_user_cache_and_env_overrides(monkeypatch, tmp_path):
    monkeypatch.delenv("FASTNN_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert runtime.cache_dir() == tmp_path / "xdg" / "fastnn" / "numba"
    monkeypatch.setenv("FASTNN_CACHE_DIR", str(tmp_path / "mine"))
    assert runtime.cache_dir() == tmp_path / "mine"


# 64 x 64: above the size below which relu runs NumPy's expression (activations.NUMPY_BELOW),
# so the Numba kernel compiles.
_FIRST_KERNEL = ("import fastnn as fnn, numpy as np\n"
                 "import fastnn.functional as F; F.relu(fnn.tensor(np.ones((64, 64), np.float32), backend='cpu'))\n")


def test_compiled_kernels_are_cached_in_the_cache_dir(tmp_path):
    _child(_FIRST_KERNEL, FASTNN_CACHE_DIR=str(tmp_path))
    cached = [p.name for p in tmp_path.rglob("*") if p.suffix in (".nbi", ".nbc")]
    assert any(name.startswith("activations.") and name.endswith(".nbc") for name in cached), cached


def test_cache_opt_out_writes_nothing(tmp_path):
    _child(_FIRST_KERNEL, FASTNN_CACHE_DIR=str(tmp_path), FASTNN_CACHE="0")
    assert not list(tmp_path.rglob("*.nbi"))


def test_warmup_runs_the_table_rows_in_every_setting_and_leaves_the_random_stream(monkeypatch):
    from collections import Counter

    from fastnn.kernels.cpu import _jit
    from fastnn.kernels.cpu import conv as cpu_conv
    from fastnn.testing import cases_optim, table

    rows = [c for c in table.ALL_CASES if c.name in ("dropout", "conv2d_relu", "reshape")]
    seen = []
    real = fnn.precompile._forward_backward

    def recording(instance, backend):
        seen.append((backend.name, cpu_conv.FORCED, _jit.PARALLEL_MIN == 0))
        real(instance, backend)

    monkeypatch.setattr(table, "ALL_CASES", rows)
    monkeypatch.setattr(cases_optim, "OPTIMIZER_CASES", cases_optim.OPTIMIZER_CASES[:1])
    monkeypatch.setattr(fnn.precompile, "_forward_backward", recording)
    fnn.manual_seed(5)
    state = fnn.get_rng_state()
    default_algorithm, threshold = cpu_conv.FORCED, _jit.PARALLEL_MIN
    fnn.warmup(("float32",))
    assert fnn.get_rng_state() == state          # the dropout row drew masks, then the stream was restored
    assert (cpu_conv.FORCED, _jit.PARALLEL_MIN) == (default_algorithm, threshold)   # settings undone
    # the convolution under each algorithm, threaded and serial; dropout in train and eval,
    # threaded and serial; reshape (array-module arithmetic, no compiled kernel) not at all
    counts = Counter(seen)
    expected = Counter({("cpu", a, threaded): 1 for a in cpu_conv.ALGORITHMS for threaded in (True, False)})
    expected.update({("cpu", default_algorithm, threaded): 2 for threaded in (True, False)})
    assert counts == expected


def test_warmup_compiles_every_kernel_so_training_compiles_nothing():
    # A fresh process: after warmup(), a training step with dropout, batch norm,
    # convolution, pooling and Adam adds no compiled specialisation. It counts the
    # dispatchers' signatures, which Numba adds per call type whether it compiles or loads
    # the code from the cache, so the test shares the session's cache (a cache of its own
    # compiled every float32 kernel from nothing: three minutes of CI).
    out = _child(
        "import fastnn as fnn, numpy as np, importlib\n"
        "import fastnn.functional as F\n"
        "from fastnn.kernels import cpu\n"
        "from fastnn.layers import *\n"
        "fnn.warmup(('float32',))\n"
        "def count():\n"
        "    n = 0\n"
        "    for module in set(cpu.PROVIDES.values()):\n"
        "        for obj in vars(importlib.import_module('fastnn.kernels.cpu.' + module)).values():\n"
        "            for d in (getattr(obj, 'parallel', None), getattr(obj, 'serial', None), obj):\n"
        "                n += len(getattr(d, 'signatures', ()) or ())\n"
        "    return n\n"
        "before = count()\n"
        "m = fnn.Sequential([Input((1, 8, 8)), Conv2D(4, 3, padding='same', activation='relu'), MaxPooling2D(2),\n"
        "                    BatchNormalization(), Flatten(), Dropout(0.3), Dense(3)], backend='cpu')\n"
        "opt = fnn.optim.Adam(m.parameters())\n"
        "x = fnn.tensor(np.random.rand(5, 1, 8, 8).astype(np.float32))\n"
        "loss = F.sparse_categorical_crossentropy(m(x), fnn.tensor(np.array([0, 1, 2, 0, 1])))\n"
        "loss.backward(); opt.step()\n"
        "print(before, count())")
    before, after = map(int, out.split())
    assert before > 0 and after == before


def test_info_reports_versions_threads_blas_and_cache(tmp_path):
    out = subprocess.run([sys.executable, "-m", "fastnn", "info"], capture_output=True, text=True, check=True,
                         env=dict(os.environ, FASTNN_CACHE_DIR=str(tmp_path))).stdout
    import numba

    assert f"numba {numba.__version__}" in out
    assert "threading layer:" in out and "threads:" in out
    assert "BLAS:" in out and "architecture:" in out
    assert str(tmp_path) in out
    assert "backends available: numpy, cpu" in out


def test_openblas_idle_wait_is_set_before_numpy_loads():
    # Imported before NumPy, fastnn shortens OpenBLAS's idle spin; a value of the user's
    # wins, and after NumPy it is too late (OpenBLAS read the variable), which info says.
    code = ("import os, fastnn\nfrom fastnn import runtime\n"
            "print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'), '|', runtime.openblas_timeout())")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    run = lambda c, **e: subprocess.run([sys.executable, "-c", c], env=dict(env, **e), capture_output=True,  # noqa: E731
                                        text=True, check=True).stdout.strip()
    assert run(code) == f"{runtime.OPENBLAS_THREAD_TIMEOUT} | {runtime.OPENBLAS_THREAD_TIMEOUT} (set by fastnn)"
    assert run(code, OPENBLAS_THREAD_TIMEOUT="9") == "9 | 9 (set before fastnn)"
    late = run("import numpy\n" + code)
    assert late.startswith("None | OpenBLAS's default: NumPy was imported before fastnn")
