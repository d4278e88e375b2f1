"""Who may open `/v1/realtime`, and how calls end: refusals at the handshake (never accept-then-close), device tokens
over both transports (create → use → revoke → the live calls end within 1 s, the next handshake gets 401), expiry,
sign-out, the shared admission limits and shutdown. A token never appears in any log line."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import connect

from tests.conftest import AppFactory, FakeClock
from tests.media_fixtures.rtc_client import RtcClient
from tests.support.auth import csrf_token
from tests.test_ws_helpers import cookie_headers, log_lines, next_event, serve, wait_for
from web.media.ws import call as ws_call

__all__ = ["log_lines"]  # fixture


async def refused(url: str, **kwargs: Any) -> int:
    with pytest.raises(websockets.InvalidStatus) as caught:
        async with connect(url, **kwargs):
            pass
    return int(caught.value.response.status_code)


async def test_unauthenticated_upgrade_is_401_before_anything_is_allocated(app_factory: AppFactory) -> None:
    async with serve(await app_factory()) as served:
        assert await refused(served.ws_url) == 401
        assert await refused(served.ws_url, additional_headers=served.bearer("sgv_not-a-token")) == 401
        assert served.registry.stats()["reserved"] == 0 and served.registry.stats()["active"] == 0
        async with httpx.AsyncClient() as plain:  # no upgrade at all: told how to connect
            response = await plain.get(served.http_url + "/v1/realtime")
        assert response.status_code == 426 and response.json()["error"]["code"] == "upgrade_required"


async def test_bad_tokens_count_toward_the_ip_throttle(app_factory: AppFactory) -> None:
    async with serve(await app_factory(login_max_failures_per_ip=3)) as served:
        for i in range(3):
            assert await refused(served.ws_url, additional_headers=served.bearer(f"sgv_guess{i}")) == 401
        assert await refused(served.ws_url, additional_headers=served.bearer("sgv_guess9")) == 429
        token = await served.token()  # even a good token waits out the throttle window
        assert await refused(served.ws_url, subprotocols=["realtime", f"openai-insecure-api-key.{token}"]) == 429


async def test_cookie_upgrades_must_come_from_our_origin(app_factory: AppFactory) -> None:
    async with serve(await app_factory()) as served:
        http = await served.signed_in()
        try:
            assert await refused(served.ws_url, additional_headers=cookie_headers(http, "http://evil.example")) == 403
            assert await refused(served.ws_url, additional_headers=cookie_headers(http, None)) == 403
            async with connect(served.ws_url, additional_headers=cookie_headers(http, served.http_url)) as ws:
                assert (await next_event(ws))["type"] == "session.created"
        finally:
            await http.aclose()


async def test_browser_subprotocol_key_is_a_bearer_token_and_never_echoed(app_factory: AppFactory) -> None:
    async with serve(await app_factory()) as served:
        token = await served.token()
        protocols: Any = ["realtime", f"openai-insecure-api-key.{token}"]
        async with connect(served.ws_url + "?model=gpt-realtime", subprotocols=protocols) as ws:
            assert ws.subprotocol == "realtime" and ws.response is not None
            assert token not in str(ws.response.headers)
            assert (await next_event(ws))["type"] == "session.created"
        assert await refused(served.ws_url, subprotocols=["realtime", "openai-insecure-api-key.sgv_wrong"]) == 401
        # subprotocols without `realtime`: nothing could be answered without echoing the key
        assert await refused(served.ws_url, subprotocols=[f"openai-insecure-api-key.{token}"]) == 400


@pytest.mark.parametrize(("suffix", "extra", "status"), [
    ("?model=gpt-realtime%3Cscript%3E", {}, 400),
    ("?model=a&model=b", {}, 400),
    ("", {"OpenAI-Beta": "realtime=v1"}, 400),
    ("?model=gpt-4o-realtime-preview-2024-12-17", {}, 101),  # any well-formed name: the operator picks the model
])
async def test_handshake_checks(app_factory: AppFactory, suffix: str, extra: dict[str, str], status: int) -> None:
    async with serve(await app_factory()) as served:
        headers = {**served.bearer(await served.token()), **extra}
        if status != 101:
            assert await refused(served.ws_url + suffix, additional_headers=headers) == status
            return
        async with connect(served.ws_url + suffix, additional_headers=headers) as ws:
            created = await next_event(ws)
            assert created["session"]["model"] == "echo"


async def create_token_on_the_page(http: httpx.AsyncClient) -> tuple[str, int]:
    form = await csrf_token(http, "/account/tokens")
    page = await http.post("/account/tokens", data={"csrf_token": form, "name": "glasses", "expires_in_days": ""})
    secret = re.search(r'data-testid="new-token">([^<]+)<', page.text)
    token_id = re.search(r"/account/tokens/(\d+)/revoke", page.text)
    assert secret and token_id, page.text[:500]
    return secret.group(1), int(token_id.group(1))


async def test_token_lifecycle_over_both_transports(app_factory: AppFactory, log_lines: list[str],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)  # the app's level; DEBUG handshake lines: see test_ws_logging.py
    async with serve(await app_factory()) as served:
        http = await served.signed_in()
        secret, token_id = await create_token_on_the_page(http)
        device = served.http(headers=served.bearer(secret))
        rtc = RtcClient()
        try:
            async with connect(served.ws_url, additional_headers=served.bearer(secret)) as ws:
                assert (await next_event(ws))["type"] == "session.created"
                assert (await rtc.call(device, "")).status_code == 201
                await rtc.wait_connected()
                assert served.registry.stats()["by_transport"] == {"webrtc": 1, "websocket": 1}

                form = await csrf_token(http, "/account/tokens")
                revoked_at = time.monotonic()
                await http.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": form})
                notice = await next_event(ws, "error", timeout=1.0)
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 1.0)
                ws_ended = time.monotonic() - revoked_at
                await rtc.wait_ended(timeout=1.0)
                rtc_ended = time.monotonic() - revoked_at
            assert notice["error"]["code"] == "session_revoked" and notice["error"]["message"].startswith("认证失败")
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
            assert ws_ended < 1.0 and rtc_ended < 1.0, (ws_ended, rtc_ended)
            await wait_for(lambda: served.registry.stats()["reserved"] == 0)

            assert await refused(served.ws_url, additional_headers=served.bearer(secret)) == 401
            device.cookies.clear()  # (a cookie, even the CSRF seed, would make the POST need a CSRF token)
            assert (await RtcClient().call(device, "", sdp="v=0\r\n")).status_code == 401
        finally:
            await rtc.close()
            await device.aclose()
            await http.aclose()
    assert not any(secret in line for line in log_lines)
    leaked = {(r.name, r.getMessage()[:300]) for r in caplog.records if secret in r.getMessage()}
    assert not leaked, leaked


async def test_expired_tokens_are_refused_and_end_live_calls(app_factory: AppFactory,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ws_call, "CREDENTIAL_CHECK_S", 0.05)
    clock = FakeClock(time.time())
    async with serve(await app_factory(clock=clock)) as served:
        token = await served.token(days=1)
        async with connect(served.ws_url, additional_headers=served.bearer(token)) as ws:
            assert (await next_event(ws))["type"] == "session.created"
            clock.advance(2 * 86400)  # expires mid-call: the guard notices at its next check
            assert (await next_event(ws, "error", timeout=2))["error"]["code"] == "session_revoked"
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 2)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
        assert await refused(served.ws_url, additional_headers=served.bearer(token)) == 401


async def test_signing_out_ends_the_sessions_websocket_call_within_1s(app_factory: AppFactory) -> None:
    async with serve(await app_factory()) as served:
        http = await served.signed_in()
        try:
            async with connect(served.ws_url, additional_headers=cookie_headers(http, served.http_url)) as ws:
                assert (await next_event(ws))["type"] == "session.created"
                started = time.monotonic()
                await http.post("/logout", data={"csrf_token": await csrf_token(http, "/")})
                assert (await next_event(ws, "error", timeout=1))["error"]["code"] == "session_revoked"
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 1)
                assert time.monotonic() - started < 1.0
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
        finally:
            await http.aclose()


async def test_admission_limits_are_shared_with_webrtc_calls(app_factory: AppFactory) -> None:
    async with serve(await app_factory(max_calls_per_user=2)) as served:
        token = await served.token()
        device = served.http(headers=served.bearer(token))
        rtc = RtcClient()
        try:
            assert (await rtc.call(device, "")).status_code == 201
            async with connect(served.ws_url, additional_headers=served.bearer(token)) as ws:
                assert (await next_event(ws))["type"] == "session.created"
                assert await refused(served.ws_url, additional_headers=served.bearer(token)) == 429
                device.cookies.clear()  # a device sends no cookies (with one, the POST would need a CSRF token)
                assert (await RtcClient().call(device, "", apply_answer=False)).status_code == 429
            await wait_for(lambda: served.registry.stats()["reserved"] == 1)  # the socket's slot came back
            async with connect(served.ws_url, additional_headers=served.bearer(token)) as ws:
                assert (await next_event(ws))["type"] == "session.created"
        finally:
            await rtc.close()
            await device.aclose()


async def test_process_limit_and_shutdown(app_factory: AppFactory) -> None:
    async with serve(await app_factory(max_calls_per_user=5, max_calls_per_process=1)) as served:
        token = await served.token()
        async with connect(served.ws_url, additional_headers=served.bearer(token)) as ws:
            assert (await next_event(ws))["type"] == "session.created"
            assert await refused(served.ws_url, additional_headers=served.bearer(token)) == 503
            await served.registry.close_all()
            notice = await next_event(ws, "error")
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 1)
        assert notice["error"]["code"] == "shutdown" and notice["error"]["message"].startswith("服务器正在重启")
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
        assert await refused(served.ws_url, additional_headers=served.bearer(token)) == 503


@pytest.mark.parametrize(("how", "status"), [("revoke", 401), ("shutdown", 503)])
async def test_a_call_ended_while_its_upstream_connects_is_refused_at_the_handshake(app_factory: AppFactory,
                                                                                    how: str, status: int) -> None:
    from web.media.realtime import create_realtime_session

    entered, gate = asyncio.Event(), asyncio.Event()

    def slow_factory(settings: Any, *, user_id: int, log_context: dict[str, Any]) -> Any:
        session = create_realtime_session(settings, user_id=user_id, log_context=log_context)
        start = session.start

        async def slow_start() -> None:  # an upstream that takes its time to say session.created
            entered.set()
            await gate.wait()
            await start()

        session.start = slow_start  # type: ignore[method-assign]
        return session

    async with serve(await app_factory()) as served:
        served.registry.session_factory = slow_factory
        token = await served.token()
        attempt = asyncio.create_task(refused(served.ws_url, additional_headers=served.bearer(token)))
        await asyncio.wait_for(entered.wait(), 5)
        svc = served.app.state.services
        if how == "revoke":
            record = (await svc.tokens.list_for_user(1))[0]
            await svc.tokens.revoke(1, record.id)
            await svc.sessions.notify_revoked([record.handle])
        else:
            await served.registry.close_all()
        assert await asyncio.wait_for(attempt, 5) == status
        await wait_for(lambda: served.registry.stats()["reserved"] == 0)
        gate.set()
