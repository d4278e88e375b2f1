"""Translation between the GA event shapes our clients speak and the beta shapes of Azure's preview path.

Only the preview path (`/openai/realtime?api-version=…-preview`) needs this. GA fields the beta protocol does not know
(`session.type`, `output_modalities`, nested `audio`) are rejected there with `unknown_parameter`, so they are mapped to
the flat beta fields, or dropped when beta has no equivalent. Item content parts change type (`audio` →
`output_audio`), but the `part` of `response.content_part.*` events stays `audio`/`text` in GA too (openai SDK types).
Beta announces an item once, as `conversation.item.created`; GA clients build their history from
`conversation.item.added` and `conversation.item.done`, so `server_events_to_ga` sends those instead.
"""

from __future__ import annotations

import copy
from typing import Any

Event = dict[str, Any]

_SERVER_RENAMES = {
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
}
_FORMAT_TO_BETA = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}
_FORMAT_TO_GA = {beta: ga for ga, beta in _FORMAT_TO_BETA.items()}
_PART_TO_GA = {"audio": "output_audio", "text": "output_text"}
_PART_TO_BETA = {ga: beta for beta, ga in _PART_TO_GA.items()}
_SESSION_PASSTHROUGH = ("instructions", "tools", "tool_choice")


def _format_to_beta(fmt: Any) -> str:
    if isinstance(fmt, dict):
        return _FORMAT_TO_BETA.get(str(fmt.get("type")), "pcm16")
    return "pcm16"


def _format_to_ga(fmt: Any) -> dict[str, Any]:
    kind = _FORMAT_TO_GA.get(str(fmt), "audio/pcm")
    return {"type": kind, "rate": 24000} if kind == "audio/pcm" else {"type": kind}


def _modalities_to_beta(output_modalities: Any) -> list[str]:
    # GA "audio" means audio plus its transcript; beta spells that ["text", "audio"].
    return ["text", "audio"] if "audio" in (output_modalities or ["audio"]) else ["text"]


def session_to_beta(session: dict[str, Any]) -> dict[str, Any]:
    beta: dict[str, Any] = {k: session[k] for k in _SESSION_PASSTHROUGH if k in session}
    if "output_modalities" in session:
        beta["modalities"] = _modalities_to_beta(session["output_modalities"])
    if "max_output_tokens" in session:
        beta["max_response_output_tokens"] = session["max_output_tokens"]
    audio_in = (session.get("audio") or {}).get("input") or {}
    audio_out = (session.get("audio") or {}).get("output") or {}
    if "format" in audio_in:
        beta["input_audio_format"] = _format_to_beta(audio_in["format"])
    if "transcription" in audio_in:
        beta["input_audio_transcription"] = audio_in["transcription"]
    if "turn_detection" in audio_in:
        beta["turn_detection"] = audio_in["turn_detection"]
    if "noise_reduction" in audio_in:
        beta["input_audio_noise_reduction"] = audio_in["noise_reduction"]
    if "format" in audio_out:
        beta["output_audio_format"] = _format_to_beta(audio_out["format"])
    for key in ("voice", "speed"):
        if key in audio_out:
            beta[key] = audio_out[key]
    return beta


def session_to_ga(beta: dict[str, Any]) -> dict[str, Any]:
    ga: dict[str, Any] = {"type": "realtime", "object": "realtime.session"}
    for key in ("id", "model", "expires_at", *_SESSION_PASSTHROUGH):
        if key in beta:
            ga[key] = beta[key]
    if "modalities" in beta:
        ga["output_modalities"] = ["audio"] if "audio" in (beta["modalities"] or []) else ["text"]
    if "max_response_output_tokens" in beta:
        ga["max_output_tokens"] = beta["max_response_output_tokens"]
    audio_in: dict[str, Any] = {}
    if "input_audio_format" in beta:
        audio_in["format"] = _format_to_ga(beta["input_audio_format"])
    for beta_key, ga_key in (
        ("input_audio_transcription", "transcription"),
        ("turn_detection", "turn_detection"),
        ("input_audio_noise_reduction", "noise_reduction"),
    ):
        if beta_key in beta:
            audio_in[ga_key] = beta[beta_key]
    audio_out: dict[str, Any] = {}
    if "output_audio_format" in beta:
        audio_out["format"] = _format_to_ga(beta["output_audio_format"])
    for key in ("voice", "speed"):
        if key in beta:
            audio_out[key] = beta[key]
    ga["audio"] = {"input": audio_in, "output": audio_out}
    return ga


def _item_to(item: Any, part_map: dict[str, str], *, ga: bool) -> Any:
    if not isinstance(item, dict):
        return item
    item = dict(item)
    if ga:
        item.setdefault("object", "realtime.item")
    else:
        item.pop("object", None)
    if isinstance(item.get("content"), list):
        item["content"] = [
            {**part, "type": part_map.get(str(part.get("type")), part.get("type"))} if isinstance(part, dict) else part
            for part in item["content"]
        ]
    return item


def client_to_beta(event: Event) -> Event:
    """A sanitised GA client event → the beta shape the preview path accepts."""
    event = copy.deepcopy(event)
    kind = event.get("type")
    if kind == "session.update" and isinstance(event.get("session"), dict):
        event["session"] = session_to_beta(event["session"])
    elif kind == "response.create" and isinstance(event.get("response"), dict):
        response = event["response"]
        if "output_modalities" in response:
            response["modalities"] = _modalities_to_beta(response.pop("output_modalities"))
        audio_out = (response.pop("audio", None) or {}).get("output") or {}
        if "voice" in audio_out:
            response["voice"] = audio_out["voice"]
        if "format" in audio_out:
            response["output_audio_format"] = _format_to_beta(audio_out["format"])
    elif kind == "conversation.item.create" and "item" in event:
        event["item"] = _item_to(event["item"], _PART_TO_BETA, ga=False)
    return event


def _response_to_ga(response: Any) -> Any:
    if not isinstance(response, dict):
        return response
    response = dict(response)
    if "modalities" in response:
        response["output_modalities"] = ["audio"] if "audio" in (response.pop("modalities") or []) else ["text"]
    voice = response.pop("voice", None)
    fmt = response.pop("output_audio_format", None)
    if voice is not None or fmt is not None:
        out: dict[str, Any] = {}
        if fmt is not None:
            out["format"] = _format_to_ga(fmt)
        if voice is not None:
            out["voice"] = voice
        response["audio"] = {"output": out}
    if isinstance(response.get("output"), list):
        response["output"] = [_item_to(item, _PART_TO_GA, ga=True) for item in response["output"]]
    return response


def server_to_ga(event: Event) -> Event:
    """A beta server event → the GA name and shape."""
    event = dict(event)
    kind = str(event.get("type", ""))
    event["type"] = kind = _SERVER_RENAMES.get(kind, kind)
    if kind in ("session.created", "session.updated") and isinstance(event.get("session"), dict):
        event["session"] = session_to_ga(event["session"])
    elif kind in ("response.created", "response.done"):
        event["response"] = _response_to_ga(event.get("response"))
    if "item" in event:
        event["item"] = _item_to(event["item"], _PART_TO_GA, ga=True)
    return event


def server_events_to_ga(event: Event) -> list[Event]:
    """A beta server event → the GA events it stands for. `conversation.item.created` becomes
    `conversation.item.added` (in progress) followed by `conversation.item.done`, unless the item is still in progress
    (a response's output item, which beta finishes with `response.output_item.done`; GA follows that with
    `conversation.item.done`)."""
    ga = server_to_ga(event)
    kind = ga.get("type")
    if kind == "conversation.item.created":
        ga["type"] = "conversation.item.added"
        item = ga.get("item")
        if not isinstance(item, dict) or item.get("status") == "in_progress":
            return [ga]
        done = _item_done(ga)
        ga["item"] = {**item, "status": "in_progress"}  # as GA sends it: added in progress, then done
        return [ga, done]
    if kind == "response.output_item.done" and isinstance(ga.get("item"), dict):
        return [ga, _item_done(ga)]
    return [ga]


def _item_done(event: Event) -> Event:
    done: Event = {"type": "conversation.item.done", "item": event["item"]}
    if "event_id" in event:
        done["event_id"] = f"{event['event_id']}_done"  # event ids stay unique
    if "previous_item_id" in event:
        done["previous_item_id"] = event["previous_item_id"]
    return done
