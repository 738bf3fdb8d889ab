"""The one table of cases (DESIGN.md): every op and layer, with odd small shapes and
large shapes, drives the reference gradient checks now and the backend parity tests
and benchmarks later.

A ``Case`` knows how to make, for a dtype, a size ("small": odd shapes for checks;
"large": benchmark shapes) and a mode ("train" / "eval"), a ``CaseInstance``: host
arrays plus a function of tensors. Runners turn the arrays into tensors on the
backend under test (``instance.tensors(backend)``), so every backend sees the same
numbers. Layer cases live in ``cases_layers.py`` and join the table below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

import fastnn as fnn
import fastnn.functional as F

SIZES = ("small", "large")


@dataclass
class CaseInstance:
    fn: Callable                      # fn(*tensors) -> Tensor (or tuple of Tensors)
    arrays: Sequence[np.ndarray]      # host inputs, in fn's argument order
    grad: Sequence[bool]              # which inputs are differentiated
    integer: Sequence[bool] = ()      # inputs kept integer (labels, indices)

    def tensors(self, backend):
        return [fnn.tensor(a, backend=backend, requires_grad=bool(g)) for a, g in zip(self.arrays, self.grad)]


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[np.random.Generator, str, str, str], CaseInstance]   # (rng, dtype, size, mode)
    modes: tuple = ("train",)
    kernels: tuple = field(default=())  # contract kernels the case exercises (for the fallback audit and benches)

    def instance(self, dtype="float64", size="small", mode="train", seed=0) -> CaseInstance:
        return self.make(np.random.default_rng(seed), dtype, size, mode)


def normal(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def pick(size, small, large):
    return small if size == "small" else large


def _linear(activation):
    def make(rng, dtype, size, mode):
        n, i, o = pick(size, (5, 7, 3), (256, 1024, 1024))
        return CaseInstance(
            fn=lambda x, w, b: F.linear(x, w, b, activation=activation),
            arrays=[normal(rng, (n, i), dtype), normal(rng, (i, o), dtype) * 0.5, normal(rng, (o,), dtype)],
            grad=[True, True, True],
        )
    return make


CASES: list[Case] = [
    Case("linear", _linear(None), kernels=("linear_fwd", "linear_bwd")),
    Case("linear_relu", _linear("relu"), kernels=("linear_fwd", "linear_bwd", "relu_fwd", "relu_bwd")),
]

try:  # layer rows are added by cases_layers.py
    from cases_layers import LAYER_CASES
except ImportError:  # pragma: no cover - only while that file does not exist yet
    LAYER_CASES = []

ALL_CASES = CASES + list(LAYER_CASES)


def by_name(name: str) -> Case:
    for case in ALL_CASES:
        if case.name == name:
            return case
    raise KeyError(name)
