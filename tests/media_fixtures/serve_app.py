"""A uvicorn factory for live-server tests: the real app, with the call registry and routes wired in if app.py does
not do it (yet). `python -m uvicorn tests.media_fixtures.serve_app:create_wired_app --factory --port N`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from web.app import create_app
from web.media.rtc.registry import CallRegistry
from web.routes import realtime


def create_wired_app() -> Starlette:
    app = create_app()
    if getattr(app.state, "calls", None) is None:
        registry = CallRegistry(app.state.settings)
        app.state.calls = registry
        app.state.session_store.add_revocation_listener(registry.close_for_sessions)
        inner = app.router.lifespan_context

        @asynccontextmanager
        async def lifespan(application: Starlette) -> AsyncIterator[None]:
            async with inner(application):
                await registry.start()
                try:
                    yield
                finally:
                    await registry.close_all()

        app.router.lifespan_context = lifespan
    if not any(getattr(route, "path", None) == "/v1/realtime/calls" for route in app.router.routes):
        app.router.routes[0:0] = realtime.routes
    return app
