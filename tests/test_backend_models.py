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
from fastnn.layers import AveragePooling2D, BatchNormalization, Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D
from tolerances import assert_close
from test_parity import COMPILED, require


def _mlp(backend):
    return fnn.Sequential([Input((20,)), Dense(32, activation="relu"), BatchNormalization(), Dropout(0.25),
                           Dense(16, activation="tanh"), Dense(5)], backend=backend)


def _cnn(backend):
    return fnn.Sequential([Input((2, 10, 9)), Conv2D(6, 3, padding="same", activation="relu"), MaxPooling2D(2),
                           BatchNormalization(), Conv2D(8, 3, strides=(2, 1)), Flatten(), Dropout(0.1),
                           Dense(5)], backend=backend)


def _winograd_cnn(backend):
    # 16 and 8 channels on 16x16 and 8x8 maps at batch 32: the cpu backend's rule sends the
    # three 3x3 convolutions to F(4x4, 3x3) (asserted below; the test of the forced
    # F(2x2, 3x3) path is test_trained_model_with_forced_algorithm).
    # Smooth activations and average pooling: Winograd's float32 rounding differs from the
    # reference's, and a ReLU turns a z of -1e-7 against +1e-7 into a whole gradient's
    # difference, as a max-pool does two nearly equal maxima (which one wins moves the
    # gradient to another cell): three epochs of Adam grow either past any float32
    # tolerance (the kernel tests cover ReLU and max-pooling; a max-pool here moved the
    # losses by 7.7e-4 with nothing but the transforms' rounding order changed).
    return fnn.Sequential([Input((16, 16, 16)), Conv2D(16, 3, padding="same", activation="elu"),
                           Conv2D(8, 3, padding="same", activation="tanh"), AveragePooling2D(2),
                           Conv2D(8, 3, padding="same", activation="gelu"), Flatten(), Dense(5)], backend=backend)


MODELS = {
    "mlp-adam": (_mlp, (20,), lambda params: fnn.optim.Adam(params, lr=1e-2)),
    "mlp-sgd-momentum": (_mlp, (20,), lambda params: fnn.optim.SGD(params, lr=0.05, momentum=0.9)),
    "cnn-sgd-nesterov": (_cnn, (2, 10, 9), lambda params: fnn.optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True)),
    "cnn-adam": (_cnn, (2, 10, 9), lambda params: fnn.optim.Adam(params, lr=3e-3)),
    "cnn-winograd-adam": (_winograd_cnn, (16, 16, 16), lambda params: fnn.optim.Adam(params, lr=3e-3)),
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
def test_trained_model_matches_reference(kind, backend, monkeypatch):
    require(backend)
    expected, expected_losses = train(kind, "numpy")
    chosen = []
    if backend == "cpu":
        from fastnn.kernels.cpu import conv as cpu_conv
        choose = cpu_conv.choose_algorithm
        monkeypatch.setattr(cpu_conv, "choose_algorithm", lambda *a: chosen.append(choose(*a)) or chosen[-1])
    actual, losses = train(kind, backend)
    if backend == "cpu" and kind == "cnn-winograd-adam":
        assert chosen[:3] == ["winograd4", "winograd4", "winograd4"]
    assert expected_losses[-1] < expected_losses[0]  # the run learned something worth comparing
    assert_close(np.array(losses), np.array(expected_losses), "float32", rtol=1e-4, what="losses")
    assert len(actual) == len(expected)
    for i, (a, e) in enumerate(zip(actual, expected)):
        assert_close(a, e, "float32", rtol=1e-4, what=f"weight {i} {e.shape}")


@pytest.mark.parametrize("algorithm", ["winograd2", "direct"])
def test_trained_model_with_forced_algorithm(algorithm, monkeypatch):
    """The algorithms the rule does not pick for these shapes, forced for every convolution
    (FASTNN_CONV_ALGORITHM), train the Winograd CNN to the reference's parameters too."""
    require("cpu")
    from fastnn.kernels.cpu import conv as cpu_conv
    expected, expected_losses = train("cnn-winograd-adam", "numpy")
    monkeypatch.setattr(cpu_conv, "FORCED", algorithm)
    actual, losses = train("cnn-winograd-adam", "cpu")
    assert_close(np.array(losses), np.array(expected_losses), "float32", rtol=1e-4, what="losses")
    for i, (a, e) in enumerate(zip(actual, expected)):
        assert_close(a, e, "float32", rtol=1e-4, what=f"weight {i} {e.shape}")
