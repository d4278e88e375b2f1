"""The slice of a realtime upstream session (web/media/realtime) that a call uses, as a typing Protocol.

Calls depend on this Protocol and on a factory, never on a concrete class, so tests and the benchmark can plug in
their own sessions, and the upstream's internals can change without touching the transports.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from web.media.realtime import create_realtime_session

Event = dict[str, Any]


class RealtimeSessionLike(Protocol):
    closed: asyncio.Event
    close_reason: str | None

    async def start(self) -> None: ...

    def preset(self, session_config: dict[str, Any]) -> None: ...

    async def send_client_event(self, event: Event) -> None: ...

    async def append_audio(self, pcm16_24k_mono: bytes) -> None: ...

    def events(self) -> AsyncIterator[Event]: ...

    async def truncate(self, item_id: str, content_index: int, audio_end_ms: int) -> None: ...

    async def close(self, reason: str) -> None: ...


# `factory(settings, *, user_id, log_context)`, like `create_realtime_session`
SessionFactory = Callable[..., RealtimeSessionLike]
DEFAULT_SESSION_FACTORY: SessionFactory = create_realtime_session


def describe_upstream_error(exc: BaseException) -> tuple[str, str, str]:
    """(code, user_message, operator_message) of an upstream failure, duck-typed so any `UpstreamError` works."""
    code = str(getattr(exc, "code", "") or "internal")
    user = str(getattr(exc, "user_message", "") or "")
    operator = str(getattr(exc, "operator_message", "") or type(exc).__name__)
    return code, user, operator
