"""A login flood must not slow the rest of the app: argon2 runs off the event loop with bounded concurrency."""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import sys
import time

import httpx
import pytest

from bench.login_flood import seed_accounts
from tests.support.live_server import LiveServerFactory, live_server_factory  # noqa: F401  (fixture)

# The production parameters (~250 ms per hash on a 2-core machine), not the cheap test ones.
PRODUCTION_HASHING = {"PASSWORD_HASH_TIME_COST": "3", "PASSWORD_HASH_MEMORY_KIB": "65536",
                      "PASSWORD_HASH_PARALLELISM": "4", "LOGIN_MAX_FAILURES_PER_IP": "1000",
                      "LOGIN_MAX_FAILURES_PER_ACCOUNT": "1000",
                      # each request from its own address (via a trusted proxy), so the per-address share of the
                      # hash queue does not refuse them before they load the hasher
                      "FORWARDED_PROXY_HOPS": "1"}


async def _wrong_login(base_url: str, i: int) -> int:
    async with httpx.AsyncClient(base_url=base_url, headers={"Origin": base_url}, timeout=30) as client:
        page = await client.get("/login")
        token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
        assert token
        response = await client.post("/login", headers={"X-Forwarded-For": f"198.51.100.{i + 1}"},
                                     data={"email": f"user{i}@example.com", "password": "wrong-password",
                                                     "csrf_token": token.group(1)})
        return response.status_code


# The probe runs in its own process, like a platform's health check: in the test's own event loop it would also
# measure the test's client work (creating 20 TLS-capable httpx clients blocks a loop for a second on its own).
_PROBE = """
import json, sys, time, httpx
url, seconds = sys.argv[1], float(sys.argv[2])
latencies = []
with httpx.Client(timeout=2) as client:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        assert client.get(url).json() == {"status": "ok"}
        latencies.append(time.perf_counter() - started)
        time.sleep(0.05)
print(json.dumps(latencies))
"""


@pytest.mark.slow
async def test_health_stays_fast_during_a_login_flood(live_server_factory: LiveServerFactory) -> None:  # noqa: F811
    server = live_server_factory(PRODUCTION_HASHING)
    seed_accounts(server.data_dir, 20, prefix="user")  # a name without an account would cost no hash
    probe = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _PROBE, server.url("/health"), "4", stdout=asyncio.subprocess.PIPE)
    started = time.monotonic()
    statuses = await asyncio.gather(*(_wrong_login(server.base_url, i) for i in range(20)))
    flood_s = time.monotonic() - started
    out, _err = await probe.communicate()
    latencies = json.loads(out)
    assert set(statuses) <= {401, 503}, statuses  # wrong password, or "busy, retry" when the hash queue is full
    assert flood_s > 2, "the flood finished too early to overlap the probe"
    assert len(latencies) >= 20
    # Hashing on the event loop would hold every probe for ~250 ms (one hash at a time): the median catches that
    # whatever else the machine is doing; the tail bound leaves room for a noisy 2-core machine.
    cuts = statistics.quantiles(latencies, n=100)
    median, p95 = statistics.median(latencies), cuts[94]
    assert median < 0.05 and p95 < 0.25, f"/health median {median * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"
