"""The call interface every transport implements (WebRTC: web/media/rtc/call.py, WebSocket: web/media/ws/call.py).

The registry admits, finds, hangs up, revokes, shuts down and counts calls only through this interface. A call
reports its own end exactly once through the `on_closed` callback it was built with (the registry's `release`).
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from web.media.calls.credential import Credential

Event = dict[str, Any]


class LiveCall(Protocol):
    id: str
    user_id: int
    credential: Credential | None
    transport: str  # "webrtc" or "websocket": statistics only, never a branch
    close_reason: str | None
    closed: asyncio.Event

    async def close(self, reason: str, notify: Event | None = None) -> None:
        """End the call for `reason`, sending `notify` to the client first when it can still be delivered; returns
        once everything the call held is released (the registry has been told)."""
        ...

    def stats(self) -> dict[str, Any]: ...


def notice(message: str, code: str) -> Event:
    """The last event a client sees when we end its call for a reason it should show (revoked, upstream failure)."""
    return {"type": "error", "error": {"type": "server_error", "code": code, "message": message, "param": None}}
