"""A login flood must not slow the rest of the app: argon2 runs off the event loop with bounded concurrency."""

from __future__ import annotations

import asyncio
import re
import statistics
import time

import httpx
import pytest

from tests.support.live_server import LiveServerFactory, live_server_factory  # noqa: F401  (fixture)

# The production parameters (~250 ms per hash on a 2-core machine), not the cheap test ones.
PRODUCTION_HASHING = {"PASSWORD_HASH_TIME_COST": "3", "PASSWORD_HASH_MEMORY_KIB": "65536",
                      "PASSWORD_HASH_PARALLELISM": "4", "LOGIN_MAX_FAILURES_PER_IP": "1000",
                      "LOGIN_MAX_FAILURES_PER_ACCOUNT": "1000"}


async def _wrong_login(base_url: str, i: int) -> int:
    async with httpx.AsyncClient(base_url=base_url, headers={"Origin": base_url}, timeout=30) as client:
        page = await client.get("/login")
        token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
        assert token
        response = await client.post("/login", data={"email": f"user{i}@example.com", "password": "wrong-password",
                                                     "csrf_token": token.group(1)})
        return response.status_code


@pytest.mark.slow
async def test_health_stays_fast_during_a_login_flood(live_server_factory: LiveServerFactory) -> None:  # noqa: F811
    server = live_server_factory(PRODUCTION_HASHING)
    latencies: list[float] = []
    flood_done = asyncio.Event()

    async def poll_health() -> None:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=2) as client:
            while not flood_done.is_set():
                started = time.perf_counter()
                response = await client.get("/health")
                latencies.append(time.perf_counter() - started)
                assert response.json() == {"status": "ok"}
                await asyncio.sleep(0.05)

    poller = asyncio.create_task(poll_health())
    statuses = await asyncio.gather(*(_wrong_login(server.base_url, i) for i in range(20)))
    flood_done.set()
    await poller
    assert set(statuses) <= {401, 503}, statuses  # wrong password, or "busy, retry" when the hash queue is full
    assert len(latencies) >= 10
    p99 = statistics.quantiles(latencies, n=100)[98]
    assert p99 < 0.1, f"/health p99 {p99 * 1000:.0f} ms during the flood"
