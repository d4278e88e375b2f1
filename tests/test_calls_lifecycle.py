"""Calls end on every path, promptly, and leave nothing behind: vanished browsers, logout, connect deadline, cycles."""

from __future__ import annotations

import asyncio
import gc
import time

import pytest
from starlette.applications import Starlette

from tests.media_fixtures.helpers import SignedIn, open_fds, os_threads, sign_in
from tests.media_fixtures.rtc_client import RtcClient
from web.media.calls import CallRegistry
from web.media.rtc import call as call_module

pytest_plugins = ("tests.media_fixtures.fixtures",)  # the `registry` and `signed_in` fixtures


def vanish(client: RtcClient) -> None:
    """The browser disappears without a word (tab killed, Wi-Fi gone): its UDP sockets just stop."""
    ice = client.pc.getTransceivers()[0].receiver.transport.transport
    for protocol in list(ice._connection._protocols):
        if protocol.transport is not None:
            protocol.transport.close()


async def open_call(http_and_token: SignedIn, calls: CallRegistry) -> tuple[RtcClient, call_module.Call]:
    http, token = http_and_token
    client = RtcClient()
    response = await client.call(http, token)
    assert response.status_code == 201, response.text
    await client.wait_connected()
    await client.wait_event("session.created")
    call = calls.get((client.location or "").rsplit("/", 1)[1])
    assert call is not None
    return client, call


async def test_vanished_browser_is_detected_within_3s_and_freed_within_10s(signed_in: SignedIn,
                                                                          registry: CallRegistry) -> None:
    client, call = await open_call(signed_in, registry)
    try:
        vanished_at = time.monotonic()
        vanish(client)
        await asyncio.wait_for(call.closed.wait(), 10)
        elapsed = time.monotonic() - vanished_at
        assert call.close_reason == "peer_gone"
        assert elapsed < 3.2, elapsed  # detection (2.5 s of silence) plus the close itself
        assert registry.active_count() == 0
        assert call.session.closed.is_set()  # the upstream socket went with it
        assert all(task.done() for task in call._tasks)
        assert call.pc.connectionState == "closed"
    finally:
        await client.close()


async def test_logout_closes_the_sessions_calls_within_1s(app: Starlette, registry: CallRegistry) -> None:
    signed = await sign_in(app)
    other = await sign_in(app)  # a second session of the same user keeps its call
    http, token = signed
    try:
        client, call = await open_call(signed, registry)
        keeper, kept = await open_call(other, registry)
        started = time.monotonic()
        response = await http.post("/logout", data={"csrf_token": token}, headers={"X-CSRF-Token": token})
        assert response.status_code in (200, 303)
        await asyncio.wait_for(call.closed.wait(), 1.0)
        assert time.monotonic() - started < 1.0
        assert call.close_reason == "session_revoked"
        notice = await client.wait_event("error", match=lambda e: e["error"]["code"] == "session_revoked")
        assert notice["error"]["message"] == "认证失败，请重新登录"
        await client.wait_ended(5)
        assert not kept.closed.is_set()
        assert registry.active_count() == 1
        await client.close()
        await keeper.close()
    finally:
        await http.aclose()
        await other[0].aclose()


async def test_peer_that_never_connects_is_closed_at_the_deadline(
    signed_in: SignedIn, registry: CallRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(call_module, "CONNECT_DEADLINE_S", 1.0)
    http, token = signed_in
    client = RtcClient()
    offer = await client.offer_sdp()
    await client.close()  # the answer will never be used: nobody answers our connectivity checks
    response = await client.call(http, token, sdp=offer, apply_answer=False)
    assert response.status_code == 201
    call = registry.get(response.headers["location"].rsplit("/", 1)[1])
    assert call is not None
    await asyncio.wait_for(call.closed.wait(), 3)
    assert call.close_reason == "connect_timeout"
    assert registry.active_count() == 0


@pytest.mark.slow
async def test_unreachable_peer_is_closed_within_20s(signed_in: SignedIn, registry: CallRegistry) -> None:
    http, token = signed_in
    client = RtcClient()
    offer = await client.offer_sdp()
    await client.close()
    started = time.monotonic()
    response = await client.call(http, token, sdp=offer, apply_answer=False)
    call = registry.get(response.headers["location"].rsplit("/", 1)[1])
    assert call is not None
    await asyncio.wait_for(call.closed.wait(), 25)
    assert call.close_reason == "connect_timeout"
    assert time.monotonic() - started < 21


def _tasks() -> int:
    return len([t for t in asyncio.all_tasks() if not t.done()])


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_200_connect_hang_up_cycles_leave_no_trace(signed_in: SignedIn, registry: CallRegistry) -> None:
    http, token = signed_in

    async def cycle() -> None:
        client = RtcClient()
        response = await client.call(http, token)
        assert response.status_code == 201, response.text
        await client.wait_connected()
        assert (await http.delete(response.headers["location"], headers={"X-CSRF-Token": token})).status_code == 204
        await client.close()

    for _ in range(3):  # warm-up: first-use allocations (codec tables, thread pools) are not leaks
        await cycle()
    gc.collect()
    fds, tasks, threads = open_fds(), _tasks(), os_threads()
    for _ in range(200):
        await cycle()
    gc.collect()
    await asyncio.sleep(0)  # let just-finished tasks be reaped
    assert registry.active_count() == 0
    assert registry.stats()["reserved"] == 0
    assert open_fds() <= fds + 2, (fds, open_fds())
    assert _tasks() <= tasks + 2, (tasks, _tasks())
    assert os_threads() <= threads + 2, (threads, os_threads())
