"""The module import graph of ``fastnn`` has no cycles: not at module level, and not closed
by an import inside a function either (the core modules tensor, function, ops, layers,
models, trainer and io included). Each layer of the package imports only layers below
it; where a lower module needs something from above (function.py the Tensor class, the
checkpoint reader the model classes), it is handed over (``register_tensor_class``, the
layer class registry), not imported. This test reads the source."""

from __future__ import annotations

import ast
import inspect
import pathlib

import fastnn as fnn
from fastnn.function import Function

PACKAGE = pathlib.Path(fnn.__file__).resolve().parent


def _module_name(path: pathlib.Path) -> str:
    parts = ["fastnn", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")
            if p.relative_to(PACKAGE).parts[0] != "kernels"}


def _imported(module: str, path: pathlib.Path, node, modules) -> list[str]:
    """The fastnn modules an import statement brings in (a name imported from a package is
    that submodule when one exists, else the package)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in modules]
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    if node.level:
        package = package[:len(package) - node.level + 1]
        base = ".".join(package + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    found = []
    for alias in node.names:
        candidate = f"{base}.{alias.name}"
        name = candidate if candidate in modules else base
        if name in modules:
            found.append(name)
    return found


def import_graph() -> dict:
    """module -> set of fastnn modules it imports anywhere in its source."""
    modules = _modules()
    graph = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                targets.update(_imported(module, path, node, modules))
        targets.discard(module)
        graph[module] = targets
    return graph


def cycles(graph: dict) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_fastnn_import_graph_has_no_cycles():
    graph = import_graph()
    for core in ("fastnn.tensor", "fastnn.function", "fastnn.ops.math", "fastnn.layers", "fastnn.models",
                 "fastnn.trainer", "fastnn.io"):
        assert core in graph, f"{core} was not read"
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_cycle_finder_finds_a_cycle_closed_inside_a_function():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    source = "def f():\n    from .models import Model\n"
    node = next(n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom))
    modules = {"fastnn.models": None, "fastnn.io": None}
    assert _imported("fastnn.io", PACKAGE / "io.py", node, modules) == ["fastnn.models"]


def test_function_apply_imports_nothing():
    source = inspect.getsource(Function.apply)
    assert "import" not in source, "Function.apply runs for every op: no import there"
