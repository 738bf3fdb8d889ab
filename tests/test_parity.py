"""Backend parity: every row of the case table gives the reference backend's answers on
each compiled backend — forward output, the gradient of every differentiable input, and
every in-place state update (batch-norm running statistics) — in float32 and float64,
on odd small shapes with contiguous and strided (non-contiguous) inputs, in each of the
row's modes (train / eval), and at benchmark size so that the threaded kernel paths run.

Each test is one (row, mode, dtype, layout, backend) through the core of
``fastnn.testing.check_parity`` (``ParityRunner``): a run on the backend is compared with
the reference's run on contiguous inputs, so a strided run must also match contiguous
results, and every run must leave its inputs as given. A row's floating inputs without
gradient are its state (running statistics, updated in place): they are compared with the
reference's after the call. The upstream gradient is a fixed random array, so no gradient
path can hide behind a sum of ones; dropout rows draw the same Philox stream on every
backend because the generator is reseeded before each run.
"""

import numpy as np
import pytest

from backend_params import require
from fastnn.testing.parity import FunctionSubject, Operand, ParityRunner, raise_failures
from fastnn.testing.table import ALL_CASES
from tolerances import LARGE_RTOL, RTOL

COMPILED = [pytest.param("cpu", id="cpu"), pytest.param("gpu", id="gpu", marks=pytest.mark.gpu)]

# Rows at benchmark size whose reference runs take seconds (many-step recurrent layers);
# their kernels are covered at benchmark size by the other rows.
_LARGE_TOO_SLOW = {"layer_simple_rnn", "layer_simple_rnn_sequences", "layer_lstm", "layer_lstm_sequences",
                   "layer_gru", "layer_gru_sequences"}

# The runner of the last (row, mode, dtype, size) asked for: the tests of one of them
# (layouts, backends) run one after another, so the row's instance and its reference run
# are made once for all of them.
_last_runner: dict = {}


def runner(case, mode, dtype, size, instance_seed, run_seed, rtol) -> ParityRunner:
    key = (case.name, mode, dtype, size, instance_seed, run_seed, rtol)
    if key not in _last_runner:
        _last_runner.clear()
        instance = case.instance(dtype=dtype, size=size, mode=mode, seed=instance_seed)
        arrays = [np.asarray(a) for a in instance.arrays]
        operands = [Operand(a, grad=bool(g), state=not g and a.dtype.kind == "f")
                    for a, g in zip(arrays, instance.grad)]
        # the row's function is made for its mode: the mode is a label here, not an argument
        subject = FunctionSubject(instance.fn, label=f"case {case.name}", training=False)
        _last_runner[key] = ParityRunner(subject, operands, dtype, rtol, seed=run_seed)
    return _last_runner[key]


def check(parity: ParityRunner, backend, mode, layout):
    raise_failures(parity.reference_rows(mode) + parity.check(backend, mode, layout), parity.subject.label)


@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("layout", ["contiguous", "strided"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case,mode", [(c, m) for c in ALL_CASES for m in c.modes],
                         ids=lambda v: v.name if hasattr(v, "name") else v)
def test_parity_small(case, mode, dtype, layout, backend):
    require(backend)
    check(runner(case, mode, dtype, "small", instance_seed=3, run_seed=11, rtol=RTOL[dtype]), backend, mode, layout)


@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("case,mode", [(c, m) for c in ALL_CASES for m in c.modes if c.name not in _LARGE_TOO_SLOW],
                         ids=lambda v: v.name if hasattr(v, "name") else v)
def test_parity_large_float32(case, mode, backend):
    require(backend)
    parity = runner(case, mode, "float32", "large", instance_seed=5, run_seed=13, rtol=LARGE_RTOL["float32"])
    check(parity, backend, mode, "contiguous")
