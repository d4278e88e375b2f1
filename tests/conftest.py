"""Shared fixtures: a test Settings, the real app under its lifespan, and an httpx client over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette

from web.app import create_app
from web.settings import Settings

pytest_plugins = ["tests.support.postgres"]

DEMO_EMAIL = "betty@123.com"
DEMO_PASSWORD = "Betty@123.com"
BASE_URL = "http://testserver"


class FakeClock:
    """An injectable wall clock for timeout tests."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "app_env": "test",
        "data_dir": tmp_path,
        "secret_key": "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        # Cheap hashing keeps the suite fast; a dedicated test checks the production parameters.
        "password_hash_time_cost": 1,
        "password_hash_memory_kib": 8192,
        "password_hash_parallelism": 1,
        "realtime_upstream": "echo",
        "rtc_host_addresses": ("127.0.0.1",),
        # In-process tests share pytest's event loop; the watchdog's own tests run it in subprocesses.
        "watchdog_timeout_s": 0.0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


AppFactory = Callable[..., Any]


@pytest.fixture
async def app_factory(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Build apps with other settings; each runs under its lifespan until the test ends."""
    managers: list[LifespanManager] = []

    async def build(clock: Callable[[], float] | None = None, **overrides: Any) -> Starlette:
        app = create_app(make_settings(tmp_path, **overrides), **({"clock": clock} if clock else {}))
        manager = LifespanManager(app, startup_timeout=30, shutdown_timeout=30)
        await manager.__aenter__()
        managers.append(manager)
        return app

    yield build
    for manager in reversed(managers):
        await manager.__aexit__(None, None, None)


@pytest.fixture
async def app(app_factory: Callable[..., Any]) -> Starlette:
    built: Starlette = await app_factory()
    return built


def make_client(app: Starlette, base_url: str = BASE_URL, **kwargs: Any) -> httpx.AsyncClient:
    headers = {"Origin": base_url, **kwargs.pop("headers", {})}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url, headers=headers,
                             follow_redirects=False, **kwargs)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app) as c:
        yield c
