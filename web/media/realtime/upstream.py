"""The upstream interface a `RealtimeSession` drives: one socket's worth of a Realtime conversation, in GA shapes.

Implementations: `WebSocketUpstream` (Azure GA, Azure preview with translation, OpenAI) and `EchoUpstream` (in-process).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .events import Event


class Upstream(Protocol):
    async def connect(self) -> Event:
        """Open the connection and return its first event, `session.created` (GA shape). Raises `UpstreamError`."""
        ...

    async def send(self, event: Event) -> None:
        """Send one GA client event. Raises `UpstreamError` (code `closed`) once the connection is gone."""
        ...

    async def recv(self) -> Event:
        """The next server event in GA shape. Cancel-safe. Raises `UpstreamError` (code `closed`) at the end."""
        ...

    async def close(self) -> None:
        """Close the connection; idempotent, never raises."""
        ...


UpstreamFactory = Callable[[], Upstream]
