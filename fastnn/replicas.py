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
and then contributes zeros; with SyncBatchNormalization a last batch of fewer samples
than ranks is dropped on every rank, since a rank without samples has no forward pass
to join the layer's collectives from). Every rank draws the same shuffling order: rank 0's
weights, optimizer state and random stream are broadcast before the first step.

Dropout masks are keyed by the global sample index: inside a step each rank's draws are
for its rows of the global batch (``fastnn.random.sample_share``), so a rank takes the
Philox words one process would give those rows and every rank's stream advances by the
whole batch's words. N ranks apply exactly the masks one process applies, and training
with dropout equals single-process training.

Losses and metrics are summed over the ranks (their totals and sample counts) at the end
of each epoch, and per batch when a callback reads batch logs, so every rank sees the
same logs and callbacks such as EarlyStopping decide alike. Validation is sharded the
same way: each rank evaluates its share of every validation batch, and the sums are the
world's. The progress display and the callbacks that write files (CSVLogger,
TensorBoard) act on rank 0 only; ModelCheckpoint runs everywhere and ``model.save``
writes on rank 0.

Batch norm: a plain BatchNormalization normalizes with each rank's share's statistics
(as PyTorch's DistributedDataParallel does), so it trains like one process only where the
shares are large; its running statistics are replaced after every step by their mean
over the ranks weighted by share size, which keeps them equal on every rank (the running
mean then equals one process's; the running variance misses the spread between the
shares' means). SyncBatchNormalization computes its statistics over the global batch and
equals one process's batch norm.

Frozen layers (``layer.trainable = False``, the same on every rank: the program that
freezes runs on each) take no part in the reductions: their weights have no gradient to
reduce, and a frozen batch norm's running statistics do not move, so they are not
averaged (an average of equal values weighted by share sizes could round them). The
list of statistics to average is made again when a flag changes during fit.
"""

from __future__ import annotations

import numpy as np

from .callbacks import CSVLogger, TensorBoard
from .data_parallel import average_tensors, broadcast_model, reduce_gradients
from .random import default_generator
from .tensor import FLAG_CHANGES

#: Callbacks that write files themselves: rank 0 alone keeps them. (ModelCheckpoint runs on
#: every rank: it saves through ``model.save``, which writes on rank 0 while the others
#: wait at a barrier, so every rank must call it.)
ROOT_ONLY_CALLBACKS = (CSVLogger, TensorBoard)


class Replicas:
    """The replicas of ``model`` across ``world`` during one ``fit``."""

    def __init__(self, model, world, batch_size: int):
        self.model, self.world = model, world
        if batch_size % world.size:
            raise ValueError(f"fit: batch_size is the global batch and must be divisible by the world size "
                             f"{world.size}, got {batch_size}")
        self.statistics, self.planned_at = _share_statistics(model), FLAG_CHANGES[0]
        self.global_statistics = any(layer.global_statistics for layer in model._walk())
        broadcast_model(model, world)

    def verbose(self, verbose: int) -> int:
        return verbose if self.world.rank == 0 else 0

    def callbacks(self, callbacks: list) -> list:
        if self.world.rank == 0:
            return callbacks
        return [cb for cb in callbacks if not isinstance(cb, ROOT_ONLY_CALLBACKS)]

    def share(self, total):
        """This rank's rows [start, stop) of a global batch of ``total`` rows."""
        size, rank = self.world.size, self.world.rank
        return rank * total // size, (rank + 1) * total // size

    def train_step(self, xb, yb, regularizers, train_step):
        """One update on the global batch (xb, yb), the same on every rank: returns this
        rank's (loss array, predictions, targets, sample count); loss and predictions are
        None for a rank whose share is empty."""
        total = xb.shape[0]
        if total < self.world.size and self.global_statistics:
            # A rank without samples cannot join a layer's collectives over the batch (it
            # has no forward pass): every rank drops this last, smaller batch alike.
            return None, None, yb[:0], 0
        start, stop = self.share(total)
        xb, yb, n = xb[start:stop], yb[start:stop], stop - start
        optimizer = self.model.optimizer
        if self.planned_at != FLAG_CHANGES[0]:   # a layer or a weight was frozen or unfrozen
            self.statistics, self.planned_at = _share_statistics(self.model), FLAG_CHANGES[0]
        loss = pred = None
        if n:
            # Dropout draws the words one process would give these rows (fastnn/random.py).
            with default_generator.sample_share(start, n, total):
                loss, pred = train_step(self.model, xb, yb, regularizers, update=False)
            loss = loss.data
        else:
            optimizer.zero_grad()   # nothing to learn from here: this rank contributes zeros
        if total < self.world.size:
            # A rank without samples drew nothing: it takes the last rank's stream (the last
            # rank always has a sample).
            last = self.world.size - 1
            default_generator.set_state(self.world.broadcast_object(default_generator.get_state(), root=last))
        weight = self.world.size * n / total
        # frozen weights have no gradient on any rank: left out of the buckets alike everywhere
        reduce_gradients([p for p in optimizer.parameters() if p._requires_grad], self.world, weight=weight)
        optimizer.step()
        if self.statistics:   # each rank's running statistics saw its share: the batch's weighted mean
            average_tensors(self.statistics, self.world, weight=weight)
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


def _share_statistics(model) -> list:
    """The weights declared non-trainable that each rank updates from its own share of a
    batch (plain batch norm's running statistics), not those a layer computes over the
    global batch (a layer with ``global_statistics = True``: SyncBatchNormalization) nor
    those of a frozen layer (a frozen batch norm runs in inference mode: they stay)."""
    return [t for owner, spec, t in model._weight_entries()
            if not spec.trainable and owner.trainable and not owner.global_statistics]
