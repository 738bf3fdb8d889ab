"""DataLoader: mini-batches of (x, y) as tensors on a backend.

    loader = fnn.data.DataLoader(x, y, batch_size=64, shuffle=True, seed=0)
    for xb, yb in loader:            # tensors on the current backend
        ...
    model.fit(loader, epochs=5)      # fit iterates it on the model's backend

Batches follow the sample order, or a fresh random permutation of it every epoch
(``shuffle=True``). Permutations come from fastnn's Philox generator, drawn on the
host: ``fastnn.random.default_generator`` (seeded by ``fnn.manual_seed``) when
``seed`` is None, else the loader's own ``fastnn.random.Generator(seed)``, kept across
epochs. Either way the same seed gives the same batches on every backend.

Data: float features become float32 (or ``dtype``); integer and boolean arrays keep
their values as int64 (class labels, token ids); labels given as floats stay floats.
Arrays may be numpy or cupy arrays (or anything ``numpy.asarray`` takes, or fastnn
tensors). On the gpu backend the whole data set is copied to the device once, on the
first epoch, and batches are gathered there.
"""

from __future__ import annotations

import numpy as np

from . import arguments
from . import backend as backends
from . import random as fnn_random

_FLOAT_DTYPES = (np.dtype("float32"), np.dtype("float64"))


def as_array(data, what, float_dtype="float32"):
    """``data`` as a numpy or cupy array: floats in ``float_dtype``, integers and booleans
    as int64; strings, objects and complex numbers raise a TypeError naming ``what``."""
    from .tensor import Tensor

    if isinstance(data, Tensor):
        data = data.data
    if not backends.is_array(data):
        try:
            data = np.asarray(data)
        except (TypeError, ValueError) as exc:  # ragged lists
            raise TypeError(f"{what} must be a numeric array, got {type(data).__name__} that numpy cannot "
                            f"make an array of ({exc})") from None
    kind = data.dtype.kind
    if kind == "f":
        return data.astype(float_dtype, copy=False)
    if kind in "iub":
        return data.astype("int64", copy=False)
    raise TypeError(f"{what} must hold numbers (float, int or bool), got dtype {data.dtype}"
                    + (" (complex numbers are not supported)" if kind == "c" else ""))


class DataLoader:
    """Mini-batches of ``x`` (and ``y``) as tensors; see the module docstring.

    ``len(loader)`` is the number of batches per epoch: ceil(n / batch_size), or
    floor(n / batch_size) with ``drop_last=True``. Iterating yields ``(xb, yb)``, or ``xb``
    alone when ``y`` is None, on ``backend`` (None: the current backend at iteration time);
    ``loader.iterate(backend)`` yields them on the given backend.
    """

    def __init__(self, x, y=None, batch_size=32, shuffle=False, drop_last=False, seed=None, backend=None,
                 dtype=None):
        # every argument is checked before any work (the arrays are converted last but one)
        batch_size = arguments.size(batch_size, "DataLoader", "batch_size", low=1)
        shuffle = arguments.boolean(shuffle, "DataLoader", "shuffle")
        drop_last = arguments.boolean(drop_last, "DataLoader", "drop_last")
        if dtype is None:
            float_dtype = _FLOAT_DTYPES[0]
        else:
            try:
                float_dtype = np.dtype(dtype)
            except (TypeError, ValueError):
                float_dtype = None
            if float_dtype is None or float_dtype not in _FLOAT_DTYPES:   # (NumPy takes None == float64)
                arguments._fail(TypeError, "DataLoader", "dtype", "float32 or float64 (or None: float32)",
                                dtype if float_dtype is None else str(float_dtype))
        if seed is not None:
            seed = arguments.integer(seed, "DataLoader", "seed", low=0, high=2**64 - 1)
        generator = None if seed is None else fnn_random.Generator(seed)
        if backend is not None and not isinstance(backend, backends.Backend):
            arguments.choice(backend, backends.NAMES, "DataLoader", "backend")
        target = None if backend is None else backends.get(backend)
        self.x = as_array(x, "DataLoader: x", float_dtype)
        self.y = None if y is None else as_array(y, "DataLoader: y", float_dtype)
        if self.x.ndim == 0:
            raise ValueError(f"DataLoader: x needs a sample axis, got a 0-d array ({self.x!r})")
        if self.y is not None:
            if self.y.ndim == 0:
                raise ValueError("DataLoader: y needs a sample axis, got a 0-d array")
            if len(self.y) != len(self.x):
                raise ValueError(f"DataLoader: x and y must have the same number of samples, got {len(self.x)} "
                                 f"samples in x and {len(self.y)} in y")
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.generator = generator
        self._backend = target
        self._device_copies: dict = {}

    @property
    def backend(self) -> str | None:
        """The name of the backend batches go to (None: the caller's, else the current one)."""
        return None if self._backend is None else self._backend.name

    @property
    def num_samples(self) -> int:
        return int(self.x.shape[0])

    def __len__(self) -> int:
        n, b = self.num_samples, self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __repr__(self):
        return (f"DataLoader({self.num_samples} samples, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, seed={self.seed})")

    def _replace(self, x=None, y=None) -> "DataLoader":
        """A loader over other arrays with the same batching (and the same generator object)."""
        new = object.__new__(DataLoader)
        new.__dict__.update(self.__dict__)
        new.x = self.x if x is None else x
        new.y = self.y if y is None else y
        new._device_copies = {}
        return new

    def _arrays_on(self, backend):
        """x and y as arrays of ``backend``: host arrays as they are for numpy/cpu, one
        cached device copy for gpu."""
        if backend.name in self._device_copies:
            return self._device_copies[backend.name]
        held = [a for a in (self.x, self.y) if a is not None]
        if not backend.host_memory:
            arrays = tuple(None if a is None else backend.asarray(a) for a in (self.x, self.y))
        else:
            arrays = tuple(None if a is None else backends.to_host(a) for a in (self.x, self.y))
        if not backend.host_memory or any(not backends.of_array(a).host_memory for a in held):
            self._device_copies[backend.name] = arrays
        return arrays

    def order(self):
        """This epoch's sample order: a permutation drawn now (shuffle), or None (in order)."""
        if not self.shuffle:
            return None
        generator = self.generator if self.generator is not None else fnn_random.default_generator
        return generator.permutation(self.num_samples)

    def __iter__(self):
        return self.iterate()

    def iterate(self, backend=None):
        """Batches on ``backend`` (default: the loader's, else the current one). The epoch's
        permutation is drawn when this is called, not at the first batch."""
        from .tensor import Tensor

        target = backends.resolve(backend if backend is not None else self._backend)
        x, y = self._arrays_on(target)
        order = self.order()
        if order is not None:
            order = target.asarray(order)     # on the device where the batches are gathered
        n, size = self.num_samples, self.batch_size
        stop = (n // size) * size if self.drop_last else n
        contiguous = target.contiguous

        def batches():
            for start in range(0, stop, size):
                if order is None:
                    xb = x[start:start + size]
                    yb = None if y is None else y[start:start + size]
                else:
                    index = order[start:start + size]
                    xb = x[index]
                    yb = None if y is None else y[index]
                xt = Tensor._make(contiguous(xb), target)
                yield xt if y is None else (xt, Tensor._make(contiguous(yb), target))

        return batches()


__all__ = ["DataLoader", "as_array"]
