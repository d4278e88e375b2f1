"""The app's call registry (app.py wires it), optionally with another upstream session factory for a test."""

from __future__ import annotations

from starlette.applications import Starlette

from web.media.calls import CallRegistry
from web.media.calls.upstream import SessionFactory


async def wire_calls(app: Starlette, session_factory: SessionFactory | None = None) -> CallRegistry:
    registry = app.state.calls
    assert isinstance(registry, CallRegistry)
    if session_factory is not None:
        registry.session_factory = session_factory
    return registry
