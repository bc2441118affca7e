"""The losses package's modules import each other in one direction (no cycle, also not one hidden
under ``TYPE_CHECKING``), and its public names stay importable from where users import them."""

from __future__ import annotations

import ast
from pathlib import Path

import contrastlab.losses

PACKAGE = "contrastlab.losses"


def _internal_imports(path: Path) -> set[str]:
    """Modules of the package that ``path`` imports anywhere (the package: its ``__init__``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            names += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            if name == PACKAGE or name.startswith(PACKAGE + "."):
                found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    folder = Path(contrastlab.losses.__file__).parent
    modules = {
        (PACKAGE if p.stem == "__init__" else f"{PACKAGE}.{p.stem}"): p for p in folder.glob("*.py")
    }
    return {name: _internal_imports(path) & set(modules) - {name} for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a list of modules, or ``None`` (depth-first search)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_cycle_finder_finds_a_planted_cycle():
    planted = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert _cycle(planted) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_losses_modules_have_no_import_cycle():
    graph = _graph()
    assert f"{PACKAGE}.options" in graph
    assert _cycle(graph) is None
    # the package's own modules never import the package (its __init__ imports them)
    assert all(PACKAGE not in deps for name, deps in graph.items() if name != PACKAGE)


def test_engine_options_importable_from_both_places():
    from contrastlab.losses import EngineOptions
    from contrastlab.losses.engine import EngineOptions as FromEngine
    from contrastlab.losses.options import EngineOptions as FromOptions

    assert EngineOptions is FromEngine is FromOptions
