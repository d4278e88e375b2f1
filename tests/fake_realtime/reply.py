"""The fake's canned response: a sine tone (PCM16 24 kHz) plus a transcript, in the full GA response lifecycle."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from .options import FakeOptions
from .shapes import Event, eid

CHUNK_MS = 100
Send = Callable[[Event], Awaitable[None]]


def tone(ms: int, hz: float, amplitude: float) -> bytes:
    t = np.arange(24 * ms) / 24_000.0
    return (np.sin(2 * np.pi * hz * t) * amplitude * 32767).astype("<i2").tobytes()


def realistic_usage(options: FakeOptions) -> dict[str, Any]:
    """The service's usage block: audio output at 20 tokens/s of reply, one text token per transcript word."""
    out_text, out_audio = len(options.reply_transcript.split()), options.reply_ms // 50
    in_text, in_audio, cached = options.usage_input_text, options.usage_input_audio, options.usage_cached_text
    return {
        "total_tokens": in_text + in_audio + out_text + out_audio,
        "input_tokens": in_text + in_audio,
        "output_tokens": out_text + out_audio,
        "input_token_details": {"text_tokens": in_text, "audio_tokens": in_audio, "image_tokens": 0,
                                "cached_tokens": cached,
                                "cached_tokens_details": {"text_tokens": cached, "audio_tokens": 0, "image_tokens": 0}},
        "output_token_details": {"text_tokens": out_text, "audio_tokens": out_audio},
    }


class FakeReply:
    def __init__(self, send: Send, options: FakeOptions, *, on_first_audio: Callable[[], Awaitable[None]]) -> None:
        self.id = eid("resp")
        self.item_id = eid("item")
        self.sent_ms = 0
        self._send = send
        self._options = options
        self._on_first_audio = on_first_audio

    def _ids(self) -> dict[str, Any]:
        return {"response_id": self.id, "item_id": self.item_id, "output_index": 0, "content_index": 0}

    def item(self, status: str) -> dict[str, Any]:
        return {"id": self.item_id, "object": "realtime.item", "type": "message", "role": "assistant",
                "status": status, "content": [{"type": "output_audio", "transcript": self._options.reply_transcript}]}

    def response(self, status: str, details: dict[str, Any] | None, output: list[Any]) -> dict[str, Any]:
        usage = realistic_usage(self._options)
        return {"id": self.id, "object": "realtime.response", "status": status, "status_details": details,
                "output": output, "output_modalities": ["audio"], "usage": usage if status != "in_progress" else None}

    async def _emit(self, kind: str, **fields: Any) -> None:
        await self._send({"type": kind, "event_id": eid(), **fields})

    async def run(self) -> None:
        options = self._options
        await self._emit("response.created", response=self.response("in_progress", None, []))
        await self._emit("rate_limits.updated", rate_limits=[
            {"name": "requests", "limit": 1000, "remaining": 999, "reset_seconds": 60.0},
            {"name": "tokens", "limit": 100000, "remaining": 99000, "reset_seconds": 60.0}])
        await self._emit("response.output_item.added", response_id=self.id, output_index=0,
                         item={**self.item("in_progress"), "content": []})
        await self._emit("conversation.item.added", item={**self.item("in_progress"), "content": []})
        await self._emit("response.content_part.added", **self._ids(), part={"type": "audio", "transcript": ""})
        if options.first_audio_delay_s:
            await asyncio.sleep(options.first_audio_delay_s)
        pcm = tone(options.reply_ms, options.tone_hz, options.tone_amplitude)
        words = options.reply_transcript.split(" ")
        step = CHUNK_MS * 48
        chunks = [pcm[i : i + step] for i in range(0, len(pcm), step)]
        for index, chunk in enumerate(chunks):
            if index < len(words):
                await self._emit("response.output_audio_transcript.delta", **self._ids(),
                                 delta=words[index] + (" " if index < len(words) - 1 else ""))
            await self._emit("response.output_audio.delta", **self._ids(), delta=base64.b64encode(chunk).decode())
            self.sent_ms += len(chunk) // 48
            if index == 0:
                await self._on_first_audio()
            await asyncio.sleep(CHUNK_MS / 1000 / options.audio_speed)
        if len(words) > len(chunks):
            await self._emit("response.output_audio_transcript.delta", **self._ids(),
                             delta=" " + " ".join(words[len(chunks):]))
        await self._emit("response.output_audio.done", **self._ids())
        await self._emit("response.output_audio_transcript.done", **self._ids(), transcript=options.reply_transcript)
        await self._emit("response.content_part.done", **self._ids(),
                         part={"type": "audio", "transcript": options.reply_transcript})
        await self._emit("response.output_item.done", response_id=self.id, output_index=0,
                         item=self.item("completed"))
        await self._emit("conversation.item.done", item=self.item("completed"))
        await self._emit("response.done", response=self.response("completed", None, [self.item("completed")]))

    def cancelled(self, reason: str) -> Event:
        return {"type": "response.done", "event_id": eid(),
                "response": self.response("cancelled", {"type": "cancelled", "reason": reason},
                                          [self.item("incomplete")])}
