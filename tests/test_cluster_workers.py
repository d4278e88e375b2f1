"""Two worker processes on one port (`WEB_CONCURRENCY=2`, PostgreSQL) behave as one server.

The kernel hands each new connection to either worker, and every response names the worker that answered
(`X-Gateway-Node`); a call's id names its owner. The tests open calls until the workers hold what they need (bounded
attempts) and then check that hang-up, the per-user limit and revocation reach the owner whichever worker received
the request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.media_fixtures.rtc_client import RtcClient
from tests.support.auth import login, page_token
from tests.support.cluster import directory_rows, fresh_connections, fresh_database, node_of, owner_of
from tests.support.live_server import LiveServer, run_live_server

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
ATTEMPTS = 16


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import os

    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set")
    with fresh_database(url) as db:
        yield db


@pytest.fixture(scope="module")
def server(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {"DATABASE_URL": database, "WEB_CONCURRENCY": "2", "MAX_CALLS_PER_USER": "2"}
    with run_live_server(Path(tmp_path_factory.mktemp("workers")), env) as live:
        yield live


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async with httpx.AsyncClient(base_url=server.base_url, limits=fresh_connections(), timeout=10,
                                 headers={"Origin": server.base_url}) as client:
        assert (await login(client)).status_code in (200, 303)
        yield client, await page_token(client)


async def _both_workers(server: LiveServer) -> set[str]:
    seen: set[str] = set()
    async with httpx.AsyncClient(base_url=server.base_url, limits=fresh_connections(), timeout=5) as client:
        for _ in range(200):
            seen.add(node_of(await client.get("/health")))
            if len(seen) == 2:
                return seen
            await asyncio.sleep(0.02)
    raise AssertionError(f"only one worker answered 200 connections: {seen}")


async def _open(http: httpx.AsyncClient, token: str) -> tuple[RtcClient, httpx.Response]:
    client = RtcClient()
    response = await client.call(http, token)
    assert response.status_code == 201, response.text
    await client.wait_connected()
    return client, response


async def _hang_up(http: httpx.AsyncClient, token: str, client: RtcClient) -> httpx.Response:
    assert client.location is not None
    response = await http.delete(client.location, headers={"X-CSRF-Token": token})
    await client.close()
    return response


async def _one_call_per_worker(http: httpx.AsyncClient, token: str) -> dict[str, RtcClient]:
    calls: dict[str, RtcClient] = {}
    for _ in range(ATTEMPTS):
        client, response = await _open(http, token)
        owner = owner_of(client.location or "")
        assert owner == node_of(response)  # the worker that admitted the call owns it
        if owner in calls:
            assert (await _hang_up(http, token, client)).status_code == 204
            continue
        calls[owner] = client
        if len(calls) == 2:
            return calls
    raise AssertionError(f"every call landed on one worker in {ATTEMPTS} attempts")


async def test_both_workers_serve_and_publish_their_leases(server: LiveServer, database: str) -> None:
    workers = await _both_workers(server)
    rows = directory_rows(database, "SELECT tag FROM gw_nodes WHERE lease_until > now()")
    assert {str(row[0]) for row in rows} == workers


async def test_hang_up_through_the_other_worker_ends_the_call_at_its_owner(
        http: tuple[httpx.AsyncClient, str], database: str) -> None:
    client_http, token = http
    crossed = 0
    for _ in range(ATTEMPTS):
        client, _response = await _open(client_http, token)
        owner = owner_of(client.location or "")
        started = time.monotonic()
        hang_up = await _hang_up(client_http, token, client)
        took = time.monotonic() - started
        assert hang_up.status_code == 204, hang_up.text
        assert took < 1.0, took  # 204 comes once the owner has closed the call
        again = await client_http.delete(client.location or "", headers={"X-CSRF-Token": token})
        assert again.status_code == 404 and again.json()["error"]["code"] == "call_not_found"
        if node_of(hang_up) != owner:
            crossed += 1
            if crossed == 2:
                break
    assert crossed >= 1, "no hang-up reached the other worker"
    await asyncio.sleep(0.3)  # the owner removes the call from the directory in the background
    assert directory_rows(database, "SELECT call_id FROM gw_calls") == []


async def test_the_per_user_limit_counts_the_calls_of_both_workers(http: tuple[httpx.AsyncClient, str]) -> None:
    client_http, token = http
    calls = await _one_call_per_worker(client_http, token)  # the user's two calls, one on each worker
    try:
        refused_by: set[str] = set()
        for _ in range(6):
            third = RtcClient()
            response = await third.call(client_http, token)
            await third.close()
            assert response.status_code == 429, response.text  # each worker holds one call: the cluster counts two
            assert response.json()["error"]["code"] == "too_many_calls"
            refused_by.add(node_of(response))
        assert refused_by  # at least one worker refused; usually both
    finally:
        for client in calls.values():
            await _hang_up(client_http, token, client)
    # and the limit frees up at once
    client, _response = await _open(client_http, token)
    assert (await _hang_up(client_http, token, client)).status_code == 204


async def test_sign_out_ends_the_sessions_calls_on_every_worker_within_1s(
        http: tuple[httpx.AsyncClient, str]) -> None:
    client_http, token = http
    calls = await _one_call_per_worker(client_http, token)
    try:
        started = time.monotonic()
        response = await client_http.post("/logout", data={"csrf_token": token}, headers={"X-CSRF-Token": token})
        assert response.status_code in (200, 303)
        for client in calls.values():
            notice = await client.wait_event("error", timeout=2.0,
                                             match=lambda e: e["error"]["code"] == "session_revoked")
            assert notice["error"]["message"] == "认证失败，请重新登录"
        assert time.monotonic() - started < 1.0
    finally:
        for client in calls.values():
            await client.close()


async def test_a_photo_reaches_the_call_through_either_worker(http: tuple[httpx.AsyncClient, str]) -> None:
    from tests.support.images import jpeg

    client_http, token = http
    client, _response = await _open(client_http, token)
    owner = owner_of(client.location or "")
    try:
        served_by: set[str] = set()
        for attempt in range(ATTEMPTS):
            if attempt:
                await asyncio.sleep(1.05)  # one photo per second per call
            photo = await client_http.post(f"{client.location}/images", content=jpeg(640, 480),
                                           headers={"Content-Type": "image/jpeg", "X-CSRF-Token": token})
            assert photo.status_code == 201, photo.text
            assert photo.json()["image"]["width"] == 640
            served_by.add(node_of(photo))
            if len(served_by) == 2:
                break
        assert served_by - {owner}, "no photo was received by the worker that does not own the call"
        missing = await client_http.post(f"/v1/realtime/calls/rtc_{owner}_{'0' * 24}/images", content=jpeg(64, 64),
                                         headers={"Content-Type": "image/jpeg", "X-CSRF-Token": token})
        assert missing.status_code == 404
    finally:
        await _hang_up(client_http, token, client)


async def test_the_console_lists_the_calls_of_both_workers_and_ends_them_through_either(
        server: LiveServer, database: str, http: tuple[httpx.AsyncClient, str], tmp_path: Path) -> None:
    import re
    import sys

    from tests.support.live_server import child_environment

    email, password = "root-admin@example.com", "Root-admin-pass-2026!"
    created = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "web", "users", "add", email, "--password", password, "--admin", cwd=tmp_path,
        env=child_environment(tmp_path, {"DATABASE_URL": database}), stderr=asyncio.subprocess.PIPE)
    _out, err = await asyncio.wait_for(created.communicate(), 30)
    assert created.returncode == 0, err
    client_http, token = http
    calls = await _one_call_per_worker(client_http, token)
    async with httpx.AsyncClient(base_url=server.base_url, limits=fresh_connections(), timeout=10,
                                 headers={"Origin": server.base_url}) as admin:
        await login(admin, email, password)
        admin_token = await page_token(admin, "/admin/calls")
        try:
            for _ in range(4):  # whichever worker renders the page lists both calls
                page = (await admin.get("/admin/calls")).text
                listed = set(re.findall(r'data-call-id="([^"]+)"', page))
                assert {c.location.rsplit("/", 1)[-1] for c in calls.values() if c.location} <= listed
            for client in calls.values():
                call_id = (client.location or "").rsplit("/", 1)[-1]
                ended = await admin.post(f"/admin/calls/{call_id}/end", data={"csrf_token": admin_token})
                assert ended.status_code == 303
                await client.wait_event("error", timeout=3, match=lambda e: e["error"]["code"] == "admin_ended")
        finally:
            for client in calls.values():
                await client.close()


async def test_a_client_secret_minted_by_one_worker_starts_calls_on_the_other_and_the_mint_limit_is_shared(
        server: LiveServer, http: tuple[httpx.AsyncClient, str]) -> None:
    from web.auth.client_secrets import MINTS_PER_MINUTE

    client_http, token = http
    minted, keys = 0, {}  # worker → an ek_ key it minted
    for _ in range(ATTEMPTS):
        response = await client_http.post("/v1/realtime/client_secrets", json={}, headers={"X-CSRF-Token": token})
        assert response.status_code == 200, response.text
        minted += 1
        keys.setdefault(node_of(response), response.json()["value"])
        if len(keys) == 2:
            break
    minter, key = next(iter(keys.items()))
    started_on: set[str] = set()
    async with httpx.AsyncClient(base_url=server.base_url, limits=fresh_connections(), timeout=10) as app:
        for _ in range(ATTEMPTS):  # a bearer request with the key alone: no cookie, no CSRF token
            client = RtcClient()
            started = await app.post("/v1/realtime/calls", content=(await client.offer_sdp()).encode(),
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/sdp"})
            await client.close()
            assert started.status_code == 201, started.text
            ended = await client_http.delete(started.headers["location"], headers={"X-CSRF-Token": token})
            assert ended.status_code == 204  # the key's calls are its parent session's calls
            started_on.add(node_of(started))
            if started_on - {minter}:
                break
    assert started_on - {minter}, "no call with the key reached the worker that did not mint it"
    while True:  # the per-user minting rate counts the keys of both workers
        response = await client_http.post("/v1/realtime/client_secrets", json={}, headers={"X-CSRF-Token": token})
        if response.status_code == 429:
            break
        assert response.status_code == 200 and minted < MINTS_PER_MINUTE, (response.status_code, minted)
        minted += 1
    assert minted == MINTS_PER_MINUTE
