"""Client events: what a browser may send passes (cleaned); model/upstream/credential changes never reach upstream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.fake_realtime import FakeRealtimeServer, check_event, collect, of_type, speech_like
from web.media.realtime import RealtimeSession, create_realtime_session
from web.media.realtime.sanitize import ALLOWED_TYPES, RejectedEvent, sanitize_client_event
from web.settings import Settings


def rejected(event: Any, mode: str = "echo") -> dict[str, Any]:
    with pytest.raises(RejectedEvent) as caught:
        sanitize_client_event(event, mode=mode)
    check_event(caught.value.error)
    return dict(caught.value.error["error"])


def test_session_update_keeps_conversation_settings_and_strips_the_rest() -> None:
    event = {
        "type": "session.update",
        "event_id": "evt_7",
        "session": {
            "type": "transcription",
            "model": "gpt-4o-realtime-preview",
            "api_key": "stolen",
            "deployment": "other",
            "endpoint": "https://evil.example",
            "tracing": "auto",
            "instructions": "Answer in one sentence.",
            "tools": [{"type": "function", "name": "f", "parameters": {}},
                      {"type": "mcp", "server_label": "x", "server_url": "https://evil.example", "authorization": "t"}],
            "audio": {
                "input": {"format": {"type": "audio/pcmu"}, "turn_detection": {"type": "semantic_vad"},
                          "transcription": {"model": "gpt-4o-transcribe"}, "url": "x"},
                "output": {"format": {"type": "audio/pcma"}, "voice": "marin", "speed": 1.1},
            },
        },
    }
    clean = sanitize_client_event(event)
    assert clean == {
        "type": "session.update",
        "event_id": "evt_7",
        "session": {
            "type": "realtime",
            "instructions": "Answer in one sentence.",
            "tools": [{"type": "function", "name": "f", "parameters": {}}],
            "audio": {"input": {"turn_detection": {"type": "semantic_vad"},
                                "transcription": {"model": "gpt-4o-transcribe"}},
                      "output": {"voice": "marin", "speed": 1.1}},
        },
    }


@pytest.mark.parametrize(
    ("event", "code", "param"),
    [
        ({"type": "session.delete"}, "invalid_value", "type"),
        ({"type": "output_audio_buffer.clear"}, "invalid_value", "type"),
        ({"type": "transcription_session.update"}, "invalid_value", "type"),
        ({"no": "type"}, "invalid_event", "type"),
        ({"type": 5}, "invalid_event", "type"),
        ({"type": "session.update", "session": "x"}, "invalid_value", "session"),
        ({"type": "session.update", "session": {"instructions": "x" * 20_001}}, "invalid_value",
         "session.instructions"),
        ({"type": "input_audio_buffer.append"}, "invalid_value", "audio"),
    ],
)
def test_refused_events_become_ga_errors(event: dict[str, Any], code: str, param: str) -> None:
    error = rejected({**event, "event_id": "evt_x"})
    assert (error["type"], error["code"], error["param"], error["event_id"]) == (
        "invalid_request_error", code, param, "evt_x")


def test_non_object_events_are_refused() -> None:
    assert rejected(["session.update"])["code"] == "invalid_event"


def test_every_allowed_type_passes() -> None:
    extras: dict[str, dict[str, Any]] = {
        "input_audio_buffer.append": {"audio": "AAAA"}, "session.update": {"session": {}}}
    for kind in ALLOWED_TYPES:
        extra = extras.get(kind, {})
        assert sanitize_client_event({"type": kind, **extra})["type"] == kind


def test_response_create_is_cleaned_and_azure_loses_output_modalities() -> None:
    event = {"type": "response.create", "response": {"output_modalities": ["text"], "instructions": "Short.",
                                                     "model": "x", "audio": {"output": {"voice": "cedar",
                                                                                        "format": "g711"}}}}
    assert sanitize_client_event(event, mode="openai")["response"] == {
        "output_modalities": ["text"], "instructions": "Short.", "audio": {"output": {"voice": "cedar"}}}
    assert "output_modalities" not in sanitize_client_event(event, mode="azure")["response"]


def test_item_events_keep_only_their_fields() -> None:
    clean = sanitize_client_event({"type": "conversation.item.truncate", "item_id": "i", "content_index": 0,
                                   "audio_end_ms": 120, "secret": "x"})
    assert clean == {"type": "conversation.item.truncate", "item_id": "i", "content_index": 0, "audio_end_ms": 120}


@pytest.fixture
async def relayed() -> AsyncIterator[tuple[RealtimeSession, FakeRealtimeServer]]:
    async with FakeRealtimeServer() as fake:
        session = create_realtime_session(Settings(**fake.settings_overrides("azure")), user_id=1, log_context={})
        await session.start()
        yield session, fake
        await session.close()


async def test_model_change_is_stripped_before_the_upstream(
        relayed: tuple[RealtimeSession, FakeRealtimeServer]) -> None:
    session, fake = relayed
    await session.send_client_event({"type": "session.update", "event_id": "mine", "session": {
        "type": "realtime", "model": "gpt-4o-mini-realtime", "instructions": "Be brief.",
        "audio": {"output": {"voice": "marin"}}}})
    events = await collect(session, lambda e: e["type"] == "session.updated" and
                           e["session"].get("instructions") == "Be brief.")
    assert events[-1]["session"]["audio"]["output"]["voice"] == "marin"
    assert events[-1]["session"]["model"] == "gpt-realtime"
    forwarded = [e for e in fake.received if e.get("event_id") == "mine"][0]
    assert "model" not in forwarded["session"]
    assert forwarded["session"]["instructions"] == "Be brief."
    assert not any(e["type"] == "error" for e in events)


async def test_unknown_type_gets_an_error_and_is_not_forwarded(
        relayed: tuple[RealtimeSession, FakeRealtimeServer]) -> None:
    session, fake = relayed
    await session.send_client_event({"type": "session.hack", "event_id": "bad1"})
    await session.send_client_event({"type": "input_audio_buffer.append", "audio": "not base64!", "event_id": "bad2"})
    await session.send_client_event({"type": "input_audio_buffer.append", "audio": "AAAA", "event_id": "bad3"})
    errors = [e["error"] for e in await collect(session, lambda e: e.get("error", {}).get("event_id") == "bad3")
              if e["type"] == "error"]
    assert [(e["code"], e["event_id"]) for e in errors] == [("invalid_value", f"bad{i}") for i in (1, 2, 3)]
    assert "even number of bytes" in errors[2]["message"]
    await session.append_audio(speech_like(100))
    await session.send_client_event({"type": "input_audio_buffer.commit"})
    await collect(session, of_type("input_audio_buffer.committed"))
    assert "session.hack" not in fake.received_types()
    assert fake.received_types().count("input_audio_buffer.append") == 1
