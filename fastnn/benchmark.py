"""A short side-by-side of the backends on this machine (``fastnn bench``).

For each available backend the same seeded model takes training steps (zero_grad,
forward, sparse softmax cross-entropy, backward, Adam step) on the same batch. The
backends take turns round by round, so a burst of load on a shared machine hits all of
them alike, and the table reports, per backend, the median over rounds of each round's best step time and its speed relative
to the ``numpy`` reference (above 1: faster). Compilation and first-call costs are
paid in a warm-up that is not timed.
"""

from __future__ import annotations

import statistics
import time


from . import backend as backends
from . import optim, zoo
from .ops.losses import sparse_categorical_crossentropy
from .random import Generator, get_rng_state, manual_seed, set_rng_state

WORKLOADS = {
    # name: (model builder, input feature shape, batch size)
    "mlp": ("mlp", (1, 28, 28), 128),
    "cnn": ("cnn", (1, 8, 8), 64),
}


class _Stepper:
    """One backend's model, optimizer and batch; ``step()`` runs one synchronised training step."""

    def __init__(self, workload, backend, seed):
        name, shape, batch = WORKLOADS[workload]
        manual_seed(seed)
        self.model = zoo.build(name, shape, 10, backend=backend)
        self.optimizer = optim.Adam(self.model.parameters(), lr=1e-3)
        data = Generator(seed)
        self.x = data.uniform((batch,) + shape, dtype="float32")
        self.y = data.integers(0, 10, (batch,))
        self.backend = backends.get(backend)

    def step(self) -> float:
        start = time.perf_counter()
        self.optimizer.zero_grad()
        loss = sparse_categorical_crossentropy(self.model(self.x), self.y)
        loss.backward()
        self.optimizer.step()
        self.backend.synchronize()
        return time.perf_counter() - start


def run(workloads=("mlp", "cnn"), backend_names=None, rounds=7, steps=5, warmup=3, seed=0, print_fn=print) -> dict:
    """Time ``steps`` training steps per round for ``rounds`` rounds on each backend; returns
    ``{workload: {backend: median ms per step}}`` and prints a table."""
    names = list(backend_names or backends.available_backends())
    for name in names:
        backends.get(name)  # an unavailable backend is an error that says why, not a skipped row
    state = get_rng_state()
    results = {}
    try:
        for workload in workloads:
            if workload not in WORKLOADS:
                raise ValueError(f"bench: unknown workload {workload!r}; choose from {', '.join(WORKLOADS)}")
            steppers = {name: _Stepper(workload, name, seed) for name in names}
            for stepper in steppers.values():
                for _ in range(warmup):
                    stepper.step()
            samples = {name: [] for name in names}
            for _ in range(rounds):
                for name, stepper in steppers.items():
                    samples[name].append(min(stepper.step() for _ in range(steps)))
            results[workload] = {name: 1e3 * statistics.median(s) for name, s in samples.items()}
    finally:
        set_rng_state(state)
    _print_table(results, print_fn)
    return results


def _print_table(results, print_fn) -> None:
    print_fn(f"{'workload':<10}{'backend':<9}{'ms/step':>10}{'vs numpy':>10}")
    for workload, times in results.items():
        _, shape, batch = WORKLOADS[workload]
        for name, ms in times.items():
            ratio = f"{times['numpy'] / ms:.2f}x" if "numpy" in times else "-"
            print_fn(f"{workload:<10}{name:<9}{ms:>10.2f}{ratio:>10}")
        print_fn(f"  ({workload}: batch {batch} of {'x'.join(map(str, shape))} inputs, Adam, median of per-round "
                 f"best step)")


__all__ = ["run", "WORKLOADS"]
