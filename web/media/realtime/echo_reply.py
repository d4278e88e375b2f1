"""One echo-mode response: the GA response lifecycle around the user's own audio, streamed in ~100 ms deltas."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from .events import BYTES_PER_MS, Event, encode_audio, new_id

ECHO_TRANSCRIPT = "回声模式：这是您刚才说的话 (echo mode: this is what you just said)"
ECHO_NOTHING = "回声模式：还没有可以回放的语音 (echo mode: there is nothing to play back yet)"
CHUNK_MS = 100

Emit = Callable[[Event], Awaitable[None]]


class EchoReply:
    """Streams one response; `run()` is a task, `cancelled_done(reason)` the `response.done` when it is cut short."""

    def __init__(self, emit: Emit, pcm: bytes, *, speed: float, burst_ms: int = 300,
                 transcript: str | None = None) -> None:
        self.response_id = new_id("resp")
        self.item_id = new_id("item")
        self._emit = emit
        self._pcm = pcm
        self._speed = max(speed, 0.1)
        self._burst_ms = burst_ms
        self._transcript = transcript or (ECHO_TRANSCRIPT if pcm else ECHO_NOTHING)
        self.sent_ms = 0  # audio already streamed, the limit for conversation.item.truncate

    def _ids(self) -> dict[str, Any]:
        return {"response_id": self.response_id, "item_id": self.item_id, "output_index": 0, "content_index": 0}

    def item(self, status: str, *, with_content: bool = True) -> dict[str, Any]:
        content = [{"type": "output_audio", "transcript": self._transcript}] if with_content else []
        return {"id": self.item_id, "object": "realtime.item", "type": "message", "role": "assistant",
                "status": status, "content": content}

    def _response(self, status: str, output: list[dict[str, Any]], details: dict[str, Any] | None) -> dict[str, Any]:
        return {"id": self.response_id, "object": "realtime.response", "status": status, "status_details": details,
                "output": output, "output_modalities": ["audio"],
                "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}}}}

    async def _send(self, kind: str, **fields: Any) -> None:
        await self._emit({"type": kind, "event_id": new_id("event"), **fields})

    async def run(self) -> None:
        await self._send("response.created", response=self._response("in_progress", [], None))
        await self._send("response.output_item.added", response_id=self.response_id, output_index=0,
                         item=self.item("in_progress", with_content=False))
        await self._send("conversation.item.added", item=self.item("in_progress", with_content=False))
        await self._send("response.content_part.added", **self._ids(), part={"type": "audio", "transcript": ""})
        await self._send("response.output_audio_transcript.delta", **self._ids(), delta=self._transcript)
        loop = asyncio.get_running_loop()
        started = loop.time()
        chunk = CHUNK_MS * BYTES_PER_MS
        for offset in range(0, len(self._pcm), chunk):
            piece = self._pcm[offset : offset + chunk]
            # Faster than real time like the real service, after a short burst that primes the client's buffer.
            due = started + max(0, self.sent_ms - self._burst_ms) / 1000 / self._speed
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await self._send("response.output_audio.delta", **self._ids(), delta=encode_audio(piece))
            self.sent_ms += len(piece) // BYTES_PER_MS
        await self._send("response.output_audio.done", **self._ids())
        await self._send("response.output_audio_transcript.done", **self._ids(), transcript=self._transcript)
        await self._send("response.content_part.done", **self._ids(),
                         part={"type": "audio", "transcript": self._transcript})
        item = self.item("completed", with_content=True)
        await self._send("response.output_item.done", response_id=self.response_id, output_index=0, item=item)
        await self._send("conversation.item.done", item=item)
        await self._send("response.done", response=self._response("completed", [item], None))

    def cancelled_done(self, reason: str) -> Event:
        """`response.done` with status cancelled; `reason` is turn_detected or client_cancelled."""
        item = self.item("incomplete", with_content=True)
        details = {"type": "cancelled", "reason": reason}
        return {"type": "response.done", "event_id": new_id("event"),
                "response": self._response("cancelled", [item], details)}
