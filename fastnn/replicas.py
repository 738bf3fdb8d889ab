"""Data-parallel ``fit``: in a world of N > 1 processes (``fastnn.distributed``), every rank
trains a replica of the model on its share of each global batch, and the replicas stay
equal.

Each step, with a global batch of B samples split into shares b_r (sum_r b_r = B):

    every rank: zero_grad; loss_r = mean over its b_r samples (+ penalties); backward
    g = sum_r (b_r / B) g_r         (reduce_gradients with weight N b_r / B, then the mean)
    every rank: optimizer.step() with g

so the update is the one a single process makes on the whole batch (up to the order of
float sums). ``batch_size`` is the **global** batch: it must be divisible by N; a last,
smaller batch is split as evenly as it goes (a rank may get one sample fewer, or none,
and then contributes zeros). Every rank draws the same shuffling order: rank 0's
weights, optimizer state and random stream are broadcast before the first step.

Losses and metrics are summed over the ranks (their totals and sample counts) at the end
of each epoch, and per batch when a callback reads batch logs, so every rank sees the
same logs and callbacks such as EarlyStopping decide alike. Validation runs whole on
every rank. The progress display and the callbacks that write files (ModelCheckpoint,
CSVLogger, TensorBoard) act on rank 0 only.

Not yet supported, refused before the first step: Dropout (one process draws one mask
for the whole batch; the shares would need the same bits) and BatchNormalization (its
statistics would be the share's, not the batch's).
"""

from __future__ import annotations

import numpy as np

from .callbacks import CSVLogger, ModelCheckpoint, TensorBoard
from .data_parallel import broadcast_model, reduce_gradients
from .layers.core import Dropout
from .layers.normalization import BatchNormalization

#: Callbacks whose output is files: rank 0 alone keeps them.
ROOT_ONLY_CALLBACKS = (ModelCheckpoint, CSVLogger, TensorBoard)


class Replicas:
    """The replicas of ``model`` across ``world`` during one ``fit``."""

    def __init__(self, model, world, batch_size: int):
        self.model, self.world = model, world
        if batch_size % world.size:
            raise ValueError(f"fit: batch_size is the global batch and must be divisible by the world size "
                             f"{world.size}, got {batch_size}")
        for layer in model._walk():
            refused = _unsupported(layer)
            if refused:
                raise ValueError(f"fit: data-parallel training does not support {layer._label()} yet: {refused}")
        broadcast_model(model, world)

    def verbose(self, verbose: int) -> int:
        return verbose if self.world.rank == 0 else 0

    def callbacks(self, callbacks: list) -> list:
        if self.world.rank == 0:
            return callbacks
        return [cb for cb in callbacks if not isinstance(cb, ROOT_ONLY_CALLBACKS)]

    def share(self, xb, yb):
        """This rank's rows of a global batch: (xb, yb, their count)."""
        n, size, rank = xb.shape[0], self.world.size, self.world.rank
        start, stop = rank * n // size, (rank + 1) * n // size
        return xb[start:stop], yb[start:stop], stop - start, n

    def train_step(self, xb, yb, regularizers, train_step):
        """One update on the global batch (xb, yb), the same on every rank: returns this
        rank's (loss array, predictions, targets, sample count); loss and predictions are
        None for a rank whose share is empty."""
        xb, yb, n, total = self.share(xb, yb)
        optimizer = self.model.optimizer
        loss = pred = None
        if n:
            loss, pred = train_step(self.model, xb, yb, regularizers, update=False)
            loss = loss.data
        else:
            optimizer.zero_grad()   # nothing to learn from here: this rank contributes zeros
        reduce_gradients(optimizer.parameters(), self.world, weight=self.world.size * n / total)
        optimizer.step()
        return loss, pred, yb, n

    def batch_logs(self, loss, n, metrics) -> dict:
        """The global batch's logs: its loss and metrics over every rank's share."""
        own = [float(loss) * n if n else 0.0, n]
        for metric in metrics:
            own += [float(metric._last[0]), metric._last[1]] if n else [0.0, 0]
        values = self.sum(*own)
        logs = {"loss": values[0] / values[1] if values[1] else 0.0}
        for i, metric in enumerate(metrics):
            total, count = values[2 + 2 * i: 4 + 2 * i]
            logs[metric.name] = total / count if count else 0.0
        return logs

    def sum(self, *values) -> list:
        """Each value summed over the ranks (floats)."""
        return self.world.allreduce(np.array([float(v) for v in values], dtype=np.float64)).tolist()

    def reduce_metrics(self, metrics) -> None:
        """Every metric's total and count summed over the ranks, so ``result()`` is the world's."""
        for metric in metrics:
            metric.total, metric.count = self.sum(metric.total, metric.count)
            metric.count = int(metric.count)


def _unsupported(layer) -> str | None:
    if isinstance(layer, Dropout) and layer.rate > 0:
        return "each rank would draw its own dropout mask, not its share of one process's"
    if isinstance(layer, BatchNormalization):
        return "its batch statistics would be each rank's share's, not the global batch's"
    return None
