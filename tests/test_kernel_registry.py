"""The kernel contract and the registry: the reference backend implements every
kernel with the contract's signature, and the list of (kernel, backend) pairs that
fall back to the reference is printed and pinned, so each gap is a decision."""

import importlib
import inspect

import pytest

from fastnn import backend as backends
from fastnn.kernels import contract

NON_HOT = sorted(set(contract.KERNELS) - contract.HOT_PATHS)

# The pinned fallbacks: each is a decision. On cpu the small losses and penalties and the
# embedding lookup run through the reference: they are single NumPy passes (or a
# scatter-add) that a Numba kernel would not beat by enough to matter, and none is a hot
# path. The gpu backend implements every kernel of the contract.
PINNED_FALLBACKS = {
    "numpy": [],
    "cpu": ["bce_logits_bwd", "bce_logits_fwd", "embedding_bwd", "embedding_fwd", "l2_bwd", "l2_fwd",
            "mse_bwd", "mse_fwd"],
    "gpu": [],
}


def test_reference_provides_exactly_the_contract():
    provides = backends._REGISTRY["numpy"].provides
    assert set(provides) == set(contract.KERNELS)


@pytest.mark.parametrize("name", list(contract.KERNELS))
def test_reference_kernel_signature_matches_the_contract(name):
    fn = backends._REGISTRY["numpy"].kernel(name)
    assert callable(fn)
    assert list(inspect.signature(fn).parameters) == list(contract.KERNELS[name].params)


@pytest.mark.parametrize("backend", backends.NAMES)
def test_fallback_list_is_pinned(backend):
    found = backends.fallbacks(backend)
    print(f"\n{backend} falls back to the reference for: {', '.join(found) or 'nothing'}")
    assert found == PINNED_FALLBACKS[backend]
    assert not set(found) & contract.HOT_PATHS


@pytest.mark.parametrize("backend", ["cpu", "gpu"])
def test_compiled_backends_provide_only_contract_kernels_with_its_signatures(backend):
    package = backends._REGISTRY[backend]
    for name, module in package.provides.items():
        assert name in contract.KERNELS, f"{backend} provides {name!r}, which the contract does not list"
        fn = getattr(importlib.import_module(f"{package._package}.{module}"), name)
        assert list(inspect.signature(fn).parameters) == list(contract.KERNELS[name].params)


@pytest.mark.parametrize("backend", ["cpu", "gpu"])
def test_backend_without_hot_paths_is_unavailable(backend):
    b = backends._REGISTRY[backend]
    missing = b.missing_hot_paths()
    reason = b.unavailable_reason()
    if missing:
        assert reason is not None and backend not in backends.available_backends()
        if "hot-path kernels" in reason:
            assert all(name in reason for name in missing)
        with pytest.raises(backends.BackendError, match=f"backend '{backend}' is not available"):
            backends.get(backend)


def _backend_lacking(name, monkeypatch):
    """A cpu Backend whose package provides everything it does except ``name``."""
    cpu = backends.CpuBackend()
    provides = {k: v for k, v in backends._REGISTRY["cpu"].provides.items() if k != name}
    monkeypatch.setattr(backends.Backend, "provides", property(lambda self: provides))
    return cpu


def test_a_hot_path_kernel_never_falls_back(monkeypatch):
    cpu = _backend_lacking("relu_fwd", monkeypatch)
    with pytest.raises(backends.BackendError, match="lacks the hot-path kernel 'relu_fwd' and may not fall back"):
        cpu.kernel("relu_fwd")
    assert "relu_fwd" in cpu.missing_hot_paths() and "relu_fwd" in cpu.unavailable_reason()


def test_a_non_hot_kernel_falls_back_to_the_reference_function(monkeypatch):
    cpu = _backend_lacking("mse_fwd", monkeypatch)
    assert cpu.kernel("mse_fwd") is backends._REGISTRY["numpy"].kernel("mse_fwd")
    assert "mse_fwd" in cpu.fallbacks()


def test_unknown_kernel_names_are_refused():
    with pytest.raises(KeyError, match="unknown kernel 'conv3d_fwd'"):
        backends._REGISTRY["numpy"].kernel("conv3d_fwd")


def test_the_contract_is_a_typed_table():
    for spec in contract.KERNELS.values():
        assert spec.params and all(isinstance(p, str) and p.isidentifier() for p in spec.params), spec.name
        assert all(isinstance(r, str) and r.isidentifier() for r in spec.returns), spec.name
        assert len(set(spec.params)) == len(spec.params), spec.name
    assert contract.KERNELS["adam_update"].returns == ()          # in place
    assert contract.KERNELS["linear_fwd"].signature.startswith("(x, w, b, activation, alpha) -> (y, z)")


def _kernel_uses():
    """(file:line, kernel name) of every ``<...>.k.<name>`` (and ``k.<name>`` of a namespace
    handed over as ``k``) in fastnn's own code, and the places that probe the namespace or a
    kernel for something optional: ``hasattr``, or ``getattr`` with a default (the way the
    gpu softmax companions had been found)."""
    import ast
    import pathlib

    package = pathlib.Path(backends.__file__).resolve().parent
    uses, probes = [], []

    def is_namespace(node):
        return (isinstance(node, ast.Attribute) and node.attr == "k") or (isinstance(node, ast.Name) and node.id == "k")

    for path in sorted(package.rglob("*.py")):
        if path.relative_to(package).parts[0] == "kernels":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.relative_to(package)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Attribute) and is_namespace(node.value):
                uses.append((where, node.attr))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args \
                    and (node.func.id == "hasattr" or (node.func.id == "getattr" and len(node.args) == 3)) \
                    and any(is_namespace(n) for n in ast.walk(node.args[0])):
                probes.append(where)
    return uses, probes


def test_the_contract_is_closed_ops_call_only_contract_kernels_and_probe_nothing():
    uses, probes = _kernel_uses()
    assert len(uses) > 25                                  # the ops do reach their kernels this way
    outside = [f"{where}: {name}" for where, name in uses if name not in contract.KERNELS]
    assert not outside, "kernels outside the contract:\n" + "\n".join(outside)
    assert not probes, "kernels probed for companions:\n" + "\n".join(probes)
