"""Small async helpers for tests that drive a `RealtimeSession` (or anything with the same `events()`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

Event = dict[str, Any]


class EventSource(Protocol):
    def events(self) -> AsyncIterator[Event]: ...


def of_type(kind: str) -> Callable[[Event], bool]:
    return lambda event: event.get("type") == kind


async def collect(source: EventSource, until: Callable[[Event], bool] | None = None, *,
                  timeout: float = 5.0) -> list[Event]:
    """Events until one matches `until` (included) or the stream ends; TimeoutError after `timeout` seconds."""
    events: list[Event] = []
    async with asyncio.timeout(timeout):
        async for event in source.events():
            events.append(event)
            if until is not None and until(event):
                break
    return events


def types(events: list[Event]) -> list[str]:
    return [str(e.get("type")) for e in events]
