"""Every CUDA source of the gpu backend compiles for sm_90 with nvcc, on any machine.

No GPU and no cupy are needed: the kernel definitions live in
``fastnn.kernels.gpu.sources`` as plain strings, the elementwise ones are rendered to
the complete ``__global__`` functions the runtime compiles, the reduction definitions
to one-block reductions, and the ``.cu`` files are taken whole, each unit in float32
and float64. A syntax or type error in any of them fails here, without a GPU. The
units go to nvcc in two batches run side by side (one nvcc process per core on a
two-core CI machine). Skipped only where no CUDA compiler exists.

The other tests of this file need no compiler: the renderer's output, the kernel names
the wrappers launch, the packaging of the .cu files and the host-side division magic.
"""

from __future__ import annotations

import ast
import os
import pathlib
import re
import shutil
import subprocess

import pytest

from fastnn.kernels.contract import ACTIVATIONS, GRAD_FROM_OUTPUT
from fastnn.kernels.gpu import sources

pytestmark = pytest.mark.cuda_compile

ROOT = pathlib.Path(__file__).resolve().parents[1]
GPU_DIR = ROOT / "kernels" / "gpu"


def find_nvcc():
    for candidate in (os.environ.get("NVCC"), shutil.which("nvcc"),
                      os.path.join(os.environ.get("CUDA_HOME", "/usr/local/cuda"), "bin", "nvcc"),
                      "/usr/local/bin/nvcc", "/usr/local/cuda/bin/nvcc"):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def nvcc():
    path = find_nvcc()
    if path is None:
        pytest.skip("no CUDA compiler (nvcc) on this machine: set NVCC or CUDA_HOME, or put nvcc on PATH")
    return path


def test_every_cuda_source_compiles_for_sm90(nvcc, tmp_path):
    units = sources.all_units()
    files = []
    for label, text in units:
        path = tmp_path / f"{label}.cu"
        path.write_text(text)
        files.append(path)
    out = tmp_path / "out"
    out.mkdir()
    batches = [files[0::2], files[1::2]]
    procs = [subprocess.Popen([nvcc, "-arch=sm_90", "--std=c++14", "-cubin", "-odir", str(out), *map(str, batch)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for batch in batches if batch]
    logs = [p.communicate(timeout=600)[0] for p in procs]
    failed = [log for p, log in zip(procs, logs) if p.returncode != 0]
    assert not failed, "nvcc failed:\n" + "\n".join(failed)
    built = sorted(p.stem for p in out.glob("*.cubin"))
    assert built == sorted(label for label, _ in units), "some units produced no cubin"


def test_units_cover_every_source_in_both_dtypes():
    labels = [label for label, _ in sources.all_units()]
    assert len(labels) == len(set(labels))
    for dtype in sources.DTYPES:
        for group in sources.ELEMENTWISE:
            assert f"ew_{group}_{dtype}" in labels
        for name in sources.REDUCTIONS:
            assert f"red_{name}_{dtype}" in labels
        for filename in sources.CU_FILES:
            assert f"cu_{filename[:-3]}_{dtype}" in labels
    on_disk = sorted(p.name for p in GPU_DIR.glob("*.cu"))
    assert on_disk == sorted(sources.CU_FILES), "a .cu file is not compiled by the backend (CU_FILES)"


def _cu_kernel_names():
    names = {}
    for filename in sources.CU_FILES:
        for name in re.findall(r'extern "C" __global__ void (\w+)\(', sources.read(filename)):
            names[name] = filename
    return names


def test_kernel_names_start_with_fastnn_and_are_unique():
    cu_names = list(_cu_kernel_names())
    ew_names = [k.name for ks in sources.ELEMENTWISE.values() for k in ks]
    everything = cu_names + ew_names + list(sources.REDUCTIONS)
    assert all(n.startswith("fastnn_") for n in everything), [n for n in everything if not n.startswith("fastnn_")]
    assert len(everything) == len(set(everything))


def test_every_launched_kernel_is_defined():
    """The names the wrappers pass to cu(file, name) and elementwise(name) exist in the sources."""
    cu_names = _cu_kernel_names()
    for path in GPU_DIR.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            literal = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if node.func.id == "cu" and len(literal) >= 2:
                assert cu_names.get(literal[1]) == literal[0], f"{path.name}: {literal[1]} not in {literal[0]}"
            elif node.func.id == "elementwise" and literal:
                assert literal[0] in sources.ELEMENTWISE_BY_NAME, f"{path.name}: {literal[0]} undefined"
    for act in ACTIVATIONS:  # names built with f-strings in activations.py / linear.py
        assert f"fastnn_{act}_fwd" in sources.ELEMENTWISE_BY_NAME
        assert f"fastnn_bias_{act}" in sources.ELEMENTWISE_BY_NAME
        assert (f"fastnn_{act}_bwd" in sources.ELEMENTWISE_BY_NAME) == (act != "step")


def test_rendered_elementwise_kernel_binds_elements_and_raw_pointers():
    group, k = sources.ELEMENTWISE_BY_NAME["fastnn_bias_gelu"]
    text = sources.render_elementwise(k)
    assert text.startswith('extern "C" __global__ void fastnn_bias_gelu(const T* __restrict__ b, unsigned int ncol,')
    assert "T* __restrict__ z_, T* __restrict__ y_, long long _n)" in text
    assert "T& z = z_[i];" in text and "T& y = y_[i];" in text
    assert f"for (int _u = 0; _u < {sources.UNROLL}; ++_u)" in text
    for act in ACTIVATIONS:
        fused = sources.ELEMENTWISE_BY_NAME[f"fastnn_bias_{act}"][1]
        outs = [name for direction, _, _, name in fused.params() if direction == "out"]
        assert outs == (["z"] if act in GRAD_FROM_OUTPUT else ["z", "y"])
    with pytest.raises(ValueError):
        sources._parse("raw S alpha", "in")
    with pytest.raises(ValueError):
        sources._parse("float7 x", "in")


def test_cuda_files_are_package_data():
    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    tool = config["tool"]["setuptools"]
    assert "fastnn.kernels.gpu" in tool["packages"]
    patterns = tool["package-data"]["fastnn.kernels.gpu"]
    assert "*.cu" in patterns and "*.cuh" in patterns


@pytest.mark.parametrize("d", [1, 2, 3, 5, 7, 10, 49, 196, 784, 1000, 1024, 4095, 65537, 2**20 + 3, 2**31 - 1])
def test_magic_division_matches_integer_division(d):
    magic, shift = sources.magic_div(d)
    assert 0 <= magic < 2**32 and 0 <= shift <= 31
    for n in {0, 1, d - 1, d, d + 1, 2 * d - 1, 12345, 2**20, 2**31 - 2, 2**31 - 1, (2**31 - 1) // d * d}:
        if 0 <= n < 2**31:
            assert ((((n * magic) >> 32) + n) >> shift) == n // d, (n, d)
