"""pytest fixtures for call tests, loaded with `pytest_plugins = ("tests.media_fixtures.fixtures",)`.

- `registry`: the app's call registry (wired by `wire_calls` if app.py does not yet), all calls closed at teardown.
- `signed_in`: an httpx client signed in as the demo user, and the page's CSRF token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette

from tests.media_fixtures.helpers import SignedIn, sign_in
from tests.media_fixtures.wiring import wire_calls
from web.media.calls import CallRegistry


@pytest.fixture
async def registry(app: Starlette) -> AsyncIterator[CallRegistry]:
    registry = await wire_calls(app)
    yield registry
    await registry.close_all()


@pytest.fixture
async def signed_in(app: Starlette, registry: CallRegistry) -> AsyncIterator[SignedIn]:
    http, token = await sign_in(app)
    try:
        yield http, token
    finally:
        await http.aclose()
