"""Small builders for GA Realtime events shared by the session, the sanitiser and the echo upstream."""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Any

SAMPLE_RATE = 24_000
BYTES_PER_MS = SAMPLE_RATE * 2 // 1000  # PCM16 mono: 48 bytes per millisecond
PCM_FORMAT: dict[str, Any] = {"type": "audio/pcm", "rate": SAMPLE_RATE}

Event = dict[str, Any]


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


def error_event(
    message: str,
    *,
    code: str | None = None,
    error_type: str = "invalid_request_error",
    param: str | None = None,
    client_event_id: str | None = None,
) -> Event:
    """An `error` server event in the GA shape; `client_event_id` names the client event that caused it."""
    return {
        "type": "error",
        "event_id": new_id("event"),
        "error": {
            "type": error_type,
            "code": code,
            "message": message,
            "param": param,
            "event_id": client_event_id,
        },
    }


def encode_audio(pcm: bytes) -> str:
    return base64.b64encode(pcm).decode("ascii")


def decode_audio(b64: str) -> bytes:
    """Base64 → PCM bytes; raises ValueError on invalid base64 or an odd byte count."""
    try:
        pcm = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("audio is not valid base64") from exc
    if len(pcm) % 2:
        raise ValueError("PCM16 audio must have an even number of bytes")
    return pcm


def decode_audio_delta(event: Event) -> bytes:
    """PCM16 24 kHz mono bytes carried by a `response.output_audio.delta` event."""
    return decode_audio(str(event.get("delta", "")))


def audio_ms(pcm_bytes: int) -> int:
    return pcm_bytes // BYTES_PER_MS


def default_turn_detection() -> dict[str, Any]:
    """Server VAD as the real service defaults it (threshold 0.5, 300 ms prefix, 500 ms silence)."""
    return {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
        "create_response": True,
        "interrupt_response": True,
    }
