"""What a session asks the upstream for (defaults + the client's own updates), and the relay's limits."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from web.settings import Settings

from .events import PCM_FORMAT, Event, default_turn_detection, new_id
from .session_policy import combined_instructions


@dataclass(frozen=True)
class SessionDefaults:
    """Server-side defaults applied with `session.update` right after `session.created` (and after a reconnect)."""

    instructions: str = ""
    voice: str = "alloy"
    transcription_model: str | None = "whisper-1"  # user-side transcript; sent separately, its failure is not fatal
    turn_detection: dict[str, Any] = field(default_factory=default_turn_detection)
    voice_locked: bool = False  # the client may not change the voice

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionDefaults:
        return cls(instructions=settings.realtime_instructions, voice=settings.realtime_voice or "alloy",
                   voice_locked=settings.realtime_voice_locked)


@dataclass(frozen=True)
class SessionLimits:
    stall_timeout_s: float = 15.0  # no upstream event for this long while a response is expected → stalled
    reconnect_window_s: float = 120.0  # at most one transparent reconnect per window; a second failure ends the call
    recycle_after_s: float = 28 * 60.0  # Azure caps a session at 30 min: recycle between responses after this
    hard_recycle_after_s: float = 29.5 * 60  # … and even mid-response after this
    max_pending_audio_ms: int = 3_000  # client → upstream audio kept while connecting/reconnecting (drop oldest)
    max_pending_events: int = 256  # client → upstream events waiting to be sent
    max_inbox_events: int = 2_048  # upstream → client events not yet consumed (audio deltas dropped first)
    min_chunk_ms: int = 20  # append batching: send once this much audio has accumulated …
    max_chunk_ms: int = 100  # … in appends of at most this much
    poll_s: float = 1.0  # upper bound on how long the reader waits before re-checking its deadlines
    close_timeout_s: float = 2.0


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """`update` over `base`, recursing into nested objects; returns a new dict."""
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def effective_session(defaults: SessionDefaults, client: dict[str, Any]) -> dict[str, Any]:
    """The GA session object the relay wants upstream: its defaults, then whatever the client changed, under the
    operator's policy (their instructions lead, a locked voice stays)."""
    session: dict[str, Any] = {
        "type": "realtime",
        "audio": {
            "input": {"format": dict(PCM_FORMAT), "turn_detection": copy.deepcopy(defaults.turn_detection)},
            "output": {"format": dict(PCM_FORMAT), "voice": defaults.voice},
        },
    }
    merged = deep_merge(session, client)
    instructions = combined_instructions(defaults.instructions, client.get("instructions"))
    if instructions:
        merged["instructions"] = instructions
    if defaults.voice_locked:
        merged["audio"]["output"]["voice"] = defaults.voice
    return merged


def initial_updates(defaults: SessionDefaults, client: dict[str, Any]) -> list[Event]:
    """The `session.update` events to send on a fresh upstream socket, each with its own event_id."""
    updates: list[Event] = [
        {"type": "session.update", "event_id": new_id("event"), "session": effective_session(defaults, client)}
    ]
    client_audio_in = (client.get("audio") or {}).get("input") or {}
    if defaults.transcription_model and "transcription" not in client_audio_in:
        updates.append({
            "type": "session.update",
            "event_id": new_id("event"),
            "session": {"type": "realtime",
                        "audio": {"input": {"transcription": {"model": defaults.transcription_model}}}},
        })
    return updates


def auto_response(session: dict[str, Any]) -> bool:
    """Whether the upstream answers by itself at the end of a user turn (server/semantic VAD with create_response)."""
    turn = ((session.get("audio") or {}).get("input") or {}).get("turn_detection")
    return isinstance(turn, dict) and bool(turn.get("create_response", True))
