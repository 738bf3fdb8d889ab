"""The Numba ``cpu`` backend.

``PROVIDES`` maps each kernel name to the submodule of this package that defines
it; the registry imports a submodule (and with it numba, see ``_jit``) only when
one of its kernels is first called. Every hot-path kernel of the contract is
provided; the small losses and penalties (``losses``) and the embedding lookup run
through the reference kernels (see tests/test_kernel_registry.py for why).
"""

from ..contract import FAMILIES, provides

#: kernel name -> submodule of this package that defines it.
PROVIDES = provides(family for family in FAMILIES if family not in ("losses", "embedding"))
