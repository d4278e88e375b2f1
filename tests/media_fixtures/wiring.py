"""Put the call registry and routes into an app built by `create_app` (a no-op once app.py wires them itself)."""

from __future__ import annotations

from starlette.applications import Starlette

from web.media.rtc.registry import CallRegistry
from web.media.rtc.upstream import SessionFactory
from web.routes import realtime


async def wire_calls(app: Starlette, session_factory: SessionFactory | None = None) -> CallRegistry:
    registry = getattr(app.state, "calls", None)
    if registry is None:
        registry = CallRegistry(app.state.settings)
        app.state.calls = registry
        app.state.session_store.add_revocation_listener(registry.close_for_sessions)
        await registry.start()
    if session_factory is not None:
        registry.session_factory = session_factory
    if not any(getattr(route, "path", None) == "/v1/realtime/calls" for route in app.router.routes):
        app.router.routes[0:0] = realtime.routes
    assert isinstance(registry, CallRegistry)
    return registry
