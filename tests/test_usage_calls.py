"""Usage recorded from the fake upstream's response.done, quotas at admission and at the limit, on both databases."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from starlette.applications import Starlette

from tests.fake_realtime import FakeOptions, FakeRealtimeServer
from tests.fake_realtime.reply import realistic_usage
from tests.media_fixtures.helpers import SignedIn, sign_in
from tests.media_fixtures.rtc_client import RtcClient, tone_bursts
from web.db import Database
from web.services import Services

SPEECH = tone_bursts([(0.3, 0.0), (1.0, 0.3), (2.0, 0.0)])
Build = Callable[..., Awaitable[tuple[Starlette, SignedIn]]]


async def _reset_postgres(url: str) -> None:
    db = Database(url)
    try:
        await db.execute("DROP SCHEMA public CASCADE")
        await db.execute("CREATE SCHEMA public")
    finally:
        await db.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def gateway(request: pytest.FixtureRequest, app_factory: Callable[..., Any]) -> AsyncIterator[Build]:
    fakes: list[FakeRealtimeServer] = []
    clients: list[SignedIn] = []
    url = ""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        await _reset_postgres(url)

    async def build(**overrides: Any) -> tuple[Starlette, SignedIn]:
        fake = FakeRealtimeServer(FakeOptions())
        await fake.start()
        fakes.append(fake)
        app: Starlette = await app_factory(**fake.settings_overrides("azure"), database_url=url, **overrides)
        signed = await sign_in(app)
        clients.append(signed)
        return app, signed

    yield build
    for http, _token in clients:
        await http.aclose()
    for fake in fakes:
        await fake.stop()


def _svc(app: Starlette) -> Services:
    svc: Services = app.state.services
    return svc


async def _rows(app: Starlette) -> list[dict[str, Any]]:
    svc = _svc(app)
    await svc.usage.flush()
    return await svc.db.fetchall("SELECT * FROM conversations ORDER BY id")


async def test_a_call_records_the_upstreams_usage(gateway: Build) -> None:
    app, (http, token) = await gateway()
    client = RtcClient(SPEECH)
    try:
        assert (await client.call(http, token)).status_code == 201
        await client.wait_connected()
        await client.wait_event("response.done", timeout=15)
        await client.wait_event("output_audio_buffer.stopped", timeout=10)
    finally:
        await client.close()
    registry = app.state.calls
    for _ in range(100):
        if not registry.live_calls():
            break
        await asyncio_sleep(0.1)
    rows = await _rows(app)
    assert len(rows) == 1, rows
    row = rows[0]
    user = await _svc(app).users.get_by_email("betty@123.com")
    assert user is not None and row["user_id"] == user.id and row["token_id"] is None
    assert row["transport"] == "webrtc" and row["upstream"] == "azure:gpt-realtime"
    usage = realistic_usage(FakeOptions())
    responses = int(row["responses"])
    assert responses >= 1
    assert row["input_text_tokens"] == 118 * responses and row["input_audio_tokens"] == 36 * responses
    assert row["cached_text_tokens"] == 64 * responses and row["output_audio_tokens"] == 12 * responses
    assert row["total_tokens"] == usage["total_tokens"] * responses
    assert row["transcription_s"] == 1.0 * responses  # the fake bills each transcription as one second
    assert 0.5 <= row["audio_out_s"] <= 0.6 * responses + 0.01  # 600 ms of reply tone per response
    assert row["audio_in_s"] > 1.0  # the microphone streamed for the whole call
    assert row["ended_at"] - row["started_at"] >= row["audio_in_s"] - 0.5
    expected_cost = responses * (((54 * 4.0 + 64 * 0.4 + 36 * 32.0) + 6 * 16.0 + 12 * 64.0) / 1e6 + 0.006 / 60)
    assert row["cost_usd"] == pytest.approx(expected_cost, rel=1e-3)
    metrics = (await http.get("/metrics")).text
    assert "usage_tokens_total" in metrics and "usage_audio_seconds_total" in metrics


async def asyncio_sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


async def test_a_user_over_quota_is_refused_at_admission(gateway: Build) -> None:
    app, (http, token) = await gateway(quota_minutes_per_day=1.0)
    svc = _svc(app)
    user = await svc.users.get_by_email("betty@123.com")
    assert user is not None
    now = time.time()
    await svc.db.execute(
        "INSERT INTO conversations (call_id, user_id, transport, upstream, started_at, ended_at, total_tokens) "
        "VALUES ('old', ?, 'webrtc', 'azure', ?, ?, 10)", (user.id, now - 100, now - 30))
    client = RtcClient(SPEECH)
    try:
        response = await client.call(http, token)
    finally:
        await client.close()
    assert response.status_code == 429
    body = response.json()
    assert body["type"] == "error" and body["error"]["code"] == "quota_exceeded"
    assert "今天" in body["error"]["message"] and "today" in body["error"]["message_en"]
    assert not app.state.calls.live_calls()
    # a per-user override lifts the limit for this user only
    await svc.usage.quotas.set_overrides(user.id, {"minutes_per_day": 0})
    assert await svc.usage.quotas.refusal(user) is None


async def test_a_call_reaching_its_limit_is_warned_then_ended(gateway: Build) -> None:
    app, (http, token) = await gateway(quota_minutes_per_day=0.07, quota_warning_s=2.0)  # 4.2 s of talk
    client = RtcClient(SPEECH, loop_voice=True)
    try:
        assert (await client.call(http, token)).status_code == 201
        await client.wait_connected()
        began = time.monotonic()
        warning = await client.wait_event("error", timeout=10, match=lambda e: e["error"]["code"] == "quota_warning")
        warned_at = time.monotonic() - began
        ended = await client.wait_event("error", timeout=10, match=lambda e: e["error"]["code"] == "quota_exceeded")
        ended_at = time.monotonic() - began
        await client.wait_ended(timeout=10)
    finally:
        await client.close()
    assert "(Your voice usage limit will be reached" in warning["error"]["message"]
    assert "已" in ended["error"]["message"] or "达到" in ended["error"]["message"]
    assert warned_at < ended_at and ended_at - warned_at >= 1.5
    for _ in range(100):
        rows = await _rows(app)
        if rows:
            break
        await asyncio_sleep(0.1)
    assert rows and rows[0]["end_reason"] == "quota_exceeded"
    assert 3.5 <= rows[0]["ended_at"] - rows[0]["started_at"] <= 6.5
