"""The per-process connection cap (`--limit-concurrency`), against a real uvicorn with a small cap: requests that
arrive while the process holds the cap's worth of connections get a clean 503 with a message and a retry hint, a
sign-in admitted before the overload finishes normally, and /health answers again once the connections go."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlencode

import httpx
import pytest

from tests.support.auth import DEMO_EMAIL, DEMO_PASSWORD, csrf_token
from tests.support.live_server import LiveServerFactory, live_server_factory  # noqa: F401  (fixture)
from web.server_protocol import HTTP_PROTOCOL

CAP = 6
BURST = 20


async def _open_idle(port: int) -> asyncio.StreamWriter:
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    return writer


@pytest.mark.slow
@pytest.mark.timeout(60)
async def test_beyond_the_cap_requests_get_503_while_admitted_work_finishes(
        live_server_factory: LiveServerFactory) -> None:  # noqa: F811
    server = live_server_factory(uvicorn_args=("--http", HTTP_PROTOCOL, "--limit-concurrency", str(CAP),
                                               "--lifespan", "on", "--no-access-log"))
    async with httpx.AsyncClient(base_url=server.base_url, timeout=5) as browser:
        token = await csrf_token(browser)
        cookies = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    body = urlencode({"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "csrf_token": token, "next": "/"}).encode()
    started = time.monotonic()
    # A sign-in admitted before the overload: its headers are in, half of its body is still to come.
    reader, signing_in = await asyncio.open_connection("127.0.0.1", server.port)
    head = (f"POST /login HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nOrigin: {server.base_url}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nCookie: {cookies}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    signing_in.write(head.encode() + body[:10])
    await signing_in.drain()
    idle = [await _open_idle(server.port) for _ in range(CAP)]  # the process now holds more than its cap
    try:
        await asyncio.sleep(0.3)

        async def one_more() -> httpx.Response:
            async with httpx.AsyncClient(timeout=5) as client:  # a new connection each
                return await client.get(server.url("/health"))

        refused = await asyncio.gather(*(one_more() for _ in range(BURST)))
        assert [r.status_code for r in refused] == [503] * BURST
        assert "服务器繁忙" in refused[0].text and "Try again" in refused[0].text
        assert refused[0].headers["Retry-After"] == "5" and refused[0].headers["Connection"] == "close"
        signing_in.write(body[10:])  # the admitted sign-in goes on and completes as usual
        await signing_in.drain()
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert answer.startswith(b"HTTP/1.1 303"), answer
        assert b"location: /" in answer.lower()
    finally:
        for writer in (signing_in, *idle):
            writer.close()
    deadline = time.monotonic() + 5
    async with httpx.AsyncClient(timeout=2) as client:
        while (status := (await client.get(server.url("/health"))).status_code) != 200:
            assert time.monotonic() < deadline, status
            await asyncio.sleep(0.1)
    assert time.monotonic() - started < 9  # all of it before the idle connections' header deadline (10 s)
    assert "Exceeded concurrency limit" in server.log_text()
