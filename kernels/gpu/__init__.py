"""The CuPy ``gpu`` backend.

Kernels are added here as ``PROVIDES[name] = submodule``; nothing imports cupy
until a kernel is first called. The backend is available when cupy imports, a
CUDA device answers and every hot-path kernel of the contract is provided.
"""

#: kernel name -> submodule of this package that defines it.
PROVIDES: dict[str, str] = {}
