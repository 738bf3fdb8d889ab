"""Keeping the replicas of a model equal across the ranks of a world (``fastnn.distributed``):
the pieces data-parallel training is made of.

* ``check_same_weights(model, world)``: every rank holds weights of the same shapes and
  dtypes, in the same order, frozen alike (``layer.trainable``: a frozen weight's gradient
  is left out of the reduction, so the ranks must agree on which are); otherwise a
  ValueError on every rank naming the ranks that differ (a collective on mismatched
  buffers would hang or corrupt memory instead).
* ``broadcast_model(model, world)``: rank 0's weights (every one, batch-norm running
  statistics included), its optimizer state and its random stream on every rank.
* ``reduce_gradients(params, world)``: each gradient replaced by its mean over the ranks,

      g_p <- (1 / N) sum_r g_p^(r)

  packed per dtype into flat buffers of at most ``bucket_bytes`` (one allreduce per
  bucket instead of one per parameter, reduced in place: ``World.allreduce_in_place``).
  A parameter without a gradient on some rank contributes zeros there, so every rank runs
  the same collectives and ends with the same gradients; one without a gradient on every
  rank keeps none, as in one process.
* ``average_tensors(tensors, world)``: each tensor's values replaced by their mean over
  the ranks, in the same buckets (batch-norm running statistics that each rank updated
  from its own share of the batch).
"""

from __future__ import annotations

import numpy as np

from .random import get_rng_state, set_rng_state
from .tensor import Tensor

#: Bytes per gradient bucket (PyTorch's DistributedDataParallel uses 25 MB).
BUCKET_BYTES = 25 << 20


def check_same_weights(model, world) -> None:
    signature = [(t.name, tuple(t.shape), np.dtype(t.dtype).str, "trains" if t.requires_grad else "frozen")
                 for t in model.weights]
    every = world.allgather_object(signature)
    # Names may differ (a layer's default name counts the layers made before it); shapes and dtypes may not.
    layout = [[entry[1:] for entry in theirs] for theirs in every]
    differing = [rank for rank, theirs in enumerate(layout) if theirs != layout[0]]
    if not differing:
        return
    rank = differing[0]
    mine, theirs = every[0], every[rank]
    if len(mine) != len(theirs):
        detail = f"rank 0 has {len(mine)} weights, rank {rank} has {len(theirs)}"
    else:
        first = next(i for i, (a, b) in enumerate(zip(mine, theirs)) if a[1:] != b[1:])
        detail = (f"weight {first}: rank 0 has {' '.join(map(str, mine[first]))}, rank {rank} has "
                  f"{' '.join(map(str, theirs[first]))}")
    who = (f"ranks {', '.join(map(str, differing))} differ" if len(differing) > 1 else f"rank {rank} differs")
    raise ValueError(f"the model differs between ranks ({who} from rank 0): {detail}; every rank must build "
                     f"the same model")


def broadcast_model(model, world, root: int = 0) -> None:
    """Make every rank's model, optimizer and random stream rank ``root``'s (in place)."""
    check_same_weights(model, world)
    for t in model.weights:
        host = t._backend.to_numpy(t.data)
        t.data = t._backend.asarray(world.broadcast(np.ascontiguousarray(host), root=root))
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and optimizer.param_groups:
        state = world.broadcast_object(optimizer.state_dict(), root=root)
        if world.rank != root:
            optimizer.load_state_dict(state)
    set_rng_state(world.broadcast_object(get_rng_state(), root=root))


def reduce_gradients(params, world, bucket_bytes: int = BUCKET_BYTES, weight: float = 1.0) -> None:
    """Replace each parameter's gradient by its mean over the ranks (see the module docstring),
    this rank's gradients counting ``weight`` times (``replicas.Replicas``: a rank's share of
    an unevenly split batch)."""
    def set_grad(p, mean):
        p.grad = Tensor._make(mean, p._backend)

    _mean_over_ranks(params, lambda p: None if p.grad is None else p.grad.data, set_grad, world, bucket_bytes,
                     weight, "reduce_gradients")


def average_tensors(tensors, world, bucket_bytes: int = BUCKET_BYTES, weight: float = 1.0) -> None:
    """Replace each tensor's values by their mean over the ranks (in place of ``data``), this
    rank's values counting ``weight`` times."""
    def set_data(t, mean):
        t.data = mean

    _mean_over_ranks(tensors, lambda t: t.data, set_data, world, bucket_bytes, weight, "average_tensors")


def _mean_over_ranks(tensors, read, write, world, bucket_bytes, weight, caller) -> None:
    """For each tensor t, write(t, mean over the ranks of weight * read(t)), packed per
    dtype into buckets of at most ``bucket_bytes``. A None read counts as zeros; a tensor
    that reads None on every rank is left alone (one process would skip it too: Adam's
    moments must not move a weight no rank computed a gradient for). Each bucket carries
    one "read something" flag a tensor, after its values, reduced with them; the results
    are views of the bucket, which is new in every call."""
    if isinstance(bucket_bytes, bool) or not isinstance(bucket_bytes, (int, np.integer)) or bucket_bytes < 1:
        raise ValueError(f"{caller}: bucket_bytes must be a positive int, got {bucket_bytes!r}")
    by_dtype: dict = {}
    for t in tensors:
        by_dtype.setdefault(np.dtype(t.dtype), []).append(t)
    for dtype in sorted(by_dtype, key=lambda d: d.str):       # the same order on every rank
        for bucket in _buckets(by_dtype[dtype], bucket_bytes):
            size = sum(t.size for t in bucket)
            flat = np.zeros(size + len(bucket), dtype=dtype)
            offset = 0
            for i, t in enumerate(bucket):
                values = read(t)
                if values is not None:
                    flat[offset:offset + t.size] = t._backend.to_numpy(values).reshape(-1)
                    flat[size + i] = 1
                offset += t.size
            if weight != 1.0:
                flat[:size] *= weight
            world.allreduce_in_place(flat, op="mean")   # our own buffer: no copy needed
            offset = 0
            for i, t in enumerate(bucket):
                if flat[size + i] > 0:
                    write(t, t._backend.asarray(flat[offset:offset + t.size].reshape(t.shape)))
                offset += t.size


def _buckets(params, bucket_bytes):
    """Consecutive groups of ``params`` of at most ``bucket_bytes`` (a larger parameter alone)."""
    bucket, size = [], 0
    for p in params:
        nbytes = p.size * np.dtype(p.dtype).itemsize
        if bucket and size + nbytes > bucket_bytes:
            yield bucket
            bucket, size = [], 0
        bucket.append(p)
        size += nbytes
    if bucket:
        yield bucket
