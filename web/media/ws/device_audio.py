"""The audio format a WebSocket client speaks, when it is not the relay's PCM16 24 kHz: glasses send 16 kHz PCM16 or
G.711 (`audio/pcmu`, `audio/pcma`, 8 kHz), and may want the reply in the same format.

`session.update` may set `audio.input.format` / `audio.output.format` in the GA shape (`{type, rate}`); this module
checks the choice (an invalid one refuses the whole update with an `error` event, as the service does), converts each
`input_audio_buffer.append` to PCM16 24 kHz before the session sees it, converts `response.output_audio.delta` to the
output format on the way back, and shows the client its own formats in `session.created` / `session.updated`. The
upstream is never told: it always gets PCM16 24 kHz.
"""

from __future__ import annotations

import base64
import binascii
import copy
from dataclasses import dataclass
from typing import Any

from web.media.audio import g711
from web.media.audio.resample import PcmResampler, pcm_to_frame
from web.media.realtime import error_event

Event = dict[str, Any]
RELAY_RATE = 24_000
PCM_RATES = (16_000, 24_000)
G711 = {"audio/pcmu": "ulaw", "audio/pcma": "alaw"}
G711_RATE = 8_000


class FormatError(ValueError):
    pass


class FormatRefused(Exception):
    """A `session.update` whose audio format cannot be served; `error` is the GA error event for the client."""

    def __init__(self, error: Event) -> None:
        super().__init__(error["error"]["message"])
        self.error = error


@dataclass(frozen=True)
class AudioFormat:
    type: str = "audio/pcm"
    rate: int = RELAY_RATE

    @property
    def is_relay(self) -> bool:
        return self.type == "audio/pcm" and self.rate == RELAY_RATE

    def as_ga(self) -> dict[str, Any]:
        return {"type": self.type, "rate": self.rate} if self.type == "audio/pcm" else {"type": self.type}


def parse_format(raw: Any) -> AudioFormat:
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise FormatError("must be an object like {\"type\": \"audio/pcm\", \"rate\": 16000}")
    kind, rate = raw["type"], raw.get("rate")
    if kind == "audio/pcm":
        rate = RELAY_RATE if rate is None else rate
        if rate not in PCM_RATES or isinstance(rate, bool):
            raise FormatError("audio/pcm takes rate 16000 or 24000")
        return AudioFormat(kind, int(rate))
    if kind in G711:
        if rate not in (None, G711_RATE):
            raise FormatError(f"{kind} is 8000 Hz G.711; leave rate out")
        return AudioFormat(kind, G711_RATE)
    raise FormatError("type must be audio/pcm, audio/pcmu or audio/pcma")


class _Converter:
    """One direction's stream conversion (stateful: the resampler keeps its filter history between chunks)."""

    def __init__(self, source: AudioFormat, target: AudioFormat) -> None:
        self.source, self.target = source, target
        self._resampler = PcmResampler(target.rate) if source.rate != target.rate else None
        self._pts = 0

    def __call__(self, data: bytes) -> bytes:
        pcm = g711.decode(data, G711[self.source.type]) if self.source.type in G711 else data[: len(data) & ~1]
        if self._resampler is not None and pcm:
            frame = pcm_to_frame(pcm, self.source.rate, pts=self._pts)
            self._pts += len(pcm) // 2
            pcm = self._resampler.resample(frame)
        return g711.encode(pcm, G711[self.target.type]) if self.target.type in G711 else pcm


class DeviceAudio:
    def __init__(self) -> None:
        self.input = self.output = AudioFormat()
        self._uplink: _Converter | None = None
        self._downlink: _Converter | None = None

    # --- client → session ------------------------------------------------------------------------------------------
    def from_client(self, event: Any) -> Any:
        """The event for the session (audio converted); raises `FormatRefused` for an unusable format."""
        if not isinstance(event, dict):
            return event
        kind = event.get("type")
        if kind == "session.update":
            return self._session_update(event)
        if kind == "input_audio_buffer.append" and self._uplink is not None and isinstance(event.get("audio"), str):
            try:
                raw = base64.b64decode(event["audio"], validate=True)
            except (binascii.Error, ValueError):
                return event  # the session refuses it with its own message
            return {**event, "audio": base64.b64encode(self._uplink(raw)).decode("ascii")}
        return event

    def _session_update(self, event: Event) -> Event:
        session = event.get("session")
        audio = session.get("audio") if isinstance(session, dict) else None
        if not isinstance(audio, dict):
            return event
        chosen: dict[str, AudioFormat] = {}
        for side in ("input", "output"):
            part = audio.get(side)
            if isinstance(part, dict) and "format" in part:
                try:
                    chosen[side] = parse_format(part["format"])
                except FormatError as exc:
                    event_id = event.get("event_id")
                    raise FormatRefused(error_event(f"Invalid audio.{side}.format: {exc}.", code="invalid_value",
                                             param=f"session.audio.{side}.format",
                                             client_event_id=event_id if isinstance(event_id, str) else None)) from exc
        if "input" in chosen and chosen["input"] != self.input:
            self.input = chosen["input"]
            self._uplink = None if self.input.is_relay else _Converter(self.input, AudioFormat())
        if "output" in chosen and chosen["output"] != self.output:
            self.output = chosen["output"]
            self._downlink = None if self.output.is_relay else _Converter(AudioFormat(), self.output)
        return event  # the sanitiser drops `format`: the upstream always speaks PCM16 24 kHz

    # --- session → client ------------------------------------------------------------------------------------------
    def to_client(self, event: Event) -> Event:
        kind = event.get("type")
        if kind == "response.output_audio.delta" and self._downlink is not None and isinstance(event.get("delta"), str):
            try:
                pcm = base64.b64decode(event["delta"])
            except (binascii.Error, ValueError):
                return event
            return {**event, "delta": base64.b64encode(self._downlink(pcm)).decode("ascii")}
        if kind in ("session.created", "session.updated") and isinstance(event.get("session"), dict) and (
            self._uplink is not None or self._downlink is not None
        ):
            event = copy.deepcopy(event)
            audio = event["session"].setdefault("audio", {})
            if isinstance(audio, dict):
                audio.setdefault("input", {})["format"] = self.input.as_ga()
                audio.setdefault("output", {})["format"] = self.output.as_ga()
        return event
