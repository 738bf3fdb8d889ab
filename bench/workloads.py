"""The benchmark workloads of bench/compare.py and bench/test_bench_steps.py, defined once.

Training steps (forward + backward + update, float32, synthetic data, one fixed batch):

* ``mlp``: 784-512-256-10, ReLU, sparse softmax cross-entropy, SGD;
* ``cnn``: 1x28x28 -> conv3x3(1->32, same)+ReLU -> maxpool 2 -> conv3x3(32->64, same)+ReLU
  -> maxpool 2 -> flatten -> dense 128 + ReLU -> dense 10, sparse softmax cross-entropy, SGD;
* ``mnist_convnet`` (the Keras MNIST convnet example): 1x28x28 -> conv3x3(1->32, valid)+ReLU
  -> maxpool 2 -> conv3x3(32->64, valid)+ReLU -> maxpool 2 -> flatten -> dropout 0.5
  -> dense 10 + softmax, sparse cross-entropy (on the logits), Adam lr 1e-3; dropout is
  active (a model is in training mode unless told otherwise, as in PyTorch).

Single ops, forward and forward+backward: conv 3x3 64->64 on 32x32 at batch 32; the
first-layer convolutions of ``CONV_OPS`` (1 or 3 input channels, 3x3 or 5x5, 32 filters,
batch 64, "same" padding; the input needs no gradient, as an image batch does not); batch
norm on (32, 64, 32, 32), softmax cross-entropy on (1024, 1000), dense 1024x1024 + bias +
ReLU at batch 256.

Each maker returns ``(forward, step)`` callables for one implementation: fastnn on a
backend (``"numpy"``, ``"cpu"``, ``"gpu"``) or ``"torch"`` (PyTorch on its CPU, or on CUDA
with ``device="cuda"``). ``forward`` runs the forward pass with autograd recording (as in
training); ``step`` runs the whole step (for an op: forward + backward). Both block until
the device is done, so wall-clock timing is honest on a GPU too; ``sync=False`` leaves
that out for a caller that times with CUDA events (bench/compare_gpu.py).
"""

from __future__ import annotations

import fastnn  # noqa: F401,E402  (before NumPy: it shortens OpenBLAS's idle spin, fastnn/runtime.py)

import math
from typing import NamedTuple

import numpy as np

STEPS = {"mlp": 784, "cnn": (1, 28, 28), "mnist_convnet": (1, 28, 28)}
#: Training steps that update with Adam (lr 1e-3) instead of SGD (lr 0.01), on both sides.
ADAM_STEPS = frozenset({"mnist_convnet"})


class ConvOp(NamedTuple):
    """One convolution op workload: shapes of x (N, C, H, W) and w (F, C, kh, kw), padding
    on every side, and whether x needs a gradient (False for a first layer: its input is data)."""
    x: tuple
    w: tuple
    pad: int
    x_grad: bool


CONV_OPS = {
    "conv3x3": ConvOp((32, 64, 32, 32), (64, 64, 3, 3), 1, True),
    "conv1_c1k3_28": ConvOp((64, 1, 28, 28), (32, 1, 3, 3), 1, False),
    "conv1_c1k5_28": ConvOp((64, 1, 28, 28), (32, 1, 5, 5), 2, False),
    "conv1_c3k3_32": ConvOp((64, 3, 32, 32), (32, 3, 3, 3), 1, False),
    "conv1_c3k5_32": ConvOp((64, 3, 32, 32), (32, 3, 5, 5), 2, False),
}


def conv_flops(op, part):
    """FLOPs of one call of conv op workload ``op``: forward 2*N*F*C*kh*kw*OH*OW (a multiply
    and an add per weight per output); "fwd+bwd" adds the filter gradient (as many again)
    and, where x needs a gradient, the data gradient (as many again): 3x or 2x the forward."""
    spec = CONV_OPS[op]
    n, c, h, w = spec.x
    f, _, kh, kw = spec.w
    oh, ow = h + 2 * spec.pad - kh + 1, w + 2 * spec.pad - kw + 1
    forward = 2 * n * f * c * kh * kw * oh * ow
    return forward if part == "fwd" else forward * (3 if spec.x_grad else 2)


def _data(kind, batch, seed=0):
    rng = np.random.default_rng(seed)
    shape = (batch, STEPS[kind]) if kind == "mlp" else (batch, *STEPS[kind])
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.integers(0, 10, batch).astype(np.int64)
    return x, y


# -- fastnn ---------------------------------------------------------------------------

def fastnn_model(kind, backend, seed=0):
    import fastnn as fnn
    from fastnn.layers import Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D

    fnn.manual_seed(seed)
    if kind == "mlp":
        layers = [Input((784,)), Dense(512, activation="relu"), Dense(256, activation="relu"), Dense(10)]
    elif kind == "mnist_convnet":
        layers = [Input((1, 28, 28)),
                  Conv2D(32, 3, activation="relu", padding="valid"), MaxPooling2D(2),
                  Conv2D(64, 3, activation="relu", padding="valid"), MaxPooling2D(2),
                  Flatten(), Dropout(0.5), Dense(10, activation="softmax")]
    else:
        layers = [Input((1, 28, 28)),
                  Conv2D(32, 3, padding="same", activation="relu"), MaxPooling2D(2),
                  Conv2D(64, 3, padding="same", activation="relu"), MaxPooling2D(2),
                  Flatten(), Dense(128, activation="relu"), Dense(10)]
    return fnn.Sequential(layers, backend=backend)


def _no_sync():
    pass


def fastnn_step(kind, batch, backend, sync=True):
    import fastnn as fnn
    import fastnn.functional as F

    model = fastnn_model(kind, backend)
    if kind in ADAM_STEPS:
        opt = fnn.optim.Adam(model.parameters(), lr=1e-3)
    else:
        opt = fnn.optim.SGD(model.parameters(), lr=0.01)
    x_host, y_host = _data(kind, batch)
    x = fnn.tensor(x_host, backend=backend)
    y = fnn.tensor(y_host, backend=backend)
    sync = fnn.backend.get(backend).synchronize if sync else _no_sync

    # model(x) runs in training mode (dropout active): layers start with training=True and
    # no explicit flag overrides it (fastnn/layers/base.py, "Training mode").
    def forward():
        F.sparse_categorical_crossentropy(model(x), y)
        sync()

    def step():
        opt.zero_grad()
        loss = F.sparse_categorical_crossentropy(model(x), y)
        loss.backward()
        opt.step()
        sync()

    return forward, step


def fastnn_op(op, backend, sync=True):
    import fastnn as fnn
    import fastnn.functional as F

    rng = np.random.default_rng(0)
    sync = fnn.backend.get(backend).synchronize if sync else _no_sync
    leaves = []

    def t(array, grad=True):
        leaf = fnn.tensor(array, backend=backend, requires_grad=grad)
        leaves.append(leaf)
        return leaf

    if op in CONV_OPS:
        spec = CONV_OPS[op]
        x = t(rng.standard_normal(spec.x, dtype=np.float32), spec.x_grad)
        w = t((rng.standard_normal(spec.w) / _fan_in_scale(spec)).astype(np.float32))
        b = t(np.zeros(spec.w[0], np.float32))
        run = lambda: F.conv2d(x, w, b, padding=spec.pad)  # noqa: E731
    elif op == "batch_norm":
        x = t(rng.standard_normal((32, 64, 32, 32), dtype=np.float32))
        g, b = t(np.ones(64, np.float32)), t(np.zeros(64, np.float32))
        rm, rv = t(np.zeros(64, np.float32), False), t(np.ones(64, np.float32), False)
        run = lambda: F.batch_norm(x, g, b, rm, rv, training=True)  # noqa: E731
    elif op == "softmax_ce":
        z = t(rng.standard_normal((1024, 1000), dtype=np.float32))
        labels = t(rng.integers(0, 1000, 1024).astype(np.int64), False)
        run = lambda: F.sparse_categorical_crossentropy(z, labels)  # noqa: E731
    elif op == "dense_relu":
        x = t(rng.standard_normal((256, 1024), dtype=np.float32))
        w = t((rng.standard_normal((1024, 1024)) / 32).astype(np.float32))
        b = t(np.zeros(1024, np.float32))
        run = lambda: F.linear(x, w, b, activation="relu")  # noqa: E731
    else:
        raise ValueError(f"unknown op {op!r}; expected one of {', '.join(OPS)}")
    upstream = None

    def forward():
        run()
        sync()

    def step():
        nonlocal upstream
        out = run()
        if upstream is None:
            upstream = fnn.tensor(np.ones(out.shape, np.float32), backend=backend)
        out.backward(upstream)
        for leaf in leaves:
            leaf.grad = None  # a fresh gradient each step, as after zero_grad()
        sync()

    return forward, step


def _fan_in_scale(spec):
    """sqrt(C*kh*kw): weights drawn N(0, 1) divided by it (24 for conv3x3's 64x3x3)."""
    return math.sqrt(math.prod(spec.w[1:]))


# -- PyTorch ------------------------------------------------------------------------

def torch_step(kind, batch, device="cpu", sync=True):
    import torch
    from torch import nn

    torch.manual_seed(0)
    if kind == "mlp":
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    elif kind == "mnist_convnet":
        model = torch_mnist_convnet()
    else:
        model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
    model.to(device)
    model.train()  # dropout active, as on the fastnn side
    if kind in ADAM_STEPS:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x_host, y_host = _data(kind, batch)
    x, y = torch.from_numpy(x_host).to(device), torch.from_numpy(y_host).to(device)
    sync = _torch_sync(device) if sync else _no_sync
    loss_fn = nn.functional.cross_entropy

    def forward():
        loss_fn(model(x), y)
        sync()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        sync()

    return forward, step


def torch_mnist_convnet():
    """The PyTorch twin of fastnn's mnist_convnet; it ends in logits (no softmax layer),
    because cross_entropy takes logits, as fastnn's loss does before a final softmax."""
    from torch import nn

    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Dropout(0.5), nn.Linear(64 * 5 * 5, 10))


def torch_op(op, device="cpu", sync=True):
    import torch
    import torch.nn.functional as TF

    g = torch.Generator().manual_seed(0)
    leaves = []

    def t(*shape, scale=1.0, grad=True):
        leaf = (torch.randn(*shape, generator=g) * scale).to(device).requires_grad_(grad)
        leaves.append(leaf)
        return leaf

    if op in CONV_OPS:
        spec = CONV_OPS[op]
        x = t(*spec.x, grad=spec.x_grad)
        w, b = t(*spec.w, scale=1 / _fan_in_scale(spec)), t(spec.w[0], scale=0.0)
        run = lambda: TF.conv2d(x, w, b, padding=spec.pad)  # noqa: E731
    elif op == "batch_norm":
        x, beta = t(32, 64, 32, 32), t(64, scale=0.0)
        gamma = torch.ones(64, device=device, requires_grad=True)
        leaves.append(gamma)
        rm, rv = torch.zeros(64, device=device), torch.ones(64, device=device)
        run = lambda: TF.batch_norm(x, rm, rv, gamma, beta, training=True)  # noqa: E731
    elif op == "softmax_ce":
        z = t(1024, 1000)
        labels = torch.randint(0, 1000, (1024,), generator=g).to(device)
        run = lambda: TF.cross_entropy(z, labels)  # noqa: E731
    elif op == "dense_relu":
        x, w, b = t(256, 1024), t(1024, 1024, scale=1 / 32), t(1024, scale=0.0)
        run = lambda: torch.relu(TF.linear(x, w, b))  # noqa: E731
    else:
        raise ValueError(f"unknown op {op!r}; expected one of {', '.join(OPS)}")
    sync = _torch_sync(device) if sync else _no_sync

    def forward():
        run()
        sync()

    upstream = None

    def step():
        nonlocal upstream
        out = run()
        if upstream is None:
            upstream = torch.ones_like(out)
        out.backward(upstream)
        for leaf in leaves:
            leaf.grad = None  # a fresh gradient each step, as after zero_grad()
        sync()

    return forward, step


def _torch_sync(device):
    if str(device).startswith("cuda"):
        import torch

        return torch.cuda.synchronize
    return lambda: None


OPS = (*CONV_OPS, "batch_norm", "softmax_ce", "dense_relu")


# -- training loops (bench/compare_fit.py, bench/test_bench_fit.py) --------------------
#
# One epoch on the bundled digits as images (1, 8, 8): 1437 training samples, batch 32
# (45 steps, the last of 29), Adam, sparse softmax cross-entropy. Models:
#
# * ``tiny``: zoo.mlp(hidden=(32,), dropout=0): Flatten -> Dense(32, relu) -> Dense(10),
#   2.4k parameters, where the framework's per-step overhead dominates;
# * ``mlp``: zoo.mlp: Flatten -> Dense(256, relu) -> Dropout(0.2) -> Dense(128, relu) -> Dense(10);
# * ``cnn``: zoo.cnn: [Conv 3x3 (no bias) -> BN -> ReLU -> MaxPool 2] x 2 (32, 64 filters)
#   -> Flatten -> Dense(128, relu) -> Dropout(0.3) -> Dense(10).
#
# And one MNIST-sized epoch (``FIT_LARGE``, not in the default runs: ~20-30 s an epoch):
#
# * ``mnist_convnet``: the step workload of that name (fastnn_model) on 54,000 random
#   float32 images (1, 28, 28) in [0, 1) with random labels 0..9 (seeded), batch 128
#   (422 steps, the last of 112), Adam lr 1e-3. Random pixels cost what MNIST's do.

FIT_KINDS = ("tiny", "mlp", "cnn")
FIT_LARGE = ("mnist_convnet",)
FIT_BATCH = 32
MNIST_FIT_BATCH = 128
MNIST_FIT_SAMPLES = 54_000
_DIGITS = None
_MNIST_LIKE = None


def digits():
    """``(x_train, y_train), (x_test, y_test)`` of fnn.datasets.load_digits(flat=False), loaded once."""
    global _DIGITS
    if _DIGITS is None:
        import fastnn as fnn

        _DIGITS = fnn.datasets.load_digits(flat=False)
    return _DIGITS


def mnist_like():
    """``(x, y)``: MNIST_FIT_SAMPLES random images (N, 1, 28, 28) float32 and labels int64,
    from a seeded generator, made once per process (170 MB: one copy per worker)."""
    global _MNIST_LIKE
    if _MNIST_LIKE is None:
        rng = np.random.default_rng(0)
        x = rng.random((MNIST_FIT_SAMPLES, 1, 28, 28), dtype=np.float32)
        y = rng.integers(0, 10, MNIST_FIT_SAMPLES).astype(np.int64)
        _MNIST_LIKE = x, y
    return _MNIST_LIKE


def fit_data(kind):
    """``(x, y)``: the training set that an epoch of fit workload ``kind`` runs over."""
    return mnist_like() if kind in FIT_LARGE else digits()[0]


def fit_batch(kind):
    return MNIST_FIT_BATCH if kind in FIT_LARGE else FIT_BATCH


def fit_samples(kind):
    """Samples per epoch, without making the data (the driver process needs only this)."""
    return MNIST_FIT_SAMPLES if kind in FIT_LARGE else len(digits()[0][0])


def fit_model(kind, backend, metrics=(), seed=0, compile=True):
    """The model ``kind`` on ``backend`` (weights from ``seed``), compiled with Adam and
    the sparse cross-entropy (and ``metrics``) unless ``compile=False``."""
    import fastnn as fnn
    from fastnn import zoo

    fnn.manual_seed(seed)
    if kind == "tiny":
        model = zoo.mlp((1, 8, 8), 10, backend=backend, hidden=(32,), dropout=0)
    elif kind in ("mlp", "cnn"):
        model = getattr(zoo, kind)((1, 8, 8), 10, backend=backend)
    elif kind in FIT_LARGE:
        model = fastnn_model(kind, backend, seed=seed)
    else:
        raise ValueError(f"unknown model {kind!r}; expected one of {', '.join(FIT_KINDS + FIT_LARGE)}")
    if compile:  # "adam": lr 1e-3, as the hand loop's fnn.optim.Adam() and PyTorch's
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=list(metrics))
    return model


def fit_epoch(kind, backend, metrics=()):
    """``(model, epoch)``: ``epoch()`` runs ``model.fit`` for one epoch (shuffled, verbose=0)
    and returns the epoch's mean loss. Synchronous on every backend: fit reads the loss back
    at the end of the epoch."""
    x, y = fit_data(kind)
    batch = fit_batch(kind)
    model = fit_model(kind, backend, metrics)

    def epoch():
        return model.fit(x, y, batch_size=batch, epochs=1, verbose=0).history["loss"][-1]

    return model, epoch


def loop_epoch(kind, backend):
    """``(model, epoch)``: the same epoch as ``fit_epoch`` written by hand: the same model
    (same seed), the same batch order (a permutation from fastnn's default generator, drawn
    when the epoch starts, as fit's DataLoader does), then per batch zero_grad, forward,
    F.sparse_categorical_crossentropy, backward, Adam step, and the running loss as fit
    keeps it (``float(loss) * n``). With the random state of a fit epoch it updates the
    weights bit for bit as fit does (bench/compare_fit.py checks)."""
    import fastnn as fnn
    import fastnn.functional as F

    x, y = fit_data(kind)
    batch = fit_batch(kind)
    model = fit_model(kind, backend, compile=False)
    opt = fnn.optim.Adam(model.parameters())
    n = len(x)

    def epoch():
        order = fnn.random.default_generator.permutation(n)
        total = 0.0
        for start in range(0, n, batch):
            index = order[start:start + batch]
            xb = fnn.tensor(x[index], backend=backend)
            yb = fnn.tensor(y[index], backend=backend)
            opt.zero_grad()
            loss = F.sparse_categorical_crossentropy(model(xb), yb)
            loss.backward()
            opt.step()
            total += float(loss.item()) * len(index)
        return total / n

    return model, epoch


def torch_fit_model(kind):
    """The model ``kind`` built in PyTorch (same layers and sizes; PyTorch's default
    initialisation, which does not change the cost of a step)."""
    from torch import nn

    if kind == "tiny":
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 256), nn.ReLU(), nn.Dropout(0.2),
                             nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    if kind == "cnn":
        def block(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01),
                    nn.ReLU(), nn.MaxPool2d(2)]
        return nn.Sequential(*block(1, 32), *block(32, 64), nn.Flatten(), nn.Linear(64 * 2 * 2, 128), nn.ReLU(),
                             nn.Dropout(0.3), nn.Linear(128, 10))
    if kind == "mnist_convnet":
        return torch_mnist_convnet()
    raise ValueError(f"unknown model {kind!r}; expected one of {', '.join(FIT_KINDS + FIT_LARGE)}")


def torch_fit_epoch(kind):
    """``(model, epoch)``: one epoch of the usual PyTorch loop on the same data: a
    ``torch.randperm`` order, manual batching (no DataLoader), zero_grad, forward,
    cross_entropy, backward, Adam step (PyTorch's defaults: lr 1e-3), running loss via
    ``loss.item()``."""
    import torch

    torch.manual_seed(0)
    model = torch_fit_model(kind)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x_host, y_host = fit_data(kind)
    batch = fit_batch(kind)
    x, y = torch.from_numpy(x_host), torch.from_numpy(y_host)
    n = len(x)
    loss_fn = torch.nn.functional.cross_entropy

    def epoch():
        model.train()
        order = torch.randperm(n)
        total = 0.0
        for start in range(0, n, batch):
            index = order[start:start + batch]
            xb, yb = x[index], y[index]
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(index)
        return total / n

    return model, epoch
