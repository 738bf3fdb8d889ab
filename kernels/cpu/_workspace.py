"""Buffers reused across calls: scratch space, and outputs recycled once dropped.

A fresh multi-megabyte array costs a page fault per 4 KB page on its first touch, every
call (NumPy hands large blocks back to the system when they are freed), and page
faults are dear on these virtual machines: filling a fresh 19 MB array took 1.9 ms
against 0.5 ms for a reused one, on the Winograd forward pass (bench/RESULTS.md).

* :func:`scratch` -- one buffer per (purpose, shape, dtype), for arrays whose contents
  are dead once the kernel that asked for them returns (tile products, transposed rows).
* :func:`recycled` -- an output array (y, a gradient, a tensor a backward pass keeps)
  from a pool per (shape, dtype). An array in the pool is handed out again only when
  nothing else refers to it any more: its reference count, which every view and every
  tensor holding it raises, is back to the pool's own. So a training step reuses the
  arrays of the step before it, and nothing still alive is ever overwritten.

Both pools keep at most ``LIMIT_BYTES`` each, dropping the least recently used
buffers beyond that (a recycled array still in use is only forgotten by the pool).
"""

from __future__ import annotations

import sys
from collections import OrderedDict

import numpy as np

#: Bytes kept alive by each pool between calls.
LIMIT_BYTES = 256 << 20

_scratch: OrderedDict = OrderedDict()
_recycled: OrderedDict = OrderedDict()   # key -> list of arrays


def _key(shape, dtype):
    return tuple(int(s) for s in shape), np.dtype(dtype).str


def scratch(purpose, shape, dtype):
    """An uninitialised C-contiguous array for ``purpose``, reused when shape and dtype repeat."""
    key = (purpose, *_key(shape, dtype))
    array = _scratch.get(key)
    if array is None:
        array = np.empty(shape, dtype=dtype)
        _scratch[key] = array
        _trim(_scratch, lambda a: a.nbytes)
    else:
        _scratch.move_to_end(key)
    return array


def recycled(shape, dtype):
    """An uninitialised C-contiguous array of ``shape`` and ``dtype`` that nothing else refers to."""
    key = _key(shape, dtype)
    arrays = _recycled.get(key)
    if arrays is None:
        arrays = _recycled[key] = []
    else:
        _recycled.move_to_end(key)
        for array in arrays:
            # Held by the pool's list, this loop's variable and getrefcount's argument alone.
            if sys.getrefcount(array) <= _FREE_REFS:
                return array
    array = np.empty(shape, dtype=dtype)
    arrays.append(array)
    _trim(_recycled, lambda group: sum(a.nbytes for a in group))
    return array


def _trim(pool, size):
    total = sum(size(v) for v in pool.values())
    while total > LIMIT_BYTES and len(pool) > 1:
        _, oldest = pool.popitem(last=False)
        total -= size(oldest)


def clear():
    """Drop every pooled buffer (frees what nothing else holds)."""
    _scratch.clear()
    _recycled.clear()


def _free_refs():
    # The count recycled() sees for an array nothing else holds, measured the same way.
    arrays = [np.empty(1)]
    for array in arrays:
        return sys.getrefcount(array)


_FREE_REFS = _free_refs()
