"""Benchmarks reuse the case table of the test suite (fastnn/testing/table.py)."""

import fastnn  # noqa: F401  (before NumPy: it shortens OpenBLAS's idle spin, fastnn/runtime.py)
