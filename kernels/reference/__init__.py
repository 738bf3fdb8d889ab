"""The NumPy reference backend: the executable specification of every kernel.

Every kernel of :mod:`fastnn.kernels.contract` is implemented here, vectorised
(no Python loop over elements; the only loops run over the kh*kw offsets of a
convolution window). ``PROVIDES`` maps each kernel name to the submodule that
defines it; the backend registry imports submodules lazily from it.
"""

from ..contract import FAMILIES, provides

#: kernel name -> submodule of this package that defines it.
PROVIDES = provides(FAMILIES)
