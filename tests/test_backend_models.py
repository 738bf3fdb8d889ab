"""Whole-model parity: the same seeded MLP and CNN, trained for 3 epochs on the reference
backend and on a compiled backend, end with the same parameters (float32 tolerance).

Each model exercises the training-time paths together: dropout masks drawn from the
shared Philox generator, batch norm with running statistics, shuffling, and the fused
optimizer updates (Adam and SGD with momentum for each). On ``gpu`` the tests are
marked ``gpu`` and skip with the reason where no CUDA device answers.
"""

import numpy as np
import pytest

import fastnn as fnn
import fastnn.functional as F
from fastnn.layers import BatchNormalization, Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D
from tolerances import assert_close
from test_parity import COMPILED, require


def _mlp(backend):
    return fnn.Sequential([Input((20,)), Dense(32, activation="relu"), BatchNormalization(), Dropout(0.25),
                           Dense(16, activation="tanh"), Dense(5)], backend=backend)


def _cnn(backend):
    return fnn.Sequential([Input((2, 10, 9)), Conv2D(6, 3, padding="same", activation="relu"), MaxPooling2D(2),
                           BatchNormalization(), Conv2D(8, 3, strides=(2, 1)), Flatten(), Dropout(0.1),
                           Dense(5)], backend=backend)


MODELS = {
    "mlp-adam": (_mlp, (20,), lambda params: fnn.optim.Adam(params, lr=1e-2)),
    "mlp-sgd-momentum": (_mlp, (20,), lambda params: fnn.optim.SGD(params, lr=0.05, momentum=0.9)),
    "cnn-sgd-nesterov": (_cnn, (2, 10, 9), lambda params: fnn.optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True)),
    "cnn-adam": (_cnn, (2, 10, 9), lambda params: fnn.optim.Adam(params, lr=3e-3)),
}


def train(kind, backend, epochs=3, n=96, batch=32):
    make_model, feature, make_opt = MODELS[kind]
    rng = np.random.default_rng(7)
    x = rng.standard_normal((n, *feature)).astype(np.float32)
    y = rng.integers(0, 5, n).astype(np.int64)
    fnn.manual_seed(42)
    model = make_model(backend)
    opt = make_opt(model.parameters())
    losses = []
    for _ in range(epochs):
        order = fnn.random.default_generator.permutation(n)
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            opt.zero_grad()
            loss = F.sparse_categorical_crossentropy(model(fnn.tensor(x[idx], backend=backend)),
                                                     fnn.tensor(y[idx], backend=backend))
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return [w.numpy() for w in model.weights], losses


@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("kind", list(MODELS))
def test_trained_model_matches_reference(kind, backend):
    require(backend)
    expected, expected_losses = train(kind, "numpy")
    actual, losses = train(kind, backend)
    assert expected_losses[-1] < expected_losses[0]  # the run learned something worth comparing
    assert_close(np.array(losses), np.array(expected_losses), "float32", rtol=1e-4, what="losses")
    assert len(actual) == len(expected)
    for i, (a, e) in enumerate(zip(actual, expected)):
        assert_close(a, e, "float32", rtol=1e-4, what=f"weight {i} {e.shape}")
