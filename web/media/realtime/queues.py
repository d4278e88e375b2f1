"""The two bounded queues of a session. Neither ever blocks a producer: they drop (and count) instead.

`UpstreamOutbox` (client → upstream): audio and client events in arrival order, so an append always precedes the
commit that follows it. Audio over the budget is dropped oldest-first; events over their budget are refused.
`ClientInbox` (upstream → client): server events; when full, the oldest audio delta goes first, then the oldest event.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from .events import Event


class QueueClosed(Exception):
    pass


class UpstreamOutbox:
    def __init__(self, max_audio_bytes: int, max_events: int) -> None:
        self._items: deque[bytes | Event] = deque()
        self._audio_bytes = 0
        self._events = 0
        self._max_audio_bytes = max_audio_bytes
        self._max_events = max_events
        self._ready = asyncio.Event()
        self.dropped_audio_bytes = 0

    def put_audio(self, pcm: bytes) -> int:
        """Queue audio; returns how many bytes of older audio were dropped to make room."""
        self._items.append(pcm)
        self._audio_bytes += len(pcm)
        dropped = 0
        while self._audio_bytes > self._max_audio_bytes:
            for index, item in enumerate(self._items):
                if isinstance(item, bytes):
                    del self._items[index]
                    self._audio_bytes -= len(item)
                    dropped += len(item)
                    break
        self.dropped_audio_bytes += dropped
        self._ready.set()
        return dropped

    def put_event(self, event: Event) -> bool:
        if self._events >= self._max_events:
            return False
        self._items.append(event)
        self._events += 1
        self._ready.set()
        return True

    async def get(self) -> bytes | Event:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        item = self._items.popleft()
        if isinstance(item, bytes):
            self._audio_bytes -= len(item)
        else:
            self._events -= 1
        return item

    def clear(self) -> None:
        self._items.clear()
        self._audio_bytes = self._events = 0


class ClientInbox:
    def __init__(self, max_events: int) -> None:
        self._items: deque[Event] = deque()
        self._max = max_events
        self._ready = asyncio.Event()
        self._closed = False
        self.dropped = 0

    def put(self, event: Event) -> None:
        if self._closed:
            return
        self._items.append(event)
        if len(self._items) > self._max:
            self._drop_one()
        self._ready.set()

    def _drop_one(self) -> None:
        self.dropped += 1
        for index, item in enumerate(self._items):
            if item.get("type") == "response.output_audio.delta":
                del self._items[index]
                return
        self._items.popleft()

    def close(self) -> None:
        """No more events; readers drain what is queued, then stop."""
        self._closed = True
        self._ready.set()

    async def get(self) -> Event:
        while not self._items:
            if self._closed:
                raise QueueClosed
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def __len__(self) -> int:
        return len(self._items)

    def snapshot(self) -> list[dict[str, Any]]:
        return list(self._items)
