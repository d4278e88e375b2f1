"""`POST /v1/realtime/client_secrets`: short-lived ek_ keys, minted with a device token or a session, that start calls
(and nothing else), expire, die with their parent, are rate-limited, stored hashed and never logged."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from loguru import logger
from starlette.applications import Starlette
from websockets.asyncio.client import connect

from tests.conftest import FakeClock, make_client
from tests.media_fixtures.rtc_client import RtcClient
from tests.media_fixtures.wiring import wire_calls
from tests.support.auth import csrf_token, login
from tests.test_tokens import _create
from tests.test_ws_helpers import next_event, serve
from web.auth.client_secrets import hash_secret

URL = "/v1/realtime/client_secrets"


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    lines: list[str] = []
    sink_id = logger.add(lambda m: lines.append(str(m) + repr(m.record["extra"])), level="DEBUG")
    yield lines
    logger.remove(sink_id)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_device_token_mints_a_key_that_starts_a_call(app_factory: Any, log_lines: list[str]) -> None:
    clock = FakeClock()
    app: Starlette = await app_factory(clock=clock)
    registry = await wire_calls(app)
    client = RtcClient()
    async with make_client(app) as web, make_client(app) as device:
        try:
            await login(web)
            token = await _create(web)
            device.cookies.clear()
            minted = await device.post(URL, headers=bearer(token), json={
                "expires_after": {"anchor": "created_at", "seconds": 120},
                "session": {"type": "realtime", "instructions": "Be brief.", "tracing": "auto"}})
            assert minted.status_code == 200, minted.text
            body = minted.json()
            key = body["value"]
            assert key.startswith("ek_") and body["expires_at"] == int(clock.now + 120)
            assert body["session"]["instructions"] == "Be brief." and "tracing" not in body["session"]
            stored = await app.state.services.db.fetchall("SELECT * FROM client_secrets")
            assert len(stored) == 1 and key not in str(stored)  # only its hash is kept
            assert stored[0]["secret_hash"] == hash_secret(key)

            # the key starts a call over WebRTC (no cookie, no CSRF token: a bearer request) …
            offer = await client.offer_sdp()
            started = await device.post("/v1/realtime/calls", content=offer.encode(),
                                        headers={**bearer(key), "Content-Type": "application/sdp"})
            assert started.status_code == 201, started.text
            call = registry.get(started.headers["location"].rsplit("/", 1)[1])
            assert call is not None and call.user_id == 1
            # … bound to the parent: the call is the device token's call, with the minted session applied
            assert call.credential is not None and call.credential.is_token
            assert call.session._client_session.get("instructions") == "Be brief."  # type: ignore[attr-defined]
            # and it is good for nothing else
            assert (await device.get("/api/me", headers=bearer(key))).status_code == 401
            assert (await device.post(URL, headers=bearer(key))).status_code == 401

            # expiry: the key no longer starts calls (the running call is not affected)
            clock.advance(121)
            late = await device.post("/v1/realtime/calls", content=offer.encode(),
                                     headers={**bearer(key), "Content-Type": "application/sdp"})
            assert late.status_code == 401
            assert registry.get(call.id) is not None
        finally:
            await client.close()
            await registry.close_all()
    assert not any(key in line or token in line for line in log_lines)


async def test_revoking_the_parent_token_kills_its_keys(app: Starlette, client: httpx.AsyncClient) -> None:
    await login(client)
    token = await _create(client)
    async with make_client(app) as device:
        device.cookies.clear()
        key = (await device.post(URL, headers=bearer(token))).json()["value"]
        page = await client.get("/account/tokens")
        token_id = re.search(r"/account/tokens/(\d+)/revoke", page.text)
        assert token_id
        form_token = await csrf_token(client, "/account/tokens")
        await client.post(f"/account/tokens/{token_id.group(1)}/revoke", data={"csrf_token": form_token})
        refused = await device.post("/v1/realtime/calls", content=b"v=0\r\n",
                                    headers={**bearer(key), "Content-Type": "application/sdp"})
        assert refused.status_code == 401


async def test_a_signed_in_session_mints_with_csrf_and_sign_out_kills_the_key(app: Starlette,
                                                                              client: httpx.AsyncClient) -> None:
    await login(client)
    assert (await client.post(URL, json={})).status_code == 403  # cookie requests keep the CSRF rules
    token = await csrf_token(client, "/")
    minted = await client.post(URL, headers={"X-CSRF-Token": token})
    assert minted.status_code == 200, minted.text
    key = minted.json()["value"]
    async with make_client(app) as browser:
        browser.cookies.clear()
        ok = await browser.post("/v1/realtime/calls", content=b"v=0\r\n",
                                headers={**bearer(key), "Content-Type": "application/sdp"})
        assert ok.status_code == 400  # authenticated: the offer itself is what is wrong
        await client.post("/logout", headers={"X-CSRF-Token": token})
        gone = await browser.post("/v1/realtime/calls", content=b"v=0\r\n",
                                  headers={**bearer(key), "Content-Type": "application/sdp"})
        assert gone.status_code == 401


@pytest.mark.parametrize("body", [
    {"expires_after": {"anchor": "created_at", "seconds": 7201}},
    {"expires_after": {"anchor": "created_at", "seconds": 5}},
    {"expires_after": {"anchor": "now", "seconds": 60}},
    {"expires_after": {"seconds": "60"}},
    {"session": {"type": "transcription"}},
    {"session": "hi"},
    [1, 2],
])
async def test_bad_requests_say_what_is_wrong(app: Starlette, client: httpx.AsyncClient, body: Any) -> None:
    await login(client)
    token = await _create(client)
    async with make_client(app) as device:
        device.cookies.clear()
        response = await device.post(URL, headers=bearer(token), json=body)
    assert response.status_code == 400
    assert response.json()["error"]["message_en"].startswith("The client secret request is not valid: ")


async def test_minting_is_rate_limited(app: Starlette, client: httpx.AsyncClient) -> None:
    await login(client)
    token = await _create(client)
    async with make_client(app) as device:
        device.cookies.clear()
        statuses = [(await device.post(URL, headers=bearer(token))).status_code for _ in range(31)]
    assert statuses[:30] == [200] * 30 and statuses[30] == 429


async def test_a_signed_in_page_using_its_key_needs_no_csrf_token_on_call_paths_only(client: httpx.AsyncClient) -> None:
    # the Agents SDK on the gateway's own page: fetch sends the session cookie along with the ek_ bearer key
    await login(client)
    token = await csrf_token(client, "/")
    key = (await client.post(URL, headers={"X-CSRF-Token": token})).json()["value"]
    call = await client.post("/v1/realtime/calls", content=b"v=0\r\n",
                             headers={**bearer(key), "Content-Type": "application/sdp"})
    assert call.status_code == 400  # past CSRF and auth: the offer is what is wrong
    other = await client.post("/logout", headers=bearer(key))
    assert other.status_code == 403  # elsewhere the cookie still needs its CSRF token


async def test_a_websocket_call_started_with_the_key_gets_the_minted_session(app_factory: Any) -> None:
    async with serve(await app_factory()) as served:
        token = await served.token()
        async with served.http() as device:
            minted = await device.post(URL, headers=bearer(token), json={
                "session": {"type": "realtime", "instructions": "Be brief."}})
        assert minted.status_code == 200, minted.text
        key = minted.json()["value"]
        protocols: list[Any] = ["realtime", f"openai-insecure-api-key.{key}"]
        async with connect(served.ws_url, subprotocols=protocols) as ws:
            created = await next_event(ws, "session.created")
            assert created["session"]["instructions"] == "Be brief."  # the client's own instructions, as minted
        async with connect(served.ws_url, additional_headers=served.bearer(token)) as ws:  # the parent: no preset
            created = await next_event(ws, "session.created")
            assert created["session"]["instructions"] == ""
