"""The kernel contract and the registry: the reference backend implements every
kernel with the contract's signature, and the list of (kernel, backend) pairs that
fall back to the reference is printed and pinned, so each gap is a decision."""

import importlib
import inspect
import re

import pytest

from fastnn import backend as backends
from fastnn.kernels import contract

NON_HOT = sorted(set(contract.KERNELS) - contract.HOT_PATHS)

# The pinned fallbacks. The cpu and gpu packages do not implement kernels yet, so
# each would fall back on every non-hot kernel, and both stay unavailable until
# they provide every hot path (see test_backend_without_hot_paths_is_unavailable).
# Shrinking these lists is the point of the compiled backends' work.
PINNED_FALLBACKS = {
    "numpy": [],
    "cpu": [
        "bce_logits_bwd", "bce_logits_fwd", "embedding_bwd", "embedding_fwd", "l2_bwd", "l2_fwd",
        "log_softmax_bwd", "log_softmax_fwd", "mse_bwd", "mse_fwd", "softmax_bwd", "softmax_fwd",
    ],
    "gpu": [
        "bce_logits_bwd", "bce_logits_fwd", "embedding_bwd", "embedding_fwd", "l2_bwd", "l2_fwd",
        "log_softmax_bwd", "log_softmax_fwd", "mse_bwd", "mse_fwd", "softmax_bwd", "softmax_fwd",
    ],
}


def _contract_parameters(spec):
    return re.match(r"\(([^)]*)\)", spec.signature).group(1).replace(" ", "").split(",")


def test_reference_provides_exactly_the_contract():
    provides = backends._REGISTRY["numpy"].provides
    assert set(provides) == set(contract.KERNELS)


@pytest.mark.parametrize("name", list(contract.KERNELS))
def test_reference_kernel_signature_matches_the_contract(name):
    fn = backends._REGISTRY["numpy"].kernel(name)
    assert callable(fn)
    assert list(inspect.signature(fn).parameters) == _contract_parameters(contract.KERNELS[name])


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
        assert list(inspect.signature(fn).parameters) == _contract_parameters(contract.KERNELS[name])


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


def test_a_hot_path_kernel_never_falls_back():
    cpu = backends.Backend("cpu")
    hot = sorted(contract.HOT_PATHS - set(cpu.provides))
    if not hot:
        pytest.fail("cpu now provides every hot path: pin a new missing-kernel example here")
    with pytest.raises(backends.BackendError, match="may not fall back"):
        cpu.kernel(hot[0])


def test_a_non_hot_kernel_falls_back_to_the_reference_function():
    cpu = backends.Backend("cpu")
    name = next(n for n in NON_HOT if n not in cpu.provides)
    assert cpu.kernel(name) is backends._REGISTRY["numpy"].kernel(name)


def test_unknown_kernel_names_are_refused():
    with pytest.raises(KeyError, match="unknown kernel 'conv3d_fwd'"):
        backends._REGISTRY["numpy"].kernel("conv3d_fwd")
