"""Stand-in realtime sessions for benchmarks (they implement the call's `RealtimeSessionLike`).

- `RecordingSession` swallows audio and remembers when each append left for the "upstream".
- `ToneSession` also talks all the time: a 440 Hz reply streamed in 100 ms deltas at real time, so a call carries
  audio both ways continuously (the worst case for capacity).
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np

Event = dict[str, Any]


class RecordingSession:
    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        self.closed = asyncio.Event()
        self.close_reason: str | None = None
        self.appends: list[tuple[float, int]] = []  # (monotonic time, bytes)
        self.events_in: list[Event] = []

    async def start(self) -> None:
        return None

    async def send_client_event(self, event: Event) -> None:
        self.events_in.append(event)

    async def append_audio(self, pcm16_24k_mono: bytes) -> None:
        self.appends.append((time.monotonic(), len(pcm16_24k_mono)))

    def events(self) -> AsyncIterator[Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[Event]:
        yield {"type": "session.created", "session": {"id": "bench"}}
        await self.closed.wait()

    async def truncate(self, item_id: str, content_index: int, audio_end_ms: int) -> None:
        return None

    async def close(self, reason: str) -> None:
        self.close_reason = self.close_reason or reason
        self.closed.set()


def _tone_delta(ms: int) -> str:
    t = np.arange(24 * ms) / 24_000
    pcm = (0.3 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16).tobytes()
    return base64.b64encode(pcm).decode("ascii")


class ToneSession(RecordingSession):
    DELTA_MS = 100
    _delta = _tone_delta(DELTA_MS)

    async def _events(self) -> AsyncIterator[Event]:
        yield {"type": "session.created", "session": {"id": "bench"}}
        start, n = time.monotonic(), 0
        while not self.closed.is_set():
            item = f"item_{n // 50}"  # a new "reply" every 5 s
            yield {"type": "response.output_audio.delta", "response_id": f"resp_{n // 50}", "item_id": item,
                   "output_index": 0, "content_index": 0, "delta": self._delta}
            n += 1
            await asyncio.sleep(max(0.0, start + n * self.DELTA_MS / 1000 - time.monotonic()))
