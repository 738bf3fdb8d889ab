"""The benchmark workloads of bench/compare.py and bench/test_bench_steps.py, defined once.

Training steps (forward + backward + SGD update, float32, synthetic data, one fixed batch):

* ``mlp``: 784-512-256-10, ReLU, sparse softmax cross-entropy;
* ``cnn``: 1x28x28 -> conv3x3(1->32, same)+ReLU -> maxpool 2 -> conv3x3(32->64, same)+ReLU
  -> maxpool 2 -> flatten -> dense 128 + ReLU -> dense 10, sparse softmax cross-entropy.

Single ops, forward and forward+backward: conv 3x3 64->64 on 32x32 at batch 32, batch norm
on (32, 64, 32, 32), softmax cross-entropy on (1024, 1000), dense 1024x1024 + bias + ReLU
at batch 256.

Each maker returns ``(forward, step)`` callables for one implementation: fastnn on a
backend (``"numpy"``, ``"cpu"``, ``"gpu"``) or ``"torch"`` (PyTorch on its CPU, or on CUDA
with ``device="cuda"``). ``forward`` runs the forward pass with autograd recording (as in
training); ``step`` runs the whole step (for an op: forward + backward). Both block until
the device is done, so wall-clock timing is honest on a GPU too; ``sync=False`` leaves
that out for a caller that times with CUDA events (bench/compare_gpu.py).
"""

from __future__ import annotations

import numpy as np

STEPS = {"mlp": 784, "cnn": (1, 28, 28)}


def _data(kind, batch, seed=0):
    rng = np.random.default_rng(seed)
    shape = (batch, STEPS[kind]) if kind == "mlp" else (batch, *STEPS[kind])
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.integers(0, 10, batch).astype(np.int64)
    return x, y


# -- fastnn ---------------------------------------------------------------------------

def fastnn_model(kind, backend):
    import fastnn as fnn
    from fastnn.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D

    fnn.manual_seed(0)
    if kind == "mlp":
        layers = [Input((784,)), Dense(512, activation="relu"), Dense(256, activation="relu"), Dense(10)]
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
    opt = fnn.optim.SGD(model.parameters(), lr=0.01)
    x_host, y_host = _data(kind, batch)
    x = fnn.tensor(x_host, backend=backend)
    y = fnn.tensor(y_host, backend=backend)
    sync = fnn.backend.get(backend).synchronize if sync else _no_sync

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

    if op == "conv3x3":
        x = t(rng.standard_normal((32, 64, 32, 32), dtype=np.float32))
        w = t((rng.standard_normal((64, 64, 3, 3)) / 24).astype(np.float32))
        b = t(np.zeros(64, np.float32))
        run = lambda: F.conv2d(x, w, b, padding=1)  # noqa: E731
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


# -- PyTorch ------------------------------------------------------------------------

def torch_step(kind, batch, device="cpu", sync=True):
    import torch
    from torch import nn

    torch.manual_seed(0)
    if kind == "mlp":
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    else:
        model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
    model.to(device)
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


def torch_op(op, device="cpu", sync=True):
    import torch
    import torch.nn.functional as TF

    g = torch.Generator().manual_seed(0)
    leaves = []

    def t(*shape, scale=1.0, grad=True):
        leaf = (torch.randn(*shape, generator=g) * scale).to(device).requires_grad_(grad)
        leaves.append(leaf)
        return leaf

    if op == "conv3x3":
        x, w, b = t(32, 64, 32, 32), t(64, 64, 3, 3, scale=1 / 24), t(64, scale=0.0)
        run = lambda: TF.conv2d(x, w, b, padding=1)  # noqa: E731
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


OPS = ("conv3x3", "batch_norm", "softmax_ce", "dense_relu")


# -- training loops (bench/compare_fit.py, bench/test_bench_fit.py) --------------------
#
# One epoch on scikit-learn's digits as images (1, 8, 8): 1437 training samples, batch 32
# (45 steps, the last of 29), Adam, sparse softmax cross-entropy. Models:
#
# * ``tiny``: zoo.mlp(hidden=(32,), dropout=0): Flatten -> Dense(32, relu) -> Dense(10),
#   2.4k parameters, where the framework's per-step overhead dominates;
# * ``mlp``: zoo.mlp: Flatten -> Dense(256, relu) -> Dropout(0.2) -> Dense(128, relu) -> Dense(10);
# * ``cnn``: zoo.cnn: [Conv 3x3 (no bias) -> BN -> ReLU -> MaxPool 2] x 2 (32, 64 filters)
#   -> Flatten -> Dense(128, relu) -> Dropout(0.3) -> Dense(10).

FIT_KINDS = ("tiny", "mlp", "cnn")
FIT_BATCH = 32
_DIGITS = None


def digits():
    """``(x_train, y_train), (x_test, y_test)`` of fnn.datasets.load_digits(flat=False), loaded once."""
    global _DIGITS
    if _DIGITS is None:
        import fastnn as fnn

        _DIGITS = fnn.datasets.load_digits(flat=False)
    return _DIGITS


def fit_model(kind, backend, metrics=(), seed=0, compile=True):
    """The zoo model ``kind`` on ``backend`` (weights from ``seed``), compiled with Adam and
    the sparse cross-entropy (and ``metrics``) unless ``compile=False``."""
    import fastnn as fnn
    from fastnn import zoo

    fnn.manual_seed(seed)
    if kind == "tiny":
        model = zoo.mlp((1, 8, 8), 10, backend=backend, hidden=(32,), dropout=0)
    elif kind in ("mlp", "cnn"):
        model = getattr(zoo, kind)((1, 8, 8), 10, backend=backend)
    else:
        raise ValueError(f"unknown model {kind!r}; expected one of {', '.join(FIT_KINDS)}")
    if compile:
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=list(metrics))
    return model


def fit_epoch(kind, backend, metrics=()):
    """``(model, epoch)``: ``epoch()`` runs ``model.fit`` for one epoch (shuffled, verbose=0)
    and returns the epoch's mean loss. Synchronous on every backend: fit reads the loss back
    at the end of the epoch."""
    (x, y), _ = digits()
    model = fit_model(kind, backend, metrics)

    def epoch():
        return model.fit(x, y, batch_size=FIT_BATCH, epochs=1, verbose=0).history["loss"][-1]

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

    (x, y), _ = digits()
    model = fit_model(kind, backend, compile=False)
    opt = fnn.optim.Adam(model.parameters())
    n = len(x)

    def epoch():
        order = fnn.random.default_generator.permutation(n)
        total = 0.0
        for start in range(0, n, FIT_BATCH):
            index = order[start:start + FIT_BATCH]
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
    """The zoo model ``kind`` built in PyTorch (same layers and sizes; PyTorch's default
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
    raise ValueError(f"unknown model {kind!r}; expected one of {', '.join(FIT_KINDS)}")


def torch_fit_epoch(kind):
    """``(model, epoch)``: one epoch of the usual PyTorch loop on the same data: a
    ``torch.randperm`` order, manual batching (no DataLoader), zero_grad, forward,
    cross_entropy, backward, Adam step (PyTorch's defaults: lr 1e-3), running loss via
    ``loss.item()``."""
    import torch

    torch.manual_seed(0)
    model = torch_fit_model(kind)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    (x_host, y_host), _ = digits()
    x, y = torch.from_numpy(x_host), torch.from_numpy(y_host)
    n = len(x)
    loss_fn = torch.nn.functional.cross_entropy

    def epoch():
        model.train()
        order = torch.randperm(n)
        total = 0.0
        for start in range(0, n, FIT_BATCH):
            index = order[start:start + FIT_BATCH]
            xb, yb = x[index], y[index]
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(index)
        return total / n

    return model, epoch
