"""Benchmarks reuse the test suite's case table (tests/cases.py)."""

import fastnn  # noqa: F401,E402  (before NumPy: it shortens OpenBLAS's idle spin, fastnn/runtime.py)

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
