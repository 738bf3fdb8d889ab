"""The Numba ``cpu`` backend.

Kernels are added here as ``PROVIDES[name] = submodule``; the registry imports a
submodule (and with it numba) only when one of its kernels is first called.
The backend becomes available once every hot-path kernel of the contract is
provided; until then ``fastnn.set_backend("cpu")`` says which are missing.
"""

#: kernel name -> submodule of this package that defines it.
PROVIDES: dict[str, str] = {}
