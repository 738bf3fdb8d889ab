"""Processes that train together over MPI (mpi4py): the world they form and its collectives.

    world = fnn.distributed.init()       # under `mpiexec -n N python -m mpi4py train.py`
    world.rank, world.size, world.local_rank
    total = world.allreduce(array)       # the elementwise sum over the ranks (op="mean": / size)
    weights = world.broadcast(array)     # rank 0's values on every rank
    world.barrier(); world.abort()
    world.broadcast_object(obj); world.allgather_object(obj)   # pickled Python objects

``init()`` starts MPI only when the process was launched by an MPI launcher (mpiexec sets
``PMI_RANK``/``PMI_SIZE``, Open MPI ``OMPI_COMM_WORLD_SIZE``, PMIx ``PMIX_RANK``);
otherwise it returns a world of one process, in which every collective is a copy, so
the same script runs alone without MPI installed. MPI itself is the engine: the
collectives are mpi4py's buffer operations on contiguous host arrays.

Faults: in a world of more than one process ``init()`` installs an exception hook that
prints the failing rank's traceback and calls ``MPI_Abort``, so an error on one rank
ends the whole job at once instead of leaving the others waiting in a collective.
Launch with ``python -m mpi4py script.py`` as well: that also covers errors raised
before ``init()`` runs.

Threads: each process gets the cores of its node divided among the ranks on that node
(Numba and BLAS alike, ``fastnn.set_num_threads``), or the cores the launcher bound it
to when that is fewer, so N ranks never oversubscribe a machine.

GPU ranks: where the gpu backend can run, ``init()`` makes CUDA device
``local_rank % devices`` the process's current device (``world.device``), so the ranks
on a node spread over its devices, and ranks outnumbering them share one. Collectives go
through host buffers with MPI (a device array is copied to the host and back), which
works however many devices there are; a NCCL path would be another ``World``'s
``_sum_in_place`` on device arrays. Call ``init()`` before making gpu tensors: arrays
made earlier stay on the device that was current then.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from . import backend as backends
from .runtime import set_num_threads
from .tensor import Tensor

#: Environment variables an MPI launcher sets in the processes it starts.
LAUNCHER_VARIABLES = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK")
_OPS = ("sum", "mean")

_world = None


def launched_by_mpi() -> bool:
    """Whether an MPI launcher started this process."""
    return any(name in os.environ for name in LAUNCHER_VARIABLES)


def init():
    """The world of processes this one belongs to (the same object on every call)."""
    global _world
    if _world is None:
        _world = _MpiWorld() if launched_by_mpi() else World()
    return _world


def world():
    """The current world: ``init()``'s, or a world of one process before ``init()``."""
    return _world if _world is not None else World()


class World:
    """One process alone: rank 0 of 1. The collectives return copies of their input."""

    rank = 0
    size = 1
    local_rank = 0
    local_size = 1
    device = None     # the CUDA device index this process uses, where the gpu backend runs

    def allreduce(self, data, op: str = "sum"):
        """The elementwise ``op`` ("sum" or "mean") of ``data`` over all ranks, as a new
        array (a tensor for a tensor, without gradient). ``data``: an array or a tensor
        on a host backend, the same shape and dtype on every rank."""
        array, wrap = _host_array(data, "allreduce")
        _check_op(op, array, "allreduce")
        out = np.array(array, copy=True, order="C")
        self._sum_in_place(out)
        if op == "mean":
            out /= self.size
        return wrap(out)

    def allreduce_in_place(self, array: np.ndarray, op: str = "sum") -> np.ndarray:
        """``allreduce`` into ``array`` itself (a C-contiguous NumPy array, no copy made):
        the buffers data-parallel training packs its gradients into. Returns ``array``."""
        if not isinstance(array, np.ndarray):
            raise TypeError(f"allreduce_in_place: array must be a numpy array, got {type(array).__name__}")
        if not array.flags.c_contiguous or not array.flags.writeable:
            raise ValueError("allreduce_in_place: array must be C-contiguous and writeable")
        _check_op(op, array, "allreduce_in_place")
        self._sum_in_place(array)
        if op == "mean":
            array /= self.size
        return array

    def broadcast(self, data, root: int = 0):
        """``data`` of rank ``root`` on every rank, as a new array (a tensor for a tensor).
        Every rank passes an array of the same shape and dtype (its values are replaced)."""
        array, wrap = _host_array(data, "broadcast")
        if isinstance(root, bool) or not isinstance(root, (int, np.integer)) or not 0 <= root < self.size:
            raise ValueError(f"broadcast: root must be a rank in [0, {self.size - 1}], got {root!r}")
        out = np.array(array, copy=True, order="C")
        self._broadcast_in_place(out, int(root))
        return wrap(out)

    def broadcast_object(self, obj, root: int = 0):
        """Rank ``root``'s Python object (pickled) on every rank."""
        return obj

    def allgather_object(self, obj) -> list:
        """Every rank's Python object (pickled), in rank order, on every rank."""
        return [obj]

    def barrier(self) -> None:
        """Wait until every rank has reached this call."""

    def abort(self, code: int = 1) -> None:
        """End every process of the job with exit status ``code``."""
        sys.stdout.flush()
        sys.stderr.flush()
        self._end(code)

    def _end(self, code) -> None:
        os._exit(code)

    def _sum_in_place(self, array) -> None:
        pass

    def _broadcast_in_place(self, array, root) -> None:
        pass

    def __repr__(self):
        return f"{type(self).__name__}(rank={self.rank}, size={self.size}, local_rank={self.local_rank})"


class _MpiWorld(World):
    """The processes of ``MPI.COMM_WORLD``."""

    def __init__(self):
        try:
            from mpi4py import MPI
        except ImportError:
            raise ImportError("fastnn.distributed: this process was started by an MPI launcher but mpi4py is not "
                              "installed (pip install 'fastnn[distributed]')") from None
        self._mpi = MPI
        self._comm = MPI.COMM_WORLD
        self.rank, self.size = self._comm.Get_rank(), self._comm.Get_size()
        node = self._comm.Split_type(MPI.COMM_TYPE_SHARED)
        self.local_rank, self.local_size = node.Get_rank(), node.Get_size()
        node.Free()
        set_num_threads(threads_per_rank(self.local_size))
        self.device = _use_local_device(self.local_rank)
        if self.size > 1:
            _install_abort_hook(self)

    def broadcast_object(self, obj, root: int = 0):
        return self._comm.bcast(obj, root=root)

    def allgather_object(self, obj) -> list:
        return self._comm.allgather(obj)

    def barrier(self) -> None:
        self._comm.Barrier()

    def _end(self, code) -> None:
        self._comm.Abort(code)

    def _sum_in_place(self, array) -> None:
        self._comm.Allreduce(self._mpi.IN_PLACE, array, op=self._mpi.SUM)

    def _broadcast_in_place(self, array, root) -> None:
        self._comm.Bcast(array, root=root)


def _use_local_device(local_rank: int) -> int | None:
    """Make CUDA device ``local_rank % devices`` current where the gpu backend can run;
    its index, or None."""
    if backends._cuda_unavailable_reason() is not None:   # no cupy or no device: nothing imported
        return None
    import cupy

    index = local_rank % cupy.cuda.runtime.getDeviceCount()
    cupy.cuda.Device(index).use()
    return index


def threads_per_rank(local_size: int) -> int:
    """The threads each of ``local_size`` ranks on this node may use: the node's cores
    divided among them, or the cores this process is bound to when fewer."""
    cores = os.cpu_count() or 1
    bound = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    share = max(1, cores // max(1, local_size))
    return max(1, min(share, bound))


def _check_op(op, array, caller) -> None:
    if op not in _OPS:
        raise ValueError(f"{caller}: op must be one of {', '.join(map(repr, _OPS))}, got {op!r}")
    if op == "mean" and array.dtype.kind != "f":
        raise TypeError(f"{caller}: op='mean' needs a floating array, got dtype {array.dtype}")


def _host_array(data, caller):
    """(contiguous host array, a function that wraps a result like ``data``)."""
    if isinstance(data, Tensor):
        if not data._backend.host_memory:
            raise ValueError(f"{caller}: the tensor lives on {data.backend!r}; collectives take host memory "
                             f"(move it with .to('cpu'))")
        backend = data._backend
        return data.data, lambda out: Tensor._make(out, backend)
    if not isinstance(data, np.ndarray):
        if backends.is_array(data):
            raise ValueError(f"{caller}: the array lives in device memory; collectives take host memory")
        raise TypeError(f"{caller}: expected a numpy array or a fastnn tensor, got {type(data).__name__}")
    if data.dtype.kind not in "fiub":
        raise TypeError(f"{caller}: expected a numeric array, got dtype {data.dtype}")
    return data, lambda out: out


def _install_abort_hook(world) -> None:
    previous = sys.excepthook

    def abort_on_error(kind, value, traceback):
        sys.stderr.write(f"fastnn.distributed: rank {world.rank} of {world.size} failed; aborting the job\n")
        previous(kind, value, traceback)
        sys.stderr.flush()
        # The launcher forwards this process's output; MPI_Abort at once can cut the
        # traceback's last lines (seen with MPICH's mpiexec). A moment lets them through.
        time.sleep(0.5)
        world.abort(1)

    sys.excepthook = abort_on_error
