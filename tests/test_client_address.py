"""The throttle's client address comes from the right of X-Forwarded-For, past the trusted proxies only, so a
client cannot choose it by writing its own X-Forwarded-For (it did with FORWARDED_ALLOW_IPS=*)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import AppFactory, make_client
from tests.support.auth import csrf_token
from tests.support.live_server import LiveServerFactory, live_server_factory  # noqa: F401  (fixture)
from web.security.client_address import forwarded_client
from web.settings import Settings

CHEAP_HASHING = {"PASSWORD_HASH_TIME_COST": "1", "PASSWORD_HASH_MEMORY_KIB": "8192", "PASSWORD_HASH_PARALLELISM": "1"}


def _xff(value: str) -> list[tuple[bytes, bytes]]:
    return [(b"x-forwarded-for", value.encode())]


def test_the_client_is_counted_from_the_right() -> None:
    assert forwarded_client(_xff("6.6.6.6, 203.0.113.9"), 1) == "203.0.113.9"
    assert forwarded_client(_xff("6.6.6.6, 203.0.113.9, 10.0.0.2"), 2) == "203.0.113.9"
    assert forwarded_client(_xff("6.6.6.6") + _xff("203.0.113.9"), 1) == "203.0.113.9"  # repeated headers join
    assert forwarded_client(_xff("203.0.113.9"), 2) == "203.0.113.9"  # fewer entries than hops: the leftmost
    assert forwarded_client(_xff("6.6.6.6, not-an-ip"), 1) is None
    assert forwarded_client(_xff("6.6.6.6, 203.0.113.9"), 0) is None and forwarded_client([], 1) is None


def test_a_wildcard_proxy_setting_means_one_hop_unless_told() -> None:
    assert Settings(forwarded_allow_ips="*").proxy_hops == 1
    assert Settings(forwarded_allow_ips="127.0.0.1").proxy_hops == 0
    assert Settings(forwarded_allow_ips="*", forwarded_proxy_hops=2).proxy_hops == 2


async def _failed_logins(client: httpx.AsyncClient, count: int, forwarded: list[str]) -> list[int]:
    statuses = []
    for i in range(count):
        token = await csrf_token(client)
        response = await client.post("/login", headers={"X-Forwarded-For": forwarded[i % len(forwarded)]},
                                     data={"email": f"user{i}@example.com", "password": "wrong-password-1",
                                           "csrf_token": token})
        statuses.append(response.status_code)
    return statuses


async def test_a_spoofed_leftmost_entry_does_not_escape_the_ip_throttle(app_factory: AppFactory) -> None:
    app = await app_factory(forwarded_proxy_hops=1, login_max_failures_per_ip=30)
    async with make_client(app) as client:
        spoofed = [f"198.51.100.{i}, 203.0.113.9" for i in range(40)]  # the client writes the left, the proxy the right
        statuses = await _failed_logins(client, 40, spoofed)
        assert statuses[:30] == [401] * 30 and set(statuses[30:]) == {429}, statuses
        other = await _failed_logins(client, 1, ["203.0.113.10"])  # another real client is not throttled with it
        assert other == [401]


@pytest.mark.slow
def test_behind_a_wildcard_proxy_setting_real_uvicorn_still_throttles_the_real_address(
        live_server_factory: LiveServerFactory) -> None:  # noqa: F811
    server = live_server_factory({**CHEAP_HASHING, "FORWARDED_ALLOW_IPS": "*", "LOGIN_MAX_FAILURES_PER_IP": "30"})
    statuses = []
    with httpx.Client(base_url=server.base_url, headers={"Origin": server.base_url}, timeout=10) as client:
        for i in range(40):
            page = client.get("/login")
            token = page.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
            response = client.post("/login", headers={"X-Forwarded-For": f"198.51.100.{i}, 203.0.113.9"},
                                   data={"email": f"user{i}@example.com", "password": "wrong-password-1",
                                         "csrf_token": token})
            statuses.append(response.status_code)
    assert statuses.count(429) == 10, statuses
    assert 'ip="203.0.113.9"' in server.log_text() and 'ip="198.51.100.' not in server.log_text()
