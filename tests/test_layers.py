"""Layers point one way: every import in mnist_core runs down `mnist_core.LAYERS`, and no modules import in a loop."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

from mnist_core import LAYERS
from tests.conftest import REPO

SOURCES = ("mnist_core", "ui", "pages", "streamlit_app.py")


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {}
    for source in SOURCES:
        root = REPO / source
        for path in [root] if root.is_file() else sorted(root.rglob("*.py")):
            if "migrations" not in path.parts:  # Alembic loads those by path, never by import
                found[_module_name(path)] = path
    return found


def _imports(path: Path, modules: Iterable[str]) -> set[str]:
    """The project modules `path` imports anywhere (lazy and TYPE_CHECKING imports too: they tie it all the same)."""
    known, names = set(modules), set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
            names.add(node.module)
    found = set()
    for name in names:
        while name and name not in known:  # `from a.b import c` imports module a.b.c if there is one, else a.b
            name = name.rpartition(".")[0]
        if name:
            found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def _package(module: str) -> str | None:
    """The subpackage (or top-level module) of mnist_core that `module` belongs to; None for the package itself."""
    parts = module.split(".")
    return parts[1] if parts[0] == "mnist_core" and len(parts) > 1 else None


def upward_imports(graph: Mapping[str, set[str]], layers: tuple[tuple[str, ...], ...]) -> list[str]:
    """Every import from one of mnist_core's subpackages to one in the same layer or above, or outside mnist_core."""
    rank = {package: level for level, names in enumerate(layers) for package in names}
    wrong = []
    for module, imported in graph.items():
        package = _package(module)
        if package is None:
            continue
        for target in sorted(imported):
            other = _package(target)
            if not target.startswith("mnist_core"):
                wrong.append(f"{module} -> {target} (mnist_core never imports the pages' glue)")
            elif other is not None and other != package and rank[other] >= rank[package]:
                wrong.append(f"{module} (layer {rank[package]}) -> {target} (layer {rank[other]})")
    return wrong


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_every_subpackage_has_a_layer():
    packages = {_package(module) for module in _modules()} - {None}
    placed = [package for names in LAYERS for package in names]
    assert sorted(placed) == sorted(packages), "add the new subpackage to mnist_core.LAYERS"


def test_mnist_core_imports_only_downward():
    assert upward_imports(_graph(), LAYERS) == []


def test_mnist_core_never_imports_streamlit_and_ui_never_imports_pages():
    for module, path in _modules().items():
        text = path.read_text()
        if module.startswith("mnist_core"):
            assert "import streamlit" not in text and "from streamlit" not in text, module
        if module.startswith("ui"):
            assert not any(target.startswith("pages") for target in _graph()[module]), module


def test_no_modules_import_each_other_in_a_loop():
    assert cycles(_graph()) == []


def test_the_checks_catch_what_they_look_for():
    """The checks themselves: an upward import, an import of the glue and a loop are each reported."""
    graph = {
        "mnist_core.model.a": {"mnist_core.training.b"},
        "mnist_core.training.b": {"mnist_core.model.a", "mnist_core.training.c"},
        "mnist_core.training.c": {"mnist_core.training.b", "ui.session"},
    }
    wrong = upward_imports(graph, (("model",), ("training",)))
    assert wrong == [
        "mnist_core.model.a (layer 0) -> mnist_core.training.b (layer 1)",
        "mnist_core.training.c -> ui.session (mnist_core never imports the pages' glue)",
    ]
    assert cycles(graph) == [["mnist_core.model.a", "mnist_core.training.b", "mnist_core.training.c"]]
