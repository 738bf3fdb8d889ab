"""The CuPy ``gpu`` backend.

``PROVIDES`` maps every kernel of the contract to the submodule that defines it; the
registry imports a submodule (and with it cupy) only when one of its kernels is first
called, so importing fastnn never imports cupy. The backend is available when cupy
imports, a CUDA device answers and every hot-path kernel is provided (all are: the gpu
backend falls back to the reference for no kernel).

Sources: elementwise definitions and reductions in ``sources.py`` (plain strings,
importable without cupy, so the test suite compiles them with nvcc on machines without
a GPU), block-level kernels in the ``*.cu`` files beside it.
"""

from ..contract import FAMILIES, provides

#: kernel name -> submodule of this package that defines it.
PROVIDES: dict[str, str] = provides(FAMILIES)
