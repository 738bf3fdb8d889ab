"""Whole models on the gpu backend: the same seeded MLP and CNN (the benchmark's
architectures, scaled down), trained 3 epochs on small synthetic data with a
hand-written loop, end with the parameters and losses of the numpy reference within
float32 tolerance. Marked ``gpu``; skipped with the reason where no CUDA device answers.
"""

import numpy as np
import pytest

import fastnn as fnn
import fastnn.functional as F
from fastnn import backend as backends
from fastnn.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D

pytestmark = pytest.mark.gpu

RTOL = 2e-4  # float32 after 3 epochs: rounding differences of the summation orders compound slightly


@pytest.fixture(scope="module", autouse=True)
def _gpu():
    reason = backends._REGISTRY["gpu"].unavailable_reason()
    if reason:
        pytest.skip(f"no CUDA device: {reason}")


def _mlp(backend):
    return fnn.Sequential([Input((48,)), Dense(32, activation="relu"), Dense(16, activation="relu"), Dense(10)],
                          backend=backend)


def _cnn(backend):
    return fnn.Sequential([Input((1, 12, 12)), Conv2D(8, 3, padding="same", activation="relu"), MaxPooling2D(2),
                           Conv2D(16, 3, padding="same", activation="relu"), MaxPooling2D(2), Flatten(),
                           Dense(32, activation="relu"), Dense(10)], backend=backend)


MODELS = {
    "mlp-sgd": (_mlp, (48,), lambda p: fnn.optim.SGD(p, lr=0.05, momentum=0.9)),
    "mlp-adam": (_mlp, (48,), lambda p: fnn.optim.Adam(p, lr=3e-3)),
    "cnn-sgd": (_cnn, (1, 12, 12), lambda p: fnn.optim.SGD(p, lr=0.05)),
    "cnn-adam": (_cnn, (1, 12, 12), lambda p: fnn.optim.Adam(p, lr=2e-3)),
}


def train(kind, backend, epochs=3, n=128, batch=32):
    make_model, feature, make_opt = MODELS[kind]
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, *feature)).astype(np.float32)
    y = rng.integers(0, 10, n).astype(np.int64)
    fnn.manual_seed(7)
    model = make_model(backend)
    opt = make_opt(model.parameters())
    losses = []
    for _ in range(epochs):
        for start in range(0, n, batch):
            xb = fnn.tensor(x[start:start + batch], backend=backend)
            yb = fnn.tensor(y[start:start + batch], backend=backend)
            loss = F.sparse_categorical_crossentropy(model(xb, training=True), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss)
    return [p.numpy() for p in model.parameters()], np.array([float(v.item()) for v in losses])


@pytest.mark.parametrize("kind", list(MODELS))
def test_gpu_training_matches_the_reference(kind):
    want_params, want_losses = train(kind, "numpy")
    got_params, got_losses = train(kind, "gpu")
    assert want_losses[-1] < want_losses[0], "the reference run should learn something"
    np.testing.assert_allclose(got_losses, want_losses, rtol=RTOL, atol=RTOL)
    assert len(got_params) == len(want_params)
    for i, (g, w) in enumerate(zip(got_params, want_params)):
        scale = max(1.0, float(np.abs(w).max()))
        err = float(np.abs(g - w).max())
        assert err <= RTOL * scale, f"parameter {i} {w.shape}: max error {err:.2e}"
