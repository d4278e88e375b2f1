"""Stalls, closes, expiry and age: one transparent reconnect, recycling, bounded queues, nothing left running."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from tests.fake_realtime import (
    FakeOptions,
    FakeRealtimeServer,
    check_events,
    collect,
    feed,
    of_type,
    silence,
    types,
    utterance,
)
from web.media.realtime import (
    RealtimeSession,
    RealtimeStats,
    SessionLimits,
    create_realtime_session,
)
from web.media.realtime.echo import EchoUpstream
from web.settings import Settings

STATS = RealtimeStats()  # the counters these tests' sessions record into
realtime_stats = STATS.snapshot
FAST = SessionLimits(stall_timeout_s=0.3, poll_s=0.05, close_timeout_s=0.5)


async def relay(fake: FakeRealtimeServer, limits: SessionLimits = FAST, mode: str = "azure") -> RealtimeSession:
    session = create_realtime_session(Settings(**fake.settings_overrides(mode)), user_id=5, log_context={},
                                      limits=limits, stats=STATS)
    await session.start()
    return session


async def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    """Poll a counter that has no event to await (only used for the drop counter)."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_stall_gets_one_reconnect_then_the_session_ends_with_the_reason() -> None:
    async with FakeRealtimeServer(FakeOptions(stall_after_s=0.0)) as fake:
        before = realtime_stats().get("reconnects", 0)
        session = await relay(fake)
        began = time.monotonic()
        await session.send_client_event({"type": "response.create"})
        notice = await collect(session, of_type("error"))
        assert notice[-1]["error"]["code"] == "upstream_reconnected"
        assert notice[-1]["error"]["type"] == "gateway_notice"
        assert len(fake.connections) == 2
        await session.send_client_event({"type": "response.create"})
        rest = await collect(session)  # runs to the end of the stream
        assert session.closed.is_set()
        assert session.close_reason == "upstream_stalled"
        assert session.error is not None and session.error.code == "stalled"
        final = rest[-1]["error"]
        assert (final["code"], final["type"]) == ("upstream_stalled", "server_error")
        assert "语音服务" in final["message"]
        assert time.monotonic() - began < 2.0
        assert realtime_stats()["reconnects"] == before + 1
        await fake.wait_all_ended()
        # the reconnect re-sent the session defaults on the new socket
        assert fake.connections[1].received[0]["type"] == "session.update"


async def test_slow_first_audio_is_not_a_stall() -> None:
    async with FakeRealtimeServer(FakeOptions(first_audio_delay_s=0.5)) as fake:
        session = await relay(fake, SessionLimits(stall_timeout_s=1.0, poll_s=0.05))
        await feed(session, utterance(300))
        events = await collect(session, of_type("response.done"))
        assert events[-1]["response"]["status"] == "completed"
        assert len(fake.connections) == 1 and session.reconnects == 0
        assert session.stats()["last_reply_latency_ms"] >= 450
        await session.close()


async def test_close_mid_response_reconnects_and_keeps_the_clients_config() -> None:
    async with FakeRealtimeServer(FakeOptions(close_on_audio=True, faulty_connections=1)) as fake:
        session = await relay(fake, mode="azure-preview")
        await session.send_client_event({"type": "session.update", "session": {"instructions": "Be brief."}})
        await feed(session, utterance(300))
        events = await collect(session, lambda e: e.get("error", {}).get("code") == "upstream_reconnected")
        check_events(events)
        failed = [e for e in events if e["type"] == "response.done"][-1]["response"]
        assert failed["status"] == "failed"  # the client's half-played response is closed off
        assert len(fake.connections) == 2
        config = fake.connections[1].received[0]["session"]
        assert config["instructions"] == "Be brief." and config["voice"] == "alloy"
        await feed(session, utterance(300))
        after = await collect(session, of_type("response.done"))
        assert after[-1]["response"]["status"] == "completed"
        assert not session.closed.is_set()
        await session.close()


async def test_session_expiry_recycles_the_socket() -> None:
    async with FakeRealtimeServer(FakeOptions(session_expiry_s=0.2, faulty_connections=1)) as fake:
        before = realtime_stats()
        session = await relay(fake)
        events = await collect(session, of_type("error"))
        assert events[-1]["error"]["code"] == "upstream_recycled"
        assert "session_expired" not in str(events)
        assert (session.recycles, session.reconnects) == (1, 0)
        assert realtime_stats()["recycles"] == before.get("recycles", 0) + 1
        await feed(session, utterance(300))
        assert (await collect(session, of_type("response.done")))[-1]["response"]["status"] == "completed"
        assert len(fake.connections) == 2
        await session.close()


async def test_a_recycle_that_cannot_connect_falls_back_to_one_reconnect() -> None:
    options = FakeOptions(session_expiry_s=0.2, faulty_connections=1, reject_status=429, reject_after=1, reject_count=1)
    async with FakeRealtimeServer(options) as fake:
        session = await relay(fake)
        events = await collect(session, of_type("error"))
        assert events[-1]["error"]["code"] == "upstream_reconnected"
        assert [h.status for h in fake.handshakes] == [101, 429, 101]
        assert (session.recycles, session.reconnects) == (1, 1)
        await feed(session, utterance(300))
        assert (await collect(session, of_type("response.done")))[-1]["response"]["status"] == "completed"
        await session.close()


async def test_recycle_before_the_cap_waits_for_the_end_of_a_response() -> None:
    limits = SessionLimits(recycle_after_s=0.2, hard_recycle_after_s=30, poll_s=0.02, stall_timeout_s=5)
    async with FakeRealtimeServer(FakeOptions(first_audio_delay_s=0.4)) as fake:
        session = await relay(fake, limits)
        await feed(session, utterance(300))
        events = await collect(session, of_type("response.done"))
        assert events[-1]["response"]["status"] == "completed"  # not cut although the socket got old mid-response
        notice = await collect(session, of_type("error"))
        assert notice[-1]["error"]["code"] == "upstream_recycled"
        assert len(fake.connections) == 2
        await session.close()


async def test_hard_cap_recycles_even_mid_response() -> None:
    limits = SessionLimits(recycle_after_s=0.1, hard_recycle_after_s=0.3, poll_s=0.02, stall_timeout_s=5)
    async with FakeRealtimeServer(FakeOptions(first_audio_delay_s=2.0)) as fake:
        session = await relay(fake, limits)
        await feed(session, utterance(300))
        events = await collect(session, of_type("error"))
        assert types(events)[-2:] == ["response.done", "error"]
        assert events[-2]["response"]["status"] == "failed"
        await session.close()


async def test_audio_waits_in_a_bounded_queue_and_drops_oldest() -> None:
    async with FakeRealtimeServer() as fake:
        session = create_realtime_session(Settings(**fake.settings_overrides("azure")), user_id=None,
                                          log_context={}, limits=SessionLimits(max_pending_audio_ms=1000),
                                          stats=STATS)
        before = realtime_stats().get("audio_in_dropped_bytes", 0)
        await feed(session, silence(2500))  # before start(): nothing can be sent yet
        assert session.stats()["audio_dropped_ms"] == 1500
        assert realtime_stats()["audio_in_dropped_bytes"] == before + 1500 * 48
        await session.start()
        await session.send_client_event({"type": "input_audio_buffer.commit"})
        await collect(session, of_type("input_audio_buffer.committed"))
        appended = sum(len(e["audio"]) * 3 // 4 for e in fake.received if e["type"] == "input_audio_buffer.append")
        assert appended == 1000 * 48
        await session.close()


async def test_slow_consumer_loses_audio_deltas_not_lifecycle_events() -> None:
    session = RealtimeSession(lambda: EchoUpstream(speed=1000), mode="echo",
                              limits=SessionLimits(max_inbox_events=20))
    await session.start()
    await feed(session, utterance(3000))
    await wait_until(lambda: session.stats()["events_dropped"] > 0)
    events = await collect(session, of_type("response.done"))
    assert events[-1]["response"]["status"] == "completed"
    assert "input_audio_buffer.speech_stopped" in types(events)
    await session.close()


async def test_close_cancels_everything_and_closes_the_upstream_socket() -> None:
    async with FakeRealtimeServer(FakeOptions(first_audio_delay_s=5)) as fake:
        before = asyncio.all_tasks()
        sessions = [await relay(fake) for _ in range(3)]
        echo = create_realtime_session(Settings(), user_id=None, log_context={})
        await echo.start()
        for session in sessions:
            await feed(session, utterance(300))
        await feed(echo, utterance(300))
        await collect(sessions[0], of_type("response.created"))
        await collect(echo, of_type("response.output_audio.delta"))
        for session in [*sessions, echo]:
            await session.close("hangup")
            await session.close("again")  # idempotent
            assert session.close_reason == "hangup" and session.error is None
            await collect(session, timeout=1)  # the stream ends (else TimeoutError)
        await asyncio.sleep(0)
        assert asyncio.all_tasks() - before == set()
        await fake.wait_all_ended()


async def test_events_after_close_are_ignored() -> None:
    session = RealtimeSession(lambda: EchoUpstream(), mode="echo")
    await session.start()
    await session.close()
    await session.append_audio(silence(100))
    await session.send_client_event({"type": "response.create"})
    assert session.stats()["audio_in_ms"] == 0
