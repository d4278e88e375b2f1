"""Event shapes of the two protocols the fake speaks: GA (`/openai/v1/realtime`, `/v1/realtime`) and beta (preview).

Written independently of `web.media.realtime.beta`, so the relay's translation is checked against a second reading
of the reference, not against itself.
"""

from __future__ import annotations

import copy
import secrets
from typing import Any

Event = dict[str, Any]

BETA_NAMES = {
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "conversation.item.added": "conversation.item.created",
}
GA_SESSION_KEYS = {"type", "model", "instructions", "audio", "output_modalities", "tools", "tool_choice",
                   "max_output_tokens", "tracing", "truncation", "prompt", "include"}
GA_AUDIO_IN_KEYS = {"format", "transcription", "turn_detection", "noise_reduction"}
GA_AUDIO_OUT_KEYS = {"format", "voice", "speed"}
BETA_SESSION_KEYS = {"model", "modalities", "instructions", "voice", "input_audio_format", "output_audio_format",
                     "input_audio_transcription", "turn_detection", "tools", "tool_choice", "temperature",
                     "max_response_output_tokens", "input_audio_noise_reduction", "speed"}


def eid(prefix: str = "event") -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def error(message: str, *, code: str | None, param: str | None = None, event_id: Any = None,
          kind: str = "invalid_request_error") -> Event:
    return {"type": "error", "event_id": eid(),
            "error": {"type": kind, "code": code, "message": message, "param": param,
                      "event_id": event_id if isinstance(event_id, str) else None}}


def default_config(model: str) -> dict[str, Any]:
    """Protocol-neutral session state."""
    return {
        "id": eid("sess"), "model": model, "instructions": "You are a fake assistant.", "voice": "alloy",
        "modalities": ["audio"], "transcription": None, "speed": 1.0,
        "turn_detection": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                           "silence_duration_ms": 500, "create_response": True, "interrupt_response": True},
    }


def render_session(config: dict[str, Any], protocol: str, expires_at: int) -> dict[str, Any]:
    if protocol == "beta":
        return {
            "id": config["id"], "object": "realtime.session", "model": config["model"],
            "modalities": ["text", "audio"] if "audio" in config["modalities"] else ["text"],
            "instructions": config["instructions"], "voice": config["voice"],
            "input_audio_format": "pcm16", "output_audio_format": "pcm16",
            "input_audio_transcription": config["transcription"], "turn_detection": config["turn_detection"],
            "tools": [], "tool_choice": "auto", "temperature": 0.8, "max_response_output_tokens": "inf",
            "expires_at": expires_at,
        }
    pcm = {"type": "audio/pcm", "rate": 24000}
    return {
        "type": "realtime", "object": "realtime.session", "id": config["id"], "model": config["model"],
        "output_modalities": config["modalities"], "instructions": config["instructions"],
        "audio": {"input": {"format": pcm, "transcription": config["transcription"],
                            "turn_detection": config["turn_detection"], "noise_reduction": None},
                  "output": {"format": pcm, "voice": config["voice"], "speed": config["speed"]}},
        "tools": [], "tool_choice": "auto", "max_output_tokens": "inf", "expires_at": expires_at,
    }


def apply_update(config: dict[str, Any], session: Any, protocol: str, event_id: Any) -> Event | None:
    """Apply a client `session.update` to `config`; returns an `error` event when the service would refuse it."""
    if not isinstance(session, dict):
        return error("Missing required parameter: 'session'.", code="missing_required_parameter", param="session",
                     event_id=event_id)
    if protocol == "beta":
        for key in session:
            if key not in BETA_SESSION_KEYS:
                return error(f"Unknown parameter: 'session.{key}'.", code="unknown_parameter",
                             param=f"session.{key}", event_id=event_id)
        flat = session
        audio_in: dict[str, Any] = {"turn_detection": flat["turn_detection"]} if "turn_detection" in flat else {}
        if "input_audio_transcription" in flat:
            audio_in["transcription"] = flat["input_audio_transcription"]
        audio_out = {k: flat[k] for k in ("voice", "speed") if k in flat}
        modalities = flat.get("modalities")
    else:
        if session.get("type") not in ("realtime", "transcription"):
            return error("Session configuration rejected: missing type.", code="missing_required_parameter",
                         param="session.type", event_id=event_id)
        for key in session:
            if key not in GA_SESSION_KEYS:
                return error(f"Unknown parameter: 'session.{key}'.", code="unknown_parameter",
                             param=f"session.{key}", event_id=event_id)
        audio = session.get("audio") or {}
        audio_in, audio_out = audio.get("input") or {}, audio.get("output") or {}
        for side, allowed, values in (("input", GA_AUDIO_IN_KEYS, audio_in), ("output", GA_AUDIO_OUT_KEYS, audio_out)):
            for key in values:
                if key not in allowed:
                    return error(f"Unknown parameter: 'session.audio.{side}.{key}'.", code="unknown_parameter",
                                 param=f"session.audio.{side}.{key}", event_id=event_id)
        modalities = session.get("output_modalities")
    if "model" in session and session["model"] != config["model"]:
        return error("The session model cannot be changed.", code="invalid_value", param="session.model",
                     event_id=event_id)
    if "instructions" in session:
        config["instructions"] = str(session["instructions"])
    if "turn_detection" in audio_in:
        config["turn_detection"] = audio_in["turn_detection"]
    if "transcription" in audio_in:
        config["transcription"] = audio_in["transcription"]
    for key in ("voice", "speed"):
        if key in audio_out:
            config[key] = audio_out[key]
    if isinstance(modalities, list):
        config["modalities"] = ["audio"] if "audio" in modalities else ["text"]
    return None


def to_protocol(event: Event, protocol: str) -> Event:
    """A GA server event as the given protocol spells it."""
    if protocol != "beta":
        return event
    event = copy.deepcopy(event)
    event["type"] = BETA_NAMES.get(event["type"], event["type"])
    for holder in (event, event.get("response") or {}):
        items = [holder["item"]] if isinstance(holder.get("item"), dict) else holder.get("output") or []
        for item in items:
            item.pop("object", None)
            for content in item.get("content") or []:
                if content.get("type") in ("output_audio", "output_text"):
                    content["type"] = content["type"].removeprefix("output_")
    response = event.get("response")
    if isinstance(response, dict) and "output_modalities" in response:
        response = dict(response)
        response["modalities"] = ["text", "audio"] if "audio" in response.pop("output_modalities") else ["text"]
        event["response"] = response
    return event
