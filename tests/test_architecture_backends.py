"""Backends are objects: outside ``fastnn/backend.py`` and the kernel packages no code
branches on a backend's name or on an array's module. It asks the backend object
(``host_memory``, ``owns``, ``to_numpy``, ``xp``, ``synchronize``, the capability flags),
so a fourth backend is a subclass in one file. This test reads the source to hold that."""

from __future__ import annotations

import pathlib
import re

import numpy as np
import pytest

import fastnn as fnn
from fastnn import backend as backends

PACKAGE = pathlib.Path(fnn.__file__).resolve().parent
_NAME = r"""["'](?:numpy|cpu|gpu)["']"""
#: What a name or module branch looks like; each pattern is checked against a line of
#: the forbidden kind in test_the_patterns_catch_what_they_forbid.
FORBIDDEN = {
    "backend name compared": re.compile(
        rf"""\.name\s*(?:[!=]=|(?:not\s+)?in\b)\s*[(\[{{]?\s*{_NAME}|{_NAME}\s*[!=]=\s*\w+\.name\b"""),
    "backend variable compared with a name": re.compile(rf"""\bbackend\s*[!=]=\s*{_NAME}"""),
    "array module tested by name": re.compile(
        r"""__module__\.startswith\(\s*["']cupy|__name__\s*[!=]=\s*["'](?:numpy|cupy)["']"""),
}


def _sources():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "kernels" or relative == pathlib.Path("backend.py"):
            continue
        yield relative, path.read_text(encoding="utf-8")


def test_no_code_outside_the_backend_module_branches_on_backend_names_or_array_modules():
    offences = []
    for relative, text in _sources():
        for number, line in enumerate(text.splitlines(), 1):
            for what, pattern in FORBIDDEN.items():
                if pattern.search(line):
                    offences.append(f"{relative}:{number}: {what}: {line.strip()}")
    assert not offences, "ask the backend object instead:\n" + "\n".join(offences)


@pytest.mark.parametrize("line, what", [
    ('if backend.name == "gpu":', "backend name compared"),
    ("elif target.name != 'numpy':", "backend name compared"),
    ('if b.name in ("cpu", "gpu"):', "backend name compared"),
    ('if "gpu" == backend.name:', "backend name compared"),
    ('if backend == "cpu":', "backend variable compared with a name"),
    ('return type(a).__module__.startswith("cupy")', "array module tested by name"),
    ('if xp.__name__ == "numpy":', "array module tested by name"),
])
def test_the_patterns_catch_what_they_forbid(line, what):
    assert FORBIDDEN[what].search(line)
    assert not any(p.search('if layer.name == "dense":') for p in FORBIDDEN.values())


def test_the_backend_hierarchy():
    numpy_backend, cpu, gpu = (backends.named(n) for n in ("numpy", "cpu", "gpu"))
    assert isinstance(cpu, backends.Backend) and type(cpu) is backends.CpuBackend
    assert isinstance(gpu, backends.GpuBackend) and not isinstance(numpy_backend, (backends.CpuBackend,
                                                                                    backends.GpuBackend))
    assert numpy_backend.host_memory and cpu.host_memory and not gpu.host_memory
    assert gpu.deferred_checks and not numpy_backend.deferred_checks and not cpu.deferred_checks
    host = np.zeros(3)
    assert numpy_backend.owns(host) and cpu.owns(host) and not gpu.owns(host)
    assert not cpu.owns([0.0, 1.0])
    assert backends.of_array(host) is numpy_backend and backends.of_array([1.0]) is numpy_backend
    assert backends.is_array(host) and not backends.is_array([1.0])
    assert backends.to_host([1.0, 2.0]).tolist() == [1.0, 2.0]
    assert numpy_backend.xp is np and cpu.xp is np


def test_a_tensor_holds_its_backend_object():
    t = fnn.tensor([1.0, 2.0], backend="numpy")
    assert t._backend is backends.named("numpy") and t.backend == "numpy"
    assert (t + t)._backend is t._backend


def test_an_available_backend_is_checked_once(monkeypatch):
    cpu = backends.named("cpu")
    if cpu.unavailable_reason() is not None:
        pytest.skip(f"the cpu backend is unavailable here: {cpu.unavailable_reason()}")
    monkeypatch.setattr(cpu, "_known_available", False)
    calls = []
    real = cpu.unavailable_reason
    monkeypatch.setattr(cpu, "unavailable_reason", lambda: calls.append(1) or real())
    for _ in range(5):
        assert backends.get("cpu") is cpu
        fnn.tensor([1.0], backend="cpu")
    assert calls == [1], "the availability check (a package lookup on disk) ran more than once"
