"""C1: the monitor package has no import cycle, and the collector never imports the request-side monitor.

Predecessor bug #1 was a metrics collector and a performance monitor calling each other while holding locks. The
structural guarantee is that the dependency only points one way: facade → collector → leaf modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "web.monitor"
PACKAGE_DIR = Path(__file__).resolve().parents[1] / "web" / "monitor"
# The only monitor modules the collector may depend on: plain data, the source list and the process sampler.
COLLECTOR_MAY_IMPORT = {"web.monitor.families", "web.monitor.snapshot", "web.monitor.sources", "web.monitor.process"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE_DIR).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join([PACKAGE, *parts])


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every web.monitor module that `source` imports, at any nesting level (function-local imports count)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node)
            # `from web.monitor import collector` imports the submodule; `from web.monitor.x import y` imports x.
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if target == PACKAGE or target.startswith(PACKAGE + "."):
                found.add(target)
    return found


def build_graph(sources: dict[str, tuple[str, bool]]) -> dict[str, set[str]]:
    modules = set(sources)
    graph: dict[str, set[str]] = {}
    for module, (source, is_package) in sources.items():
        graph[module] = {t for t in imports_of(source, module, is_package) if t in modules and t != module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def _package_sources() -> dict[str, tuple[str, bool]]:
    return {
        _module_name(path): (path.read_text(encoding="utf-8"), path.name == "__init__.py")
        for path in sorted(PACKAGE_DIR.rglob("*.py"))
    }


def _without_package_init(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    # The package __init__ only re-exports; importing a submodule runs it, but no submodule may import *it*.
    return {m: deps - {PACKAGE} for m, deps in graph.items() if m != PACKAGE}


def test_monitor_package_has_no_import_cycle() -> None:
    graph = build_graph(_package_sources())
    assert "web.monitor.collector" in graph and "web.monitor.monitoring" in graph
    for module, deps in graph.items():
        if module != PACKAGE:
            assert PACKAGE not in deps, f"{module} imports the package __init__ (the facade's re-exports)"
    assert find_cycle(_without_package_init(graph)) is None


def test_collector_imports_only_leaf_modules() -> None:
    sources = _package_sources()
    source, is_package = sources["web.monitor.collector"]
    imported = imports_of(source, "web.monitor.collector", is_package)
    forbidden = {m for m in imported if m not in COLLECTOR_MAY_IMPORT and m in sources}
    assert not forbidden, f"collector imports {sorted(forbidden)}"
    # Transitively too: nothing the collector reaches may lead back to the facade or the registry.
    graph = _without_package_init(build_graph(sources))
    reachable, todo = set(), ["web.monitor.collector"]
    while todo:
        for dep in graph[todo.pop()]:
            if dep not in reachable:
                reachable.add(dep)
                todo.append(dep)
    assert reachable <= COLLECTOR_MAY_IMPORT, f"collector reaches {sorted(reachable - COLLECTOR_MAY_IMPORT)}"


def test_leaf_modules_import_nothing_that_uses_them() -> None:
    graph = _without_package_init(build_graph(_package_sources()))
    for leaf in ("web.monitor.families", "web.monitor.snapshot", "web.monitor.sources", "web.monitor.process"):
        assert graph[leaf] <= COLLECTOR_MAY_IMPORT, f"{leaf} imports {graph[leaf]}"


@pytest.mark.parametrize(
    ("files", "expect_cycle"),
    [
        ({"web.monitor.a": "from web.monitor import b", "web.monitor.b": "from .a import thing"}, True),
        ({"web.monitor.a": "def f():\n    import web.monitor.b", "web.monitor.b": "import web.monitor.a"}, True),
        ({"web.monitor.a": "from web.monitor.b import x", "web.monitor.b": "import os"}, False),
    ],
)
def test_cycle_detector_sees_cycles(files: dict[str, str], expect_cycle: bool) -> None:
    """Guard on the guard: the checker does catch absolute, relative and function-local cycles."""
    graph = build_graph({name: (text, False) for name, text in files.items()})
    assert (find_cycle(graph) is not None) is expect_cycle


def test_collector_importing_the_facade_would_be_caught() -> None:
    source = "from web.monitor.monitoring import Monitoring\n"
    assert "web.monitor.monitoring" in imports_of(source, "web.monitor.collector")
    assert "web.monitor.metrics" in imports_of("from . import metrics\n", "web.monitor.collector")
