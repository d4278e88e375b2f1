"""`ConversationMeter`: the session observer that counts one conversation's usage while it runs.

It only adds numbers (no I/O, nothing awaited): the session calls it on its reader task for every upstream event.
At the end it hands its record to `on_end` (the recorder's queue), which writes it to the database elsewhere.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from loguru import logger

from web.usage.tokens import PriceTable, TokenCounts, from_response_usage, from_transcription_usage

PCM16_24K_BYTES_PER_S = 48_000  # the gateway's audio format on both sides (PCM16, 24 kHz, mono)
TRANSCRIPTION_DONE = "conversation.item.input_audio_transcription.completed"


def base64_payload_bytes(text: str) -> int:
    """Decoded length of base64 text without decoding it."""
    return len(text) * 3 // 4 - text[-2:].count("=") if text else 0


class ConversationMeter:
    def __init__(self, info: dict[str, Any], *, upstream: str, prices: PriceTable,
                 on_end: Callable[[ConversationMeter], None], clock: Callable[[], float] = time.time) -> None:
        self.call_id = str(info["call_id"])
        self.user_id = int(info["user_id"])
        self.transport = str(info["transport"])
        token_id = info.get("token_id")  # the device token that admitted the call, None for a browser session
        self.token_id = int(token_id) if token_id is not None else None
        self.upstream = upstream
        self.prices = prices
        self.tokens = TokenCounts()
        self.responses = 0
        self.audio_in_bytes = 0
        self.audio_out_bytes = 0
        self.started_at = clock()
        self.ended_at: float | None = None
        self.end_reason = ""
        self._began = time.monotonic()
        self._clock = clock
        self._on_end = on_end
        self._session: Any = None

    def attach(self, session: Any) -> None:
        self._session = session
        session.observer = self

    # --- SessionObserver -------------------------------------------------------------------------------------------
    def upstream_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "response.output_audio.delta":
            delta = event.get("delta")
            if isinstance(delta, str):
                self.audio_out_bytes += base64_payload_bytes(delta)
        elif kind == "response.done":
            response = event.get("response")
            if isinstance(response, dict):
                self.responses += 1
                self.tokens.add(from_response_usage(response.get("usage")))
        elif kind == TRANSCRIPTION_DONE:
            self.tokens.add(from_transcription_usage(event.get("usage")))

    def session_closed(self, session: Any) -> None:
        if self.ended_at is not None:
            return
        self.ended_at = self.started_at + (time.monotonic() - self._began)
        self.end_reason = str(getattr(session, "close_reason", "") or "")
        self.audio_in_bytes = int(getattr(session, "audio_in_bytes", 0) or 0)
        try:
            self._on_end(self)
        except Exception:  # never into the session's close path
            logger.opt(exception=True).error("usage record could not be queued", call_id=self.call_id)

    # --- figures ---------------------------------------------------------------------------------------------------
    @property
    def duration_s(self) -> float:
        if self.ended_at is not None:
            return max(0.0, self.ended_at - self.started_at)
        return time.monotonic() - self._began

    @property
    def audio_in_s(self) -> float:
        live = int(getattr(self._session, "audio_in_bytes", 0) or 0) if self.ended_at is None else 0
        return max(self.audio_in_bytes, live) / PCM16_24K_BYTES_PER_S

    @property
    def audio_out_s(self) -> float:
        return self.audio_out_bytes / PCM16_24K_BYTES_PER_S

    @property
    def cost_usd(self) -> float:
        return self.prices.cost(self.tokens)

    def record(self) -> dict[str, Any]:
        """The `conversations` row."""
        t = self.tokens
        return {
            "call_id": self.call_id, "user_id": self.user_id, "token_id": self.token_id,
            "transport": self.transport, "upstream": self.upstream, "started_at": self.started_at,
            "ended_at": self.started_at + self.duration_s, "end_reason": self.end_reason,
            "audio_in_s": round(self.audio_in_s, 3), "audio_out_s": round(self.audio_out_s, 3),
            "responses": self.responses,
            "input_text_tokens": t.input_text, "input_audio_tokens": t.input_audio,
            "input_image_tokens": t.input_image, "cached_text_tokens": t.cached_text,
            "cached_audio_tokens": t.cached_audio, "cached_image_tokens": t.cached_image,
            "output_text_tokens": t.output_text, "output_audio_tokens": t.output_audio,
            "transcription_input_tokens": t.transcription_input,
            "transcription_output_tokens": t.transcription_output,
            "transcription_s": round(t.transcription_s, 3), "total_tokens": t.total,
            "cost_usd": round(self.cost_usd, 6),
        }
