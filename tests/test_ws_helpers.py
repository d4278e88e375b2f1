"""Shared pieces for the WebSocket transport tests (no tests here): the real app served by uvicorn in this process
(WebSockets need a real server; the registry stays inspectable), sign-in over that server, device tokens, a log tap,
and the app in a child process for the browser runs (tests/browser/test_voice_fallback.py).

    async with serve(await app_factory()) as served:
        async with websockets.connect(served.ws_url, additional_headers=served.bearer(token)) as ws: ...
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from loguru import logger
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection

from tests.media_fixtures.wiring import wire_calls
from tests.support import free_port
from tests.support.auth import DEMO_EMAIL, login
from tests.support.live_server import child_environment
from web.media.calls import CallRegistry

WS_MAX_SIZE = 16 * 1024 * 1024  # as web/cli.py serves the app
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Served:
    app: Starlette
    registry: CallRegistry
    port: int

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    def http(self, **kwargs: Any) -> httpx.AsyncClient:
        headers = {"Origin": self.http_url, **kwargs.pop("headers", {})}
        return httpx.AsyncClient(base_url=self.http_url, headers=headers, follow_redirects=False, **kwargs)

    async def signed_in(self) -> httpx.AsyncClient:
        client = self.http()
        response = await login(client)
        assert response.status_code in (200, 303), response.text[:300]
        return client

    async def token(self, name: str = "glasses", days: int | None = None) -> str:
        svc = self.app.state.services
        user = await svc.users.get_by_email(DEMO_EMAIL)
        secret, _record = await svc.tokens.create(user.id, name, expires_in_days=days)
        return str(secret)

    def bearer(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


def cookie_headers(client: httpx.AsyncClient, origin: str | None) -> dict[str, str]:
    headers = {"Cookie": "; ".join(f"{name}={value}" for name, value in client.cookies.items())}
    if origin is not None:
        headers["Origin"] = origin
    return headers


@asynccontextmanager
async def serve(app: Starlette) -> AsyncIterator[Served]:
    """Serve `app` (already under its lifespan) on a loopback port, with the call registry wired in."""
    registry = await wire_calls(app)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False, ws_max_size=WS_MAX_SIZE,
                            timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for this
                await asyncio.sleep(0.01)
        yield Served(app, registry, port)
    finally:
        await registry.close_all()
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


async def next_event(ws: ClientConnection, kind: str | None = None, timeout: float = 5.0) -> dict[str, Any]:
    """The next event (of `kind`, skipping others); TimeoutError if none comes."""
    async with asyncio.timeout(timeout):
        while True:
            event: dict[str, Any] = json.loads(await ws.recv())
            if kind is None or event.get("type") == kind:
                return event


async def events_until(ws: ClientConnection, kind: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            event = json.loads(await ws.recv())
            events.append(event)
            if event.get("type") == kind:
                return events


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll a condition that has no event to await (registry counters)."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - registry counters have no event
            await asyncio.sleep(0.01)


# --- the app in a child process (browser runs) -------------------------------------------------------------------
def spawn_app(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    (workdir / "data").mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "uvicorn", "web.app:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    env = child_environment(workdir / "data", {"RTC_HOST_ADDRESSES": "127.0.0.1", "REALTIME_UPSTREAM": "echo"})
    with open(workdir / "server.log", "wb") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(argv, cwd=str(ROOT), stdout=log, stderr=subprocess.STDOUT, env=env,
                                   stdin=subprocess.DEVNULL)
    return process, f"http://127.0.0.1:{port}"


async def start_app(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    process, url = spawn_app(workdir)
    async with httpx.AsyncClient(timeout=2) as client:
        for _ in range(400):
            if process.poll() is not None:
                raise RuntimeError("the app exited: " + (workdir / "server.log").read_text(errors="replace")[-2000:])
            try:
                if (await client.get(url + "/health")).status_code == 200:
                    return process, url
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("the app did not answer /health")


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Every log line (message and its bound fields) written while the test runs."""
    lines: list[str] = []
    sink_id = logger.add(lambda m: lines.append(str(m) + repr(m.record["extra"])), level="DEBUG")
    yield lines
    logger.remove(sink_id)
