"""Regression: optimizers update parameters that are not stored C-contiguous.

The compiled updates (cpu, gpu) write through flat views ``p.reshape(-1)``; of a
transposed (Fortran-ordered) array that is a copy, so the update used to be lost
silently. The orthogonal initializer returns such an array for a wide matrix, which made
the recurrent kernels of LSTM (units, 4 units) and GRU (units, 3 units) untrainable on the
cpu backend while they trained on numpy.
"""

import numpy as np
import pytest
from backend_params import BACKENDS, require

import fastnn as fnn
from fastnn import optim
from fastnn.layers import GRU, LSTM, Dense, Input

OPTIMIZERS = [
    (optim.SGD, dict(lr=0.1, momentum=0.9)),
    (optim.RMSprop, dict(lr=0.01)),
    (optim.Adam, dict(lr=0.01)),
    (optim.AdamW, dict(lr=0.01, weight_decay=0.1)),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls,hyper", OPTIMIZERS, ids=[cls.__name__ for cls, _ in OPTIMIZERS])
def test_a_transposed_parameter_is_updated_like_a_contiguous_one(backend, cls, hyper):
    require(backend)
    rng = np.random.default_rng(0)
    start = rng.standard_normal((5, 3)).astype(np.float32)
    grads = [rng.standard_normal((3, 5)).astype(np.float32) for _ in range(3)]
    transposed = fnn.tensor(start.T, requires_grad=True, backend=backend)     # Fortran-ordered data
    contiguous = fnn.tensor(start.T.copy(), requires_grad=True, backend=backend)
    assert not transposed.data.flags.c_contiguous
    opt_t, opt_c = cls([transposed], **hyper), cls([contiguous], **hyper)
    for g in grads:
        transposed.grad = fnn.tensor(g, backend=backend)
        contiguous.grad = fnn.tensor(g, backend=backend)
        opt_t.step()
        opt_c.step()
    assert not np.allclose(transposed.numpy(), start.T)          # it moved
    np.testing.assert_array_equal(transposed.numpy(), contiguous.numpy())


@pytest.mark.parametrize("cell", [LSTM, GRU])
def test_recurrent_kernels_train_the_same_on_cpu_as_on_numpy(cell, rng_restored):
    require("cpu")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 4, 2)).astype(np.float32)
    y = rng.standard_normal((8, 1)).astype(np.float32)
    weights = {}
    for backend in ("numpy", "cpu"):
        fnn.manual_seed(0)
        model = fnn.Sequential([Input((4, 2)), cell(6), Dense(1)], backend=backend)
        model.compile(optimizer=optim.Adam(lr=0.1), loss="mse")
        initial = model.layers[0].recurrent_kernel.numpy()
        model.train_on_batch(x, y)
        weights[backend] = model.layers[0].recurrent_kernel.numpy()
        # Adam's first step moves every entry with a nonzero gradient by about lr.
        assert np.abs(weights[backend] - initial).max() > 0.05
    np.testing.assert_allclose(weights["cpu"], weights["numpy"], rtol=1e-5, atol=1e-6)
