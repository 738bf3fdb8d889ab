"""Compiled hot paths of fastnn, one package per backend.

``reference`` (NumPy) is the executable specification; ``cpu`` (Numba) and
``gpu`` (CuPy) implement the same kernels with the same signatures. The list of
kernels and their signatures lives in :mod:`fastnn.kernels.contract`.
"""
