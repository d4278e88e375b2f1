"""RealtimeSession details with a scripted upstream: the relay's own errors stay internal, history is replayed after
a reconnect, close() during start(), and a bug ends the call instead of hanging it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.fake_realtime import FakeOptions, FakeRealtimeServer, collect, feed, of_type, utterance
from web.media.realtime import RealtimeSession, SessionLimits, UpstreamError, create_realtime_session
from web.media.realtime.events import error_event
from web.media.realtime.history import TranscriptHistory
from web.settings import Settings

Event = dict[str, Any]


class ScriptedUpstream:
    """Answers each client event with whatever `script` returns; `recv_error` makes recv() blow up."""

    def __init__(self, script: Any = None, *, connect_delay: float = 0.0, recv_error: Exception | None = None) -> None:
        self.sent: list[Event] = []
        self.closed = False
        self.connecting = asyncio.Event()
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._script: Callable[[Event], list[Event]] = script or (lambda event: [])
        self._connect_delay = connect_delay
        self._recv_error = recv_error

    async def connect(self) -> Event:
        self.connecting.set()
        await asyncio.sleep(self._connect_delay)
        return {"type": "session.created", "event_id": "e0", "session": {"type": "realtime"}}

    async def send(self, event: Event) -> None:
        self.sent.append(event)
        for reply in self._script(event):
            self._queue.put_nowait(reply)

    async def recv(self) -> Event:
        if self._recv_error is not None:
            raise self._recv_error
        return await self._queue.get()

    async def close(self) -> None:
        self.closed = True


async def test_errors_caused_by_the_relays_own_defaults_are_not_forwarded() -> None:
    def script(event: Event) -> list[Event]:
        if event["type"] == "session.update" and "transcription" in str(event):
            return [error_event("Invalid transcription model", code="invalid_value",
                                client_event_id=event["event_id"])]
        if event["type"] == "session.update":
            return [{"type": "session.updated", "event_id": "e1", "session": {"type": "realtime"}}]
        return [error_event("nope", code="invalid_value", client_event_id=event.get("event_id"))]

    upstream = ScriptedUpstream(script)
    session = RealtimeSession(lambda: upstream, mode="azure")
    await session.start()
    await session.send_client_event({"type": "response.create", "event_id": "client"})
    events = await collect(session, of_type("error"))
    # the relay's own updates are answered (session.updated) or refused (error) upstream: neither reaches the client
    assert [e["type"] for e in events] == ["session.created", "error"]
    assert events[-1]["error"]["event_id"] == "client"
    await session.close()
    assert upstream.closed


async def test_close_while_connecting_leaves_nothing_open() -> None:
    upstream = ScriptedUpstream(connect_delay=0.2)
    session = RealtimeSession(lambda: upstream, mode="azure")
    before = asyncio.all_tasks()
    starting = asyncio.create_task(session.start())
    await upstream.connecting.wait()
    await session.close("hangup")
    with pytest.raises(UpstreamError) as caught:
        await starting
    assert caught.value.code == "closed"
    assert upstream.closed and session.close_reason == "hangup"
    assert asyncio.all_tasks() - before == set()


async def test_a_bug_in_the_relay_ends_the_session_with_a_reason() -> None:
    session = RealtimeSession(lambda: ScriptedUpstream(recv_error=RuntimeError("boom")), mode="azure")
    await session.start()
    events = await collect(session)
    assert session.close_reason == "internal_error"
    assert events[-1]["error"]["code"] == "upstream_internal"


def test_history_is_bounded_and_replays_as_ga_items() -> None:
    history = TranscriptHistory()
    for n in range(40):
        history.observe({"type": "conversation.item.input_audio_transcription.completed", "transcript": f"q{n}"})
        history.observe({"type": "response.done", "response": {"status": "completed", "output": [
            {"type": "message", "role": "assistant", "content": [{"type": "output_audio", "transcript": f"a{n}"}]}]}})
    history.observe({"type": "response.done", "response": {"status": "cancelled", "output": [
        {"type": "message", "role": "assistant", "content": [{"type": "output_audio", "transcript": "cut"}]}]}})
    replay = history.replay_events()
    assert len(replay) == 24
    assert [e["item"]["content"][0]["text"] for e in replay[-2:]] == ["q39", "a39"]
    assert replay[-1]["item"]["content"][0]["type"] == "output_text"
    assert replay[-2]["item"]["content"][0]["type"] == "input_text"


async def test_reconnect_replays_the_transcript_into_the_new_socket() -> None:
    async with FakeRealtimeServer(FakeOptions(close_on_audio=True, faulty_connections=1)) as fake:
        session = create_realtime_session(Settings(**fake.settings_overrides("azure")), user_id=None,
                                          log_context={}, limits=SessionLimits(stall_timeout_s=2, poll_s=0.05))
        await session.start()
        await session.send_client_event({"type": "conversation.item.create", "item": {
            "type": "message", "role": "user", "content": [{"type": "input_text", "text": "My name is Li."}]}})
        await feed(session, utterance(300))
        events = await collect(session, lambda e: e.get("error", {}).get("code") == "upstream_reconnected")
        assert "restored" in events[-1]["error"]["message"]
        second = fake.connections[1].received
        replayed = [e["item"]["content"][0]["text"] for e in second if e["type"] == "conversation.item.create"]
        assert replayed == ["My name is Li.", "fake user transcript"]
        await feed(session, utterance(300))
        after = await collect(session, of_type("response.done"))
        created = [e for e in after if e["type"] == "conversation.item.created"]
        assert all(e["item"]["role"] == "user" and e["item"]["content"][0]["type"] == "input_audio" for e in created)
        await session.close()
