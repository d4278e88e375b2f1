"""Client events from a browser or device: allow what a Realtime client may send, strip what it must not control.

Allow-lists, not deny-lists: a client may tune the conversation (instructions, voice, turn detection, transcription,
function tools) but never the model, the upstream, credentials, the audio format (the relay always speaks PCM16 24 kHz)
or anything that makes the service call out elsewhere (MCP servers, tracing).
"""

from __future__ import annotations

import json
from typing import Any

from .events import Event, error_event

MAX_CLIENT_EVENT_BYTES = 1024 * 1024  # audio appends are checked separately
MAX_INSTRUCTIONS_CHARS = 20_000

ALLOWED_TYPES = frozenset(
    {
        "session.update",
        "response.create",
        "response.cancel",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
        "conversation.item.create",
        "conversation.item.delete",
        "conversation.item.retrieve",
        "conversation.item.truncate",
    }
)
_SESSION_KEYS = frozenset({"instructions", "output_modalities", "tools", "tool_choice", "max_output_tokens", "audio"})
_AUDIO_INPUT_KEYS = frozenset({"transcription", "turn_detection", "noise_reduction"})
_AUDIO_OUTPUT_KEYS = frozenset({"voice", "speed"})
_RESPONSE_KEYS = frozenset(
    {"instructions", "output_modalities", "tools", "tool_choice", "max_output_tokens", "conversation", "metadata",
     "input", "audio"}
)
_EVENT_FIELDS = {
    "response.cancel": ("response_id",),
    "input_audio_buffer.commit": (),
    "input_audio_buffer.clear": (),
    "conversation.item.create": ("item", "previous_item_id"),
    "conversation.item.delete": ("item_id",),
    "conversation.item.retrieve": ("item_id",),
    "conversation.item.truncate": ("item_id", "content_index", "audio_end_ms"),
}


class RejectedEvent(Exception):
    """The client event may not pass; `error` is the GA `error` event to return to the client."""

    def __init__(self, error: Event) -> None:
        super().__init__(error["error"]["message"])
        self.error = error


def _reject(message: str, *, code: str, param: str | None = None, event_id: Any = None) -> RejectedEvent:
    return RejectedEvent(
        error_event(message, code=code, param=param, client_event_id=event_id if isinstance(event_id, str) else None)
    )


def _pick(source: Any, keys: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in source.items() if k in keys} if isinstance(source, dict) else {}


def _function_tools(tools: Any) -> list[Any]:
    # Only function tools: MCP tools carry server URLs and credentials of the client's choosing.
    return [t for t in tools if isinstance(t, dict) and t.get("type") == "function"] if isinstance(tools, list) else []


def _clean_session(raw: Any, event_id: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _reject("session.update needs a 'session' object.", code="invalid_value", param="session",
                      event_id=event_id)
    session = _pick(raw, _SESSION_KEYS)
    if "instructions" in session and (
        not isinstance(session["instructions"], str) or len(session["instructions"]) > MAX_INSTRUCTIONS_CHARS
    ):
        raise _reject("session.instructions must be a string of at most 20000 characters.", code="invalid_value",
                      param="session.instructions", event_id=event_id)
    if "tools" in session:
        session["tools"] = _function_tools(session["tools"])
    if "audio" in session:
        audio = session["audio"] if isinstance(session["audio"], dict) else {}
        cleaned = {
            "input": _pick(audio.get("input"), _AUDIO_INPUT_KEYS),
            "output": _pick(audio.get("output"), _AUDIO_OUTPUT_KEYS),
        }
        session["audio"] = {k: v for k, v in cleaned.items() if v}
    session["type"] = "realtime"
    return session


def _clean_response(raw: Any, mode: str) -> dict[str, Any]:
    response = _pick(raw, _RESPONSE_KEYS)
    if "tools" in response:
        response["tools"] = _function_tools(response["tools"])
    if "audio" in response:
        voice = ((response.pop("audio") or {}).get("output") or {}).get("voice")
        if isinstance(voice, str):
            response["audio"] = {"output": {"voice": voice}}
    if mode == "azure":
        # Azure rejects response.output_modalities with unknown_parameter (pipecat#4106).
        response.pop("output_modalities", None)
    return response


def _size_without_images(event: Event) -> int:
    """The event's JSON size, not counting `input_image` data: images have their own limits (web/media/images)."""
    item = event.get("item")
    content = item.get("content") if isinstance(item, dict) else None
    if event.get("type") != "conversation.item.create" or not isinstance(item, dict) or not isinstance(content, list):
        return len(json.dumps(event, ensure_ascii=False))
    parts = [{**p, "image_url": ""} if isinstance(p, dict) and p.get("type") == "input_image" else p for p in content]
    return len(json.dumps({**event, "item": {**item, "content": parts}}, ensure_ascii=False))


def sanitize_client_event(event: Any, *, mode: str = "echo") -> Event:
    """Return the event to forward upstream, or raise `RejectedEvent` carrying the GA error for the client.

    `input_audio_buffer.append` comes back unchanged apart from its fields; the caller decodes and batches the audio.
    """
    if not isinstance(event, dict):
        raise _reject("Client events must be JSON objects.", code="invalid_event")
    event_id = event.get("event_id")
    kind = event.get("type")
    if not isinstance(kind, str):
        raise _reject("The 'type' field is missing.", code="invalid_event", param="type", event_id=event_id)
    if kind not in ALLOWED_TYPES:
        raise _reject(f"Event type '{kind[:80]}' is not supported by this gateway.", code="invalid_value",
                      param="type", event_id=event_id)
    out: Event = {"type": kind}
    if isinstance(event_id, str):
        out["event_id"] = event_id[:64]
    if kind == "input_audio_buffer.append":
        if not isinstance(event.get("audio"), str):
            raise _reject("input_audio_buffer.append needs base64 'audio'.", code="invalid_value", param="audio",
                          event_id=event_id)
        out["audio"] = event["audio"]
        return out
    if _size_without_images(event) > MAX_CLIENT_EVENT_BYTES:
        raise _reject("The event is too large.", code="invalid_value", event_id=event_id)
    if kind == "session.update":
        out["session"] = _clean_session(event.get("session"), event_id)
    elif kind == "response.create":
        response = _clean_response(event.get("response"), mode)
        if response:
            out["response"] = response
    else:
        out.update({k: event[k] for k in _EVENT_FIELDS[kind] if k in event})
    return out
