"""Calls relayed to the project's fake Realtime server (Azure GA and preview paths), and upstream faults."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from starlette.applications import Starlette

from tests.fake_realtime import FakeOptions, FakeRealtimeServer
from tests.media_fixtures.helpers import SignedIn, sign_in
from tests.media_fixtures.rtc_client import RtcClient, tone_bursts
from tests.media_fixtures.wiring import wire_calls
from web.media.calls import CallRegistry
from web.media.realtime import SessionLimits, create_realtime_session

SPEECH = tone_bursts([(0.3, 0.0), (1.0, 0.3), (2.0, 0.0)])
Setup = Callable[..., Awaitable[tuple[SignedIn, CallRegistry, FakeRealtimeServer]]]


@pytest.fixture
async def relay(app_factory: Callable[..., Any]) -> AsyncIterator[Setup]:
    """`await relay(mode, **fake_options)` → (signed-in client, registry, fake server), all torn down afterwards."""
    fakes: list[FakeRealtimeServer] = []
    clients: list[SignedIn] = []
    registries: list[CallRegistry] = []

    async def build(mode: str = "azure", **options: Any) -> tuple[SignedIn, CallRegistry, FakeRealtimeServer]:
        fake = FakeRealtimeServer(FakeOptions(**options))
        await fake.start()
        fakes.append(fake)
        app: Starlette = await app_factory(**fake.settings_overrides(mode))
        registry = await wire_calls(app)
        registries.append(registry)
        signed = await sign_in(app)
        clients.append(signed)
        return signed, registry, fake

    yield build
    for registry in registries:
        await registry.close_all()
    for http, _token in clients:
        await http.aclose()
    for fake in fakes:
        await fake.stop()


@pytest.mark.parametrize("mode", ["azure", "azure-preview"])
async def test_fake_azure_reply_reaches_the_browser(relay: Setup, mode: str) -> None:
    (http, token), registry, fake = await relay(mode)
    client = RtcClient(SPEECH)
    try:
        response = await client.call(http, token)
        assert response.status_code == 201, response.text
        await client.wait_connected()
        await client.wait_event("session.created")
        await client.wait_event("input_audio_buffer.speech_stopped", timeout=10)
        await client.wait_event("response.done", timeout=10)
        await client.wait_event("output_audio_buffer.stopped", timeout=10)
        assert client.audio.peak_level > 0.1, client.audio.peak_level  # the fake's 440 Hz tone at 0.3 FS
        assert client.audio.loud_frames >= 20  # 600 ms reply
        assert "input_audio_buffer.append" in fake.received_types()
        expected_path = "/openai/realtime" if mode == "azure-preview" else "/openai/v1/realtime"
        assert fake.connections[0].path.startswith(expected_path)
        transcripts = [e for e in client.events if e["type"] == "response.output_audio_transcript.done"]
        assert transcripts and "fake realtime" in transcripts[0]["transcript"]
    finally:
        await client.close()
    assert registry.active_count() <= 1


@pytest.mark.parametrize(("status", "http_status", "code"), [
    (401, 502, "upstream_key_rejected"),
    (429, 503, "upstream_throttled"),
    (404, 502, "upstream_not_found"),
])
async def test_upstream_refusal_gives_a_clear_error_and_frees_everything(
    relay: Setup, status: int, http_status: int, code: str
) -> None:
    (http, token), registry, _fake = await relay("azure", reject_status=status)
    client = RtcClient()
    try:
        response = await client.call(http, token)
        assert response.status_code == http_status, response.text
        error = response.json()["error"]
        assert error["code"] == code
        assert error["message"]  # a user-facing sentence (zh-CN first)
        assert "test-key" not in response.text
        assert registry.active_count() == 0
        assert registry.stats()["reserved"] == 0
        assert registry.closed_reasons["open_failed"] == 1
    finally:
        await client.close()


async def test_upstream_closing_mid_call_ends_the_call_with_the_reason(relay: Setup) -> None:
    # every upstream socket closes 0.5 s after it opened: the session reconnects once, then gives up
    (http, token), registry, _fake = await relay("azure", close_after_s=0.5)
    client = RtcClient(tone_bursts([(20.0, 0.0)]))
    try:
        response = await client.call(http, token)
        assert response.status_code == 201, response.text
        await client.wait_connected()
        final = await client.wait_event("error", timeout=15, match=lambda e: "upstream" in str(e["error"].get("code")))
        assert final["error"]["message"]
        await client.wait_ended(10)
        assert registry.active_count() == 0
        assert any(reason.startswith("upstream") for reason in registry.closed_reasons), registry.closed_reasons
    finally:
        await client.close()


async def test_upstream_stalling_mid_call_ends_the_call_with_the_reason(relay: Setup) -> None:
    # The fake accepts the socket and then never answers again: one transparent reconnect, then the call ends.
    (http, token), registry, _fake = await relay("azure", stall_after_s=0.0)
    registry.session_factory = functools.partial(
        create_realtime_session, limits=SessionLimits(stall_timeout_s=0.5, poll_s=0.05, close_timeout_s=0.5))
    client = RtcClient()
    try:
        response = await client.call(http, token)
        assert response.status_code == 201, response.text
        await client.wait_connected()
        await client.wait_event("session.created")
        client.send({"type": "response.create"})
        notice = await client.wait_event("error", timeout=10,
                                         match=lambda e: e["error"].get("code") == "upstream_reconnected")
        assert notice["error"]["type"] == "gateway_notice"  # shown as a notice, the call goes on
        client.send({"type": "response.create"})
        final = await client.wait_event("error", timeout=10,
                                        match=lambda e: e["error"].get("code") == "upstream_stalled")
        assert final["error"]["message"]  # the user-facing reason, zh-CN first
        await client.wait_ended(10)
        assert registry.active_count() == 0
        assert any(reason.startswith("upstream") for reason in registry.closed_reasons), registry.closed_reasons
    finally:
        await client.close()
