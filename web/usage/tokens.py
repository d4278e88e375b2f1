"""Token counts by kind, read from the upstream's `response.done` usage and transcription usage, and their cost.

`response.done.response.usage` = {input_tokens, output_tokens, input_token_details{text_tokens, audio_tokens,
image_tokens, cached_tokens, cached_tokens_details{text_tokens, audio_tokens, image_tokens}}, output_token_details
{text_tokens, audio_tokens}}. Cached tokens are a subset of input tokens. When the details are missing, the part of
a total not split by kind counts as text (cached tokens without details as cached text).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from web.settings import Settings

KINDS = ("input_text", "input_audio", "input_image", "cached_text", "cached_audio", "cached_image",
         "output_text", "output_audio", "transcription_input", "transcription_output")


def _count(source: Any, key: str) -> int:
    value = source.get(key) if isinstance(source, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(0, int(value))


@dataclass
class TokenCounts:
    input_text: int = 0
    input_audio: int = 0
    input_image: int = 0
    cached_text: int = 0
    cached_audio: int = 0
    cached_image: int = 0
    output_text: int = 0
    output_audio: int = 0
    transcription_input: int = 0
    transcription_output: int = 0
    transcription_s: float = 0.0

    @property
    def total(self) -> int:
        """Input + output tokens of responses and transcription (cached ones are already inside input)."""
        return (self.input_text + self.input_audio + self.input_image + self.output_text + self.output_audio
                + self.transcription_input + self.transcription_output)

    def add(self, other: TokenCounts) -> None:
        for spec in fields(self):
            setattr(self, spec.name, getattr(self, spec.name) + getattr(other, spec.name))

    def as_dict(self) -> dict[str, int]:
        return {kind: int(getattr(self, kind)) for kind in KINDS}


def from_response_usage(usage: Any) -> TokenCounts:
    counts = TokenCounts()
    if not isinstance(usage, dict):
        return counts
    details = usage.get("input_token_details") or {}
    counts.input_audio = _count(details, "audio_tokens")
    counts.input_image = _count(details, "image_tokens")
    counts.input_text = _count(details, "text_tokens")
    counts.input_text += max(0, _count(usage, "input_tokens") - counts.input_text - counts.input_audio
                             - counts.input_image)
    cached = details.get("cached_tokens_details") if isinstance(details, dict) else None
    if isinstance(cached, dict):
        counts.cached_text = min(counts.input_text, _count(cached, "text_tokens"))
        counts.cached_audio = min(counts.input_audio, _count(cached, "audio_tokens"))
        counts.cached_image = min(counts.input_image, _count(cached, "image_tokens"))
    else:
        counts.cached_text = min(counts.input_text, _count(details, "cached_tokens"))
    out = usage.get("output_token_details") or {}
    counts.output_audio = _count(out, "audio_tokens")
    counts.output_text = _count(out, "text_tokens")
    counts.output_text += max(0, _count(usage, "output_tokens") - counts.output_text - counts.output_audio)
    return counts


def from_transcription_usage(usage: Any) -> TokenCounts:
    """`{type: "tokens", input_tokens, output_tokens, …}` or `{type: "duration", seconds}`."""
    counts = TokenCounts()
    if not isinstance(usage, dict):
        return counts
    if usage.get("type") == "duration":
        seconds = usage.get("seconds")
        if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds > 0:
            counts.transcription_s = float(seconds)
        return counts
    counts.transcription_input = _count(usage, "input_tokens")
    counts.transcription_output = _count(usage, "output_tokens")
    return counts


@dataclass(frozen=True)
class PriceTable:
    """US dollars per million tokens by kind (and per minute of duration-billed transcription): estimates."""

    text_input: float
    text_cached: float
    audio_input: float
    audio_cached: float
    image_input: float
    image_cached: float
    text_output: float
    audio_output: float
    transcription_input: float
    transcription_output: float
    transcription_minute: float

    @classmethod
    def from_settings(cls, settings: Settings) -> PriceTable:
        return cls(**{spec.name: float(getattr(settings, "usage_price_" + spec.name)) for spec in fields(cls)})

    def cost(self, c: TokenCounts) -> float:
        per_token = (
            (c.input_text - c.cached_text) * self.text_input + c.cached_text * self.text_cached
            + (c.input_audio - c.cached_audio) * self.audio_input + c.cached_audio * self.audio_cached
            + (c.input_image - c.cached_image) * self.image_input + c.cached_image * self.image_cached
            + c.output_text * self.text_output + c.output_audio * self.audio_output
            + c.transcription_input * self.transcription_input + c.transcription_output * self.transcription_output
        )
        return per_token / 1_000_000 + c.transcription_s / 60 * self.transcription_minute
