"""Benchmarks reuse the test suite's case table (tests/cases.py)."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
