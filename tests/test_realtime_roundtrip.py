"""Audio in → server VAD events → reply audio out, through the relay, against the fake (GA, preview/beta, OpenAI)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import numpy as np
import pytest

from tests.fake_realtime import (
    FakeOptions,
    FakeRealtimeServer,
    check_events,
    check_response_lifecycle,
    collect,
    feed,
    of_type,
    silence,
    speech_like,
    types,
    utterance,
)
from web.media.realtime import RealtimeSession, SessionLimits, create_realtime_session, decode_audio_delta
from web.settings import Settings

BETA_NAMES = {"response.audio.delta", "response.audio.done", "response.audio_transcript.delta",
              "response.audio_transcript.done", "response.text.delta", "response.text.done"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeRealtimeServer]:
    async with FakeRealtimeServer(FakeOptions(reply_ms=700)) as server:
        yield server


async def started(fake: FakeRealtimeServer, mode: str, limits: SessionLimits | None = None) -> RealtimeSession:
    session = create_realtime_session(Settings(**fake.settings_overrides(mode), realtime_instructions="Be kind."),
                                      user_id=3, log_context={"test": mode}, limits=limits)
    await session.start()
    return session


@pytest.mark.parametrize(("mode", "protocol"), [("azure", "ga"), ("azure-preview", "beta"), ("openai", "ga")])
async def test_round_trip(fake: FakeRealtimeServer, mode: str, protocol: str) -> None:
    session = await started(fake, mode)
    sent = utterance(800)
    await feed(session, sent)
    events = await collect(session, of_type("response.done"))
    await session.close()

    names = types(events)
    assert names[0] == "session.created"
    order = ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
             "input_audio_buffer.committed", "response.created", "response.output_audio.delta",
             "response.output_audio_transcript.done", "response.done"]
    assert [names.index(n) for n in order] == sorted(names.index(n) for n in order)
    assert not BETA_NAMES & set(names), "beta names must be translated to GA"
    check_events(events, "ga")
    check_response_lifecycle(events)
    assert events[-1]["response"]["status"] == "completed"
    assert events[-1]["response"]["output"][0]["content"][0]["type"] == "output_audio"

    pcm = b"".join(decode_audio_delta(e) for e in events if e["type"] == "response.output_audio.delta")
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768
    assert len(samples) == 24 * 700
    assert 0.2 < np.sqrt(np.mean(samples**2)) < 0.23  # 0.3 FS sine
    assert abs(np.argmax(np.abs(np.fft.rfft(samples))) * 24000 / len(samples) - 440) < 3
    transcript = next(e for e in events if e["type"] == "response.output_audio_transcript.done")["transcript"]
    assert transcript == fake.options.reply_transcript

    received = fake.connections[0].received
    assert fake.connections[0].protocol == protocol
    update = received[0]
    assert update["type"] == "session.update"
    if protocol == "beta":
        assert update["session"]["input_audio_format"] == "pcm16"
        assert update["session"]["voice"] == "alloy" and update["session"]["instructions"] == "Be kind."
        assert update["session"]["turn_detection"]["silence_duration_ms"] == 500
        assert not {"type", "audio", "output_modalities"} & set(update["session"])
    else:
        assert update["session"]["type"] == "realtime"
        assert update["session"]["audio"]["output"] == {"format": {"type": "audio/pcm", "rate": 24000},
                                                         "voice": "alloy"}
        assert update["session"]["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    appended = b"".join(base64.b64decode(e["audio"]) for e in received if e["type"] == "input_audio_buffer.append")
    assert appended == sent
    assert not any(e["type"] == "error" for e in events)


async def test_appends_are_batched_between_20_and_100_ms(fake: FakeRealtimeServer) -> None:
    session = await started(fake, "azure")
    tiny = speech_like(5)  # 5 ms pieces, like an AudioWorklet client
    for _ in range(12):
        await session.append_audio(tiny)
    await session.append_audio(silence(250))  # one large piece
    await session.send_client_event({"type": "input_audio_buffer.commit"})  # flushes the rest first
    await collect(session, of_type("input_audio_buffer.committed"))
    await session.close()
    appends = [e for e in fake.received if e["type"] == "input_audio_buffer.append"]
    sizes_ms = [len(base64.b64decode(e["audio"])) // 48 for e in appends]
    assert sum(sizes_ms) == 60 + 250
    assert all(20 <= s <= 100 for s in sizes_ms), sizes_ms
    commit_index = fake.received_types().index("input_audio_buffer.commit")
    assert commit_index > fake.received_types().index("input_audio_buffer.append")


async def test_manual_turns_with_push_to_talk(fake: FakeRealtimeServer) -> None:
    session = await started(fake, "azure-preview")
    await session.send_client_event({"type": "session.update",
                                     "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}}})
    await feed(session, speech_like(400))
    await session.send_client_event({"type": "input_audio_buffer.commit"})
    await session.send_client_event({"type": "response.create"})
    events = await collect(session, of_type("response.done"))
    await session.close()
    names = types(events)
    assert "input_audio_buffer.speech_started" not in names
    assert names.index("input_audio_buffer.committed") < names.index("response.created")
    assert fake.received[-1]["type"] == "response.create"
    beta_update = [e for e in fake.received if e["type"] == "session.update"][-1]
    assert beta_update["session"] == {"turn_detection": None}


async def test_beta_items_arrive_as_ga_added_and_done_in_the_ga_order(fake: FakeRealtimeServer) -> None:
    """The preview path announces each item once (`conversation.item.created`); clients get what the GA path sends."""
    def item_events(events: list[dict[str, object]]) -> list[tuple[str, object, object]]:
        shown = []
        for event in events:
            item = event.get("item")
            kind = str(event["type"])
            if kind.startswith(("conversation.item.", "response.output_item.")) and isinstance(item, dict):
                shown.append((kind, item.get("role"), item.get("status")))
        return shown

    seen = {}
    for mode in ("azure", "azure-preview"):
        session = await started(fake, mode)
        await feed(session, utterance(800))
        seen[mode] = await collect(session, of_type("response.done"))
        await session.close()
    assert [c.protocol for c in fake.connections] == ["ga", "beta"]
    assert "conversation.item.created" not in types(seen["azure-preview"])
    assert item_events(seen["azure-preview"]) == item_events(seen["azure"]) == [
        ("conversation.item.added", "user", "in_progress"), ("conversation.item.done", "user", "completed"),
        ("response.output_item.added", "assistant", "in_progress"),
        ("conversation.item.added", "assistant", "in_progress"),
        ("response.output_item.done", "assistant", "completed"), ("conversation.item.done", "assistant", "completed")]
    check_events(seen["azure-preview"], "ga")
    ids = [e["event_id"] for e in seen["azure-preview"] if "event_id" in e]
    assert len(ids) == len(set(ids))
