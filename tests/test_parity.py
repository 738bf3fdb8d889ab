"""Backend parity: every row of the case table gives the reference backend's answers on
each compiled backend — forward output, the gradient of every differentiable input, and
every in-place state update (batch-norm running statistics) — in float32 and float64,
on odd small shapes with contiguous and strided (non-contiguous) inputs, in each of the
row's modes (train / eval), and at benchmark size so that the threaded kernel paths run.

The upstream gradient is a fixed random array, so no gradient path can hide behind a
sum of ones; dropout rows draw the same Philox stream on every backend because the
generator is reseeded before each run.
"""

import numpy as np
import pytest

import fastnn as fnn
from backend_params import require
from fastnn.testing.table import ALL_CASES
from tolerances import LARGE_RTOL, RTOL, assert_close

COMPILED = [pytest.param("cpu", id="cpu"), pytest.param("gpu", id="gpu", marks=pytest.mark.gpu)]

# Rows at benchmark size whose reference runs take seconds (many-step recurrent layers);
# their kernels are covered at benchmark size by the other rows.
_LARGE_TOO_SLOW = {"layer_simple_rnn", "layer_simple_rnn_sequences", "layer_lstm", "layer_lstm_sequences",
                   "layer_gru", "layer_gru_sequences"}





def _strided(array):
    """A strided view holding ``array``'s values: every other element of a wider buffer."""
    wide = np.zeros(array.shape[:-1] + (2 * array.shape[-1],), dtype=array.dtype)
    wide[..., ::2] = array
    return wide


def run(instance, backend, layout, seed):
    """Forward + backward of ``instance`` on ``backend``: host copies of the outputs, of the
    gradients of every differentiable input, and of every input after the call."""
    fnn.manual_seed(seed)
    leaves, inputs = [], []
    for array, grad, integer in zip(instance.arrays, instance.grad, _integer_flags(instance)):
        if layout == "strided" and grad and not integer and array.ndim >= 1:
            leaf = fnn.tensor(_strided(array), backend=backend, requires_grad=True)
            inputs.append(leaf[..., ::2])
        else:
            leaf = fnn.tensor(array, backend=backend, requires_grad=bool(grad))
            inputs.append(leaf)
        leaves.append(leaf)
    outputs = instance.fn(*inputs)
    outputs = list(outputs) if isinstance(outputs, (tuple, list)) else [outputs]
    rng = np.random.default_rng(seed + 1)
    total = None
    for out in outputs:
        if out.requires_grad:
            upstream = rng.standard_normal(out.shape).astype(out.dtype)
            term = (out * fnn.tensor(upstream, backend=backend)).sum()
            total = term if total is None else total + term
    if total is not None:
        total.backward()
    return {
        "outputs": [o.numpy() for o in outputs],
        "grads": [None if leaf.grad is None else leaf.grad.numpy() for leaf in leaves],
        "inputs_after": [leaf.numpy() for leaf in leaves],
    }


def _integer_flags(instance):
    flags = list(instance.integer) or [np.asarray(a).dtype.kind in "iu" for a in instance.arrays]
    return flags + [False] * (len(instance.arrays) - len(flags))


def compare(expected, actual, dtype, rtol):
    for key in ("outputs", "grads", "inputs_after"):
        assert len(actual[key]) == len(expected[key])
        for i, (a, e) in enumerate(zip(actual[key], expected[key])):
            if e is None:
                assert a is None, f"{key}[{i}]: gradient on the compiled backend only"
                continue
            assert a is not None, f"{key}[{i}]: no gradient on the compiled backend"
            assert a.dtype == e.dtype, f"{key}[{i}]: dtype {a.dtype} != reference {e.dtype}"
            if e.dtype.kind in "iub":
                assert np.array_equal(a, e), f"{key}[{i}] differs"
            else:
                assert_close(a, e, dtype, rtol=rtol, what=f"{key}[{i}]")


@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("layout", ["contiguous", "strided"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case,mode", [(c, m) for c in ALL_CASES for m in c.modes],
                         ids=lambda v: v.name if hasattr(v, "name") else v)
def test_parity_small(case, mode, dtype, layout, backend):
    require(backend)
    instance = case.instance(dtype=dtype, size="small", mode=mode, seed=3)
    expected = run(instance, "numpy", layout, seed=11)
    instance = case.instance(dtype=dtype, size="small", mode=mode, seed=3)  # fresh state arrays
    actual = run(instance, backend, layout, seed=11)
    compare(expected, actual, dtype, RTOL[dtype])


@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("case,mode", [(c, m) for c in ALL_CASES for m in c.modes if c.name not in _LARGE_TOO_SLOW],
                         ids=lambda v: v.name if hasattr(v, "name") else v)
def test_parity_large_float32(case, mode, backend):
    require(backend)
    instance = case.instance(dtype="float32", size="large", mode=mode, seed=5)
    expected = run(instance, "numpy", "contiguous", seed=13)
    instance = case.instance(dtype="float32", size="large", mode=mode, seed=5)
    actual = run(instance, backend, "contiguous", seed=13)
    compare(expected, actual, "float32", LARGE_RTOL["float32"])
