"""Deadlines on slow clients, against the real server: connections that never finish their headers get 408 and are
closed after ~10 s, a body trickling in at one byte a second is cut at ~10 s with 408, /health stays reachable
meanwhile; and every uvicorn command line (Procfile, Dockerfile, `python -m web serve`) sets the same deadlines."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.support.live_server import LiveServerFactory, live_server_factory  # noqa: F401  (fixture)
from web.server_protocol import HEADER_TIMEOUT_S, HTTP_PROTOCOL, LIMIT_CONCURRENCY, TIMEOUT_KEEP_ALIVE_S

SLOWLORIS = 100


async def _half_headers(port: int) -> tuple[float, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 20)  # until the server closes
    writer.close()
    return time.monotonic() - started, data


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_connections_that_never_finish_their_headers_are_closed_with_408(
        live_server_factory: LiveServerFactory) -> None:  # noqa: F811
    server = live_server_factory()
    tasks = [asyncio.create_task(_half_headers(server.port)) for _ in range(SLOWLORIS)]
    await asyncio.sleep(1)
    async with httpx.AsyncClient(timeout=5) as client:
        assert (await client.get(server.url("/health"))).status_code == 200  # the process still serves others
    results = await asyncio.gather(*tasks)
    durations = [d for d, _ in results]
    assert all(data.startswith(b"HTTP/1.1 408") for _, data in results), results[0]
    assert min(durations) >= HEADER_TIMEOUT_S - 1 and max(durations) < HEADER_TIMEOUT_S + 8, durations


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_a_body_sent_at_one_byte_a_second_is_cut_at_about_ten_seconds(
        live_server_factory: LiveServerFactory) -> None:  # noqa: F811
    server = live_server_factory()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"POST /login HTTP/1.1\r\nHost: localhost\r\nOrigin: http://localhost\r\n"
                 b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n")
    started = time.monotonic()
    response = b""
    for _ in range(30):  # at most 30 bytes, one a second
        try:
            writer.write(b"a")
            await writer.drain()
        except ConnectionError:
            break
        try:
            response += await asyncio.wait_for(reader.read(4096), 1.0)
        except TimeoutError:
            continue
        if response:
            break
    elapsed = time.monotonic() - started
    writer.close()
    assert response.startswith(b"HTTP/1.1 408"), response[:200]
    assert elapsed < 16, elapsed


def test_every_command_line_sets_the_same_deadlines_and_cap() -> None:
    # The Procfile, the Dockerfile and scripts/run.sh all run `python -m web serve` (tests/test_deploy_files.py),
    # which builds its uvicorn configuration in one place.
    from web.serve import uvicorn_config
    from web.settings import load_settings

    config = uvicorn_config(load_settings({}, env_file=None), "127.0.0.1", 3000, 2)
    assert config.http == HTTP_PROTOCOL
    assert config.limit_concurrency == LIMIT_CONCURRENCY
    assert config.timeout_keep_alive == TIMEOUT_KEEP_ALIVE_S
