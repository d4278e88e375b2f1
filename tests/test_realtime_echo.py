"""Echo mode: energy VAD, the user's own utterance played back in GA events, barge-in, cancel, manual turns."""

from __future__ import annotations

import numpy as np

from tests.fake_realtime import (
    check_events,
    check_response_lifecycle,
    collect,
    feed,
    noise,
    of_type,
    silence,
    speech_like,
    types,
    utterance,
)
from web.media.realtime import RealtimeSession, SessionLimits, create_realtime_session, decode_audio_delta
from web.media.realtime.echo import EchoUpstream
from web.media.realtime.vad import EnergyVad
from web.settings import Settings


async def echo_session(speed: float = 50.0) -> RealtimeSession:
    session = RealtimeSession(lambda: EchoUpstream(speed=speed), mode="echo", limits=SessionLimits())
    await session.start()
    return session


def audio_of(events: list[dict[str, object]]) -> bytes:
    return b"".join(decode_audio_delta(e) for e in events if e.get("type") == "response.output_audio.delta")


# --- VAD ---------------------------------------------------------------------------------------
def test_vad_finds_speech_with_prefix_padding_and_500_ms_silence() -> None:
    vad = EnergyVad()
    events = vad.process(silence(1000) + speech_like(600) + silence(499))
    assert [(e.kind, e.ms) for e in events] == [("started", 1000 - 300)]
    assert vad.process(silence(21)) and not vad.speaking  # the 500th ms of silence ends the turn
    vad2 = EnergyVad()
    stopped = [e for e in vad2.process(silence(1000) + speech_like(600) + silence(600)) if e.kind == "stopped"]
    assert stopped[0].ms == 1600


def test_vad_ignores_background_noise_and_short_clicks() -> None:
    vad = EnergyVad()
    assert vad.process(noise(3000, dbfs=-50)) == []
    assert vad.process(speech_like(40)) == []  # a 40 ms click is not speech (60 ms needed)
    assert [e.kind for e in vad.process(noise(200, dbfs=-50) + speech_like(300) + noise(700, dbfs=-50))] == [
        "started", "stopped"]


def test_vad_floor_learns_a_moderately_noisy_room() -> None:
    vad = EnergyVad()
    assert vad.process(noise(3000, dbfs=-45)) == []  # below the absolute level; the floor settles near -45
    quiet_speech = speech_like(500, level=0.03)  # about -35 dBFS: above -40 but under floor + 12 dB
    assert vad.process(quiet_speech + noise(800, dbfs=-45)) == []
    assert [e.kind for e in vad.process(speech_like(500) + noise(800, dbfs=-45))] == ["started", "stopped"]


def test_vad_settings_follow_session_update() -> None:
    vad = EnergyVad(silence_duration_ms=200)
    assert [e.kind for e in vad.process(speech_like(300) + silence(220))] == ["started", "stopped"]
    quiet = speech_like(300, level=0.02)  # about -37 dBFS
    assert [e.kind for e in EnergyVad(threshold=0.5).process(quiet)] == ["started"]
    assert EnergyVad(threshold=0.9).process(quiet) == []


def test_vad_accepts_any_chunking() -> None:
    pcm = silence(300) + speech_like(500) + silence(700)
    whole = [(e.kind, e.ms) for e in EnergyVad().process(pcm)]
    vad = EnergyVad()
    pieces = [(e.kind, e.ms) for i in range(0, len(pcm), 226) for e in vad.process(pcm[i : i + 226])]
    assert whole == pieces == [("started", 0), ("stopped", 800)]


# --- a whole echo turn ------------------------------------------------------------------------
async def test_echo_turn_plays_the_utterance_back() -> None:
    session = create_realtime_session(Settings(), user_id=None, log_context={})
    assert session.mode == "echo"
    await session.start()
    sent = utterance(700, lead_ms=600)
    await feed(session, sent)
    events = await collect(session, of_type("response.done"))
    await session.close()

    check_events(events, "ga")
    check_response_lifecycle(events)
    names = types(events)
    assert names[0] == "session.created" and "session.updated" not in names  # GA: only in answer to the client
    user_item = next(e for e in events if e["type"] == "input_audio_buffer.committed")["item_id"]
    assert [e["type"] for e in events if (e.get("item") or {}).get("id") == user_item] == [
        "conversation.item.added", "conversation.item.done"]
    started = next(e for e in events if e["type"] == "input_audio_buffer.speech_started")
    stopped = next(e for e in events if e["type"] == "input_audio_buffer.speech_stopped")
    assert (started["audio_start_ms"], stopped["audio_end_ms"]) == (600 - 300, 600 + 700)
    assert audio_of(events) == sent[started["audio_start_ms"] * 48 : stopped["audio_end_ms"] * 48]
    transcript = next(e for e in events if e["type"] == "response.output_audio_transcript.done")["transcript"]
    assert "回声模式" in transcript and "echo mode" in transcript
    assert events[-1]["response"]["status"] == "completed"
    assert all(len(decode_audio_delta(e)) <= 4800 for e in events if e["type"] == "response.output_audio.delta")


async def test_two_turns_in_a_row() -> None:
    session = await echo_session()
    for speech_ms in (400, 900):
        await feed(session, utterance(speech_ms, lead_ms=400))
        events = await collect(session, of_type("response.done"))
        assert len(audio_of(events)) == (speech_ms + 300) * 48
    await session.close()


async def test_barge_in_cancels_the_reply() -> None:
    session = await echo_session(speed=1.0)  # real time, so the reply is still streaming when the user talks
    await feed(session, utterance(2000, lead_ms=300))
    before = await collect(session, of_type("response.output_audio.delta"))
    await feed(session, speech_like(300))
    after = await collect(session, of_type("response.done"))
    names = types(after)
    assert names.index("input_audio_buffer.speech_started") < names.index("response.done")
    done = after[-1]["response"]
    assert done["status"] == "cancelled" and done["status_details"]["reason"] == "turn_detected"
    assert len(audio_of(before + after)) < 2300 * 48
    check_events(before + after, "ga")
    await feed(session, silence(600))  # the interruption is a turn of its own, answered in full
    final = await collect(session, of_type("response.done"))
    assert final[-1]["response"]["status"] == "completed"
    await session.close()


async def test_response_cancel() -> None:
    session = await echo_session(speed=1.0)
    await session.send_client_event({"type": "response.cancel", "event_id": "evt_1"})
    error = (await collect(session, of_type("error")))[-1]["error"]
    assert (error["code"], error["event_id"]) == ("response_cancel_not_active", "evt_1")
    await feed(session, utterance(1500))
    await collect(session, of_type("response.output_audio.delta"))
    await session.send_client_event({"type": "response.cancel"})
    done = (await collect(session, of_type("response.done")))[-1]["response"]
    assert done["status"] == "cancelled" and done["status_details"]["reason"] == "client_cancelled"
    await session.close()


async def test_manual_turn_commit_create_and_truncate() -> None:
    session = await echo_session()
    manual = {"audio": {"input": {"turn_detection": None}}}
    await session.send_client_event({"type": "session.update", "session": manual})
    await session.send_client_event({"type": "input_audio_buffer.commit", "event_id": "c0"})
    empty = (await collect(session, of_type("error")))[-1]["error"]
    assert empty["code"] == "input_audio_buffer_commit_empty" and empty["event_id"] == "c0"
    spoken = speech_like(500)
    await feed(session, spoken)
    await session.send_client_event({"type": "input_audio_buffer.commit"})
    await session.send_client_event({"type": "response.create"})
    events = await collect(session, of_type("response.done"))
    assert "input_audio_buffer.speech_started" not in types(events)
    assert audio_of(events) == spoken
    item_id = events[-1]["response"]["output"][0]["id"]
    await session.truncate(item_id, 0, 200)
    truncated = (await collect(session, of_type("conversation.item.truncated")))[-1]
    assert (truncated["item_id"], truncated["audio_end_ms"]) == (item_id, 200)
    await session.truncate(item_id, 0, 5000)
    too_long = (await collect(session, of_type("error")))[-1]["error"]
    assert "already shorter" in too_long["message"]
    await session.close()


async def test_response_create_without_audio_says_so_and_double_create_is_refused() -> None:
    session = await echo_session(speed=0.5)
    await session.send_client_event({"type": "response.create"})
    await session.send_client_event({"type": "response.create", "event_id": "second"})
    events = await collect(session, of_type("response.done"))
    errors = [e["error"] for e in events if e["type"] == "error"]
    assert [(e["code"], e["event_id"]) for e in errors] == [("conversation_already_has_active_response", "second")]
    transcript = next(e for e in events if e["type"] == "response.output_audio_transcript.delta")["delta"]
    assert "回声模式" in transcript and not audio_of(events)
    await session.close()


async def test_long_monologue_is_cut_at_30_s_so_memory_stays_bounded() -> None:
    session = await echo_session()
    await feed(session, speech_like(31_000))
    events = await collect(session, of_type("input_audio_buffer.speech_stopped"), timeout=10)
    stopped = events[-1]
    started = next(e for e in events if e["type"] == "input_audio_buffer.speech_started")
    assert stopped["audio_end_ms"] - started["audio_start_ms"] <= 30_100
    await session.close()


def test_echo_audio_is_bit_exact_pcm16() -> None:
    pcm = speech_like(100)
    assert np.frombuffer(pcm, dtype="<i2").max() > 5000
