"""Who may open a call, how many, and what a refusal looks like: nothing is allocated before the checks pass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.applications import Starlette

from tests.conftest import make_client
from tests.media_fixtures.helpers import SignedIn, open_fds, sign_in
from tests.media_fixtures.rtc_client import RtcClient
from tests.media_fixtures.wiring import wire_calls
from tests.support.auth import csrf_token, login, page_token
from web.media.calls import CallRegistry
from web.media.rtc import call as call_module

pytest_plugins = ("tests.media_fixtures.fixtures",)  # the `registry` and `signed_in` fixtures


@pytest.fixture
def peer_connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every server-side RTCPeerConnection created during the test."""
    created: list[Any] = []
    original = call_module.RTCPeerConnection

    def counting(*args: Any, **kwargs: Any) -> Any:
        pc = original(*args, **kwargs)
        created.append(pc)
        return pc

    monkeypatch.setattr(call_module, "RTCPeerConnection", counting)
    return created


async def test_not_signed_in_gets_401_and_no_peer_connection(app: Starlette, registry: CallRegistry,
                                                              peer_connections: list[Any]) -> None:
    client = RtcClient()
    try:
        async with make_client(app) as http:
            token = await csrf_token(http)
            response = await client.call(http, token)
        assert response.status_code == 401
        error = response.json()["error"]
        assert error["code"] == "unauthenticated"
        assert error["message"] == "请先登录后再使用语音功能"
        assert peer_connections == []
        assert registry.stats()["reserved"] == 0
    finally:
        await client.close()


async def test_missing_csrf_token_is_refused_before_anything(signed_in: SignedIn, registry: CallRegistry,
                                                             peer_connections: list[Any]) -> None:
    http, _token = signed_in
    client = RtcClient()
    try:
        response = await http.post("/v1/realtime/calls", content=(await client.offer_sdp()).encode(),
                                   headers={"Content-Type": "application/sdp"})
        assert response.status_code == 403
        assert peer_connections == []
    finally:
        await client.close()


async def test_wrong_content_type_is_415(signed_in: SignedIn, registry: CallRegistry,
                                         peer_connections: list[Any]) -> None:
    http, token = signed_in
    response = await http.post("/v1/realtime/calls", content=b'{"sdp": "v=0"}',
                               headers={"Content-Type": "text/plain", "X-CSRF-Token": token})
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "invalid_request"
    assert peer_connections == []


async def test_per_user_limit_is_429_and_allocates_nothing(signed_in: SignedIn, registry: CallRegistry) -> None:
    http, token = signed_in
    clients = [RtcClient() for _ in range(3)]
    try:
        for client in clients[:2]:
            assert (await client.call(http, token)).status_code == 201
        offer = await clients[2].offer_sdp()
        fds = open_fds()
        response = await clients[2].call(http, token, sdp=offer)
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "too_many_calls"
        assert response.json()["error"]["message"]
        assert open_fds() == fds
        assert registry.active_count() == 2
        # hanging up one frees its slot
        assert (await http.delete(clients[0].location or "", headers={"X-CSRF-Token": token})).status_code == 204
        assert (await clients[2].call(http, token, sdp=offer)).status_code == 201
    finally:
        for client in clients:
            await client.close()


async def test_per_process_limit_is_503(app_factory: Callable[..., Any]) -> None:
    app = await app_factory(max_calls_per_user=5, max_calls_per_process=1)
    calls = await wire_calls(app)
    http, token = await sign_in(app)
    first, second = RtcClient(), RtcClient()
    try:
        assert (await first.call(http, token)).status_code == 201
        response = await second.call(http, token)
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "server_busy"
        assert calls.active_count() == 1
    finally:
        await first.close()
        await second.close()
        await calls.close_all()
        await http.aclose()


async def test_shutdown_closes_calls_and_refuses_new_ones(signed_in: SignedIn, registry: CallRegistry) -> None:
    http, token = signed_in
    client = RtcClient()
    try:
        assert (await client.call(http, token)).status_code == 201
        await client.wait_connected()
        await registry.close_all()
        assert registry.active_count() == 0
        await client.wait_ended(5)
        late = RtcClient()
        response = await late.call(http, token)
        await late.close()
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "shutting_down"
    finally:
        await client.close()


async def test_config_endpoint_hands_ice_servers_to_signed_in_users(app_factory: Callable[..., Any]) -> None:
    app = await app_factory(rtc_ice_servers="stun:stun.example.test:3478,turns:u%40x:p%3Aw@turn.example.test:443")
    await wire_calls(app)
    async with make_client(app) as anonymous:
        assert (await anonymous.get("/v1/realtime/config")).status_code == 401
    http, _token = await sign_in(app)
    try:
        config = (await http.get("/v1/realtime/config")).json()
    finally:
        await http.aclose()
    assert config["mode"] == "echo"
    assert config["iceServers"] == [
        {"urls": "stun:stun.example.test:3478"},
        {"urls": "turns:turn.example.test:443", "username": "u@x", "credential": "p:w"},
    ]


async def test_nobody_else_can_hang_up_my_call(app: Starlette, signed_in: SignedIn, registry: CallRegistry) -> None:
    http, token = signed_in
    await app.state.services.users.create("mallory@example.test", "Mallory-Pass-1234", display_name="M",
                                          role="user", check_policy=False)
    client = RtcClient()
    try:
        assert (await client.call(http, token)).status_code == 201
        async with make_client(app) as other:
            await login(other, "mallory@example.test", "Mallory-Pass-1234")
            other_token = await page_token(other)
            response = await other.delete(client.location or "", headers={"X-CSRF-Token": other_token})
        assert response.status_code == 404
        assert registry.active_count() == 1
    finally:
        await client.close()
