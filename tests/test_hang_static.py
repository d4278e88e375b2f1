"""Static guards (C2, G1, G2): code patterns that block the event loop or the logging path are banned in web/."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[1] / "web"


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _calls_directly_in_async_defs(tree: ast.AST) -> set[ast.Call]:
    """Calls that run on the event loop: inside an async def, but not inside a nested def or lambda (those are
    typically handed to a thread with asyncio.to_thread)."""
    found: set[ast.Call] = set()

    def visit(node: ast.AST, in_async: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.AsyncFunctionDef):
                visit(child, True)
            elif isinstance(child, ast.FunctionDef | ast.Lambda):
                visit(child, False)
            else:
                if in_async and isinstance(child, ast.Call):
                    found.add(child)
                visit(child, in_async)

    visit(tree, False)
    return found


def violations(source: str) -> Iterator[str]:
    """Every banned pattern in `source`, as 'line: what'."""
    tree = ast.parse(source)
    on_loop = _calls_directly_in_async_defs(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                if _dotted(base).endswith("BaseHTTPMiddleware"):
                    yield f"{node.lineno}: BaseHTTPMiddleware breaks contextvars; write pure ASGI middleware"
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        keywords = {kw.arg: kw.value for kw in node.keywords}
        if name.endswith("logger.complete"):
            yield f"{node.lineno}: logger.complete() waits for sinks; the pipeline's close() flushes instead"
        enqueue = keywords.get("enqueue")
        if name.endswith("logger.add") and isinstance(enqueue, ast.Constant) and enqueue.value is True:
            yield f"{node.lineno}: loguru enqueue=True blocks once its pipe is full (reliability.md G1)"
        interval = keywords.get("interval")
        if name.endswith("cpu_percent") and (
            (interval is not None and not (isinstance(interval, ast.Constant) and interval.value is None))
            or (node.args and not (isinstance(node.args[0], ast.Constant) and node.args[0].value is None))
        ):
            yield f"{node.lineno}: cpu_percent(interval>0) sleeps; use interval=None"
        if name == "time.sleep" and node in on_loop:
            yield f"{node.lineno}: time.sleep() inside async def blocks the event loop"


def _web_sources() -> list[Path]:
    return sorted(p for p in WEB.rglob("*.py") if "__pycache__" not in p.parts)


def test_web_package_has_no_loop_blocking_patterns() -> None:
    found = [f"{path.relative_to(WEB.parent)}:{v}" for path in _web_sources() for v in violations(path.read_text())]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "source",
    [
        "async def f():\n    time.sleep(1)\n",
        "from loguru import logger\nlogger.add(sink, enqueue=True)\n",
        "async def shutdown():\n    await logger.complete()\n",
        "psutil.Process().cpu_percent(interval=0.5)\n",
        "proc.cpu_percent(1)\n",
        "class M(BaseHTTPMiddleware):\n    pass\n",
    ],
)
def test_checker_catches_each_pattern(source: str) -> None:
    """Guard on the guard: each banned pattern is detected."""
    assert list(violations(source))


def test_checker_allows_the_safe_forms() -> None:
    safe = (
        "def f():\n    time.sleep(1)\n\nproc.cpu_percent(interval=None)\nlogger.add(sink, enqueue=False)\n"
        "async def g():\n    def work():\n        time.sleep(1)\n    await asyncio.to_thread(work)\n"
    )
    assert list(violations(safe)) == []
