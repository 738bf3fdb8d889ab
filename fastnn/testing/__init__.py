"""Numerical gradient checking: the analytic gradient from backward() against central differences.

For inputs x (float64 tensors) and f(x) any function of tensors, gradcheck forms the
scalar L = sum(f(x) * r) with a fixed random r (so every output element matters), and
compares dL/dx from backward() with
    (L(x + eps e_k) - L(x - eps e_k)) / (2 eps)   for every element k of every input
that requires grad. The random state is restored before every evaluation, so ops that
draw random numbers (dropout) see the same draws each time.

Backend parity of a function or layer (``check_parity``: every compiled backend against
the reference) is in ``parity.py`` and exported here.
"""

from __future__ import annotations

import numpy as np

from .. import random as fnn_random
from ..grad_mode import no_grad
from ..tensor import Tensor


#: Backend parity (``parity.py``), loaded on first use: ``import fastnn`` imports this package,
#: and the parity module's dataclasses cost about 8 ms of import time that only a check needs.
_PARITY_NAMES = ("check_parity", "ParityError", "ParityReport", "ParityRow")


def __getattr__(name):
    if name in _PARITY_NAMES:
        from . import parity

        return getattr(parity, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree."""


def _scalar_objective(fn, inputs, weights, state):
    fnn_random.set_rng_state(state)
    outputs = fn(*inputs)
    outputs = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
    total = None
    for out, w in zip(outputs, weights):
        term = (out * Tensor._make(out._backend.asarray(w), out._backend)).sum()
        total = term if total is None else total + term
    return total


def gradcheck(fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-5, seed=0, raise_exception=True) -> bool:
    """Check backward() of ``fn(*inputs)`` against central differences (float64 inputs).

    Returns True when every gradient agrees within ``atol + rtol * |numerical|``; otherwise
    raises GradcheckError naming the input and the worst element (or returns False when
    ``raise_exception`` is False).
    """
    inputs = list(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} is {inputs[i].dtype}; gradient checks need float64")
    state = fnn_random.get_rng_state()
    with no_grad():
        probe = fn(*inputs)
    probe = probe if isinstance(probe, (tuple, list)) else (probe,)
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(p.shape) for p in probe]

    for i in checked:
        inputs[i].grad = None
    _scalar_objective(fn, inputs, weights, state).backward()
    analytic = {i: (inputs[i].grad.numpy() if inputs[i].grad is not None else np.zeros(inputs[i].shape))
                for i in checked}

    ok = True
    with no_grad():
        for i in checked:
            t = inputs[i]
            host = t.numpy()
            numeric = np.zeros(host.size)
            for k in range(host.size):
                for sign in (1, -1):
                    bumped = host.copy().reshape(-1)
                    bumped[k] += sign * eps
                    t.data = t._backend.asarray(bumped.reshape(host.shape))
                    value = _scalar_objective(fn, inputs, weights, state).item()
                    numeric[k] += sign * value
            t.data = t._backend.asarray(host)
            numeric = (numeric / (2 * eps)).reshape(host.shape)
            err = np.abs(analytic[i] - numeric) - (atol + rtol * np.abs(numeric))
            if (err > 0).any():
                ok = False
                k = np.unravel_index(int(np.argmax(err)), host.shape)
                message = (f"gradcheck: input {i} (shape {host.shape}) disagrees at {k}: "
                           f"analytic {analytic[i][k]:.10g} vs numerical {numeric[k]:.10g}")
                if raise_exception:
                    raise GradcheckError(message)
    fnn_random.set_rng_state(state)
    return ok
