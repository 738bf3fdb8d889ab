"""Load and run the lesson scripts of ``examples/`` in-process, as the tests of each lesson do.

A script is loaded from its file (``examples/`` is not a package); its folder goes on
``sys.path`` first so that its ``import lesson`` finds ``examples/lesson.py``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from backend_params import require

import fastnn as fnn

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SHARED = {"lesson", "textrank"}           # helper modules, not lessons
QUICK_START = "train_digits"              # the quick-start job: shares the lessons' command line, not in the course
NOT_LESSONS = SHARED | {QUICK_START}


def import_helper(name: str):
    """A shared helper module of the lessons (``examples/<name>.py``), imported by name as
    the lessons import it (``import lesson``, ``from textrank import ...``)."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    return importlib.import_module(name)


def lesson_names() -> list[str]:
    """Every lesson script in examples/, by stem."""
    return sorted(path.stem for path in EXAMPLES.glob("*.py") if path.stem not in NOT_LESSONS)


def load(name: str):
    """The module of ``examples/<name>.py``, freshly executed."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"fastnn_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_quick(name: str, backend: str, out, *extra: str) -> dict:
    """``python examples/<name>.py --quick --backend <backend> --out <out> [extra...]``, in-process:
    the numbers the script printed, as the dict its ``main`` returns.

    fastnn's global random state is put back afterwards (the script seeds it), so lessons
    neither depend on nor shift the draws of other tests.
    """
    require(backend)
    state = fnn.get_rng_state()
    try:
        return load(name).main(["--quick", "--backend", backend, "--out", str(out), *extra])
    finally:
        fnn.set_rng_state(state)
