"""Every live call of this process: admission control, lookup, and closing by call, session, user or all at once.

Admission happens before anything is allocated (no peer connection, no socket, no upstream): `admit()` is
synchronous, so the check and the reservation cannot be interleaved with another request. A reservation is released
exactly once, when its call has closed (or when the call could not even be built). The app keeps one registry in
`app.state.calls`, registers `close_for_sessions` as a session-revocation listener and calls `close_all` on shutdown.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from loguru import logger

from web.i18n import DEFAULT_LOCALE, N_, translate
from web.media.audio.threads import single_thread_ffmpeg
from web.media.rtc.call import Call, notice
from web.media.rtc.gather_limit import limit_gathering
from web.media.rtc.ice import configure_host_addresses
from web.media.rtc.turn import IceServers
from web.media.rtc.upstream import SessionFactory, default_session_factory, make_session
from web.settings import Settings

TOO_MANY_CALLS = N_("You already have the maximum number of voice calls open. Hang up one and try again.")
SERVER_BUSY = N_("The voice service is busy right now. Please try again in a moment.")
SHUTTING_DOWN = N_("The server is restarting. Please try again in a moment.")
SESSION_ENDED = N_("Authentication failed. Please sign in again.")
CLOSE_ALL_TIMEOUT_S = 10.0


class AdmissionError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


class TransportCall(Protocol):
    """A call of another transport (the WebSocket endpoint, web/media/ws) as the registry sees it."""

    id: str
    user_id: int
    session_id: str | None
    close_reason: str | None

    async def close(self, reason: str, notify: dict[str, Any] | None = None) -> None: ...


@dataclass
class Slot:
    user_id: int
    released: bool = field(default=False)


class CallRegistry:
    def __init__(self, settings: Settings, *, session_factory: SessionFactory | None = None) -> None:
        self.settings = settings
        self.ice_servers = IceServers.from_settings(settings)  # a bad value fails at start-up, clearly
        self.session_factory = session_factory  # None → the upstream package's factory; tests may swap it
        self._calls: dict[str, Call] = {}
        self._others: dict[str, TransportCall] = {}  # calls of other transports (adopt())
        self._slots: dict[str, Slot] = {}
        self._per_user: Counter[int] = Counter()
        self._reserved = 0
        self._accepting = True
        self.closed_reasons: Counter[str] = Counter()
        # call id → user id of calls that ended lately, so a DELETE racing the peer's own close still gets 204
        self.rejected: Counter[str] = Counter()
        # called with (session, {call_id, user_id, transport, credential}) for every new session (usage metering)
        self.on_new_session: Callable[[Any, dict[str, Any]], None] | None = None

    async def start(self) -> None:
        configure_host_addresses(self.settings.rtc_host_addresses)
        limit_gathering(self.settings.rtc_ice_gather_timeout_s)
        single_thread_ffmpeg()
        self._accepting = True

    # --- admission -------------------------------------------------------------------------------------------------
    def admit(self, user_id: int) -> Slot:
        if not self._accepting:
            self.rejected["shutting_down"] += 1
            raise AdmissionError(503, "shutting_down", SHUTTING_DOWN)
        if self._per_user[user_id] >= self.settings.max_calls_per_user:
            self.rejected["too_many_calls"] += 1
            raise AdmissionError(429, "too_many_calls", TOO_MANY_CALLS)
        if self._reserved >= self.settings.max_calls_per_process:
            self.rejected["server_busy"] += 1
            raise AdmissionError(503, "server_busy", SERVER_BUSY)
        self._per_user[user_id] += 1
        self._reserved += 1
        return Slot(user_id)

    def _release(self, slot: Slot) -> None:
        if slot.released:
            return
        slot.released = True
        self._reserved -= 1
        self._per_user[slot.user_id] -= 1
        if self._per_user[slot.user_id] <= 0:
            del self._per_user[slot.user_id]

    # --- calls -----------------------------------------------------------------------------------------------------
    def browser_ice_servers(self, user_id: int) -> list[dict[str, Any]]:
        return self.ice_servers.for_browser(user_id)

    async def open_call(
        self,
        slot: Slot,
        *,
        session_id: str | None,
        offer_sdp: str,
        session_config: dict[str, Any] | None = None,
        log_context: dict[str, Any] | None = None,
    ) -> tuple[Call, str]:
        """Build and open a call for an admitted slot; returns (call, answer SDP). Raises `OfferError` for a bad
        offer and the upstream's error when it cannot start; the slot is released on every failure path."""
        call_id = "rtc_" + secrets.token_hex(12)
        try:
            factory = self.session_factory or default_session_factory()
            context = {"call_id": call_id, **(log_context or {})}
            session = make_session(factory, self.settings, slot.user_id, context)
            self.session_made(session, call_id, slot.user_id, "webrtc", session_id)
            call = Call(
                call_id=call_id,
                user_id=slot.user_id,
                session_id=session_id,
                session=session,
                rtc_config=self.ice_servers.rtc_configuration(slot.user_id),
                on_closed=self._on_closed,
                upstream_start_timeout_s=self.settings.realtime_connect_timeout_s + 5.0,
            )
        except BaseException:
            self._release(slot)
            raise
        self._calls[call_id] = call
        self._slots[call_id] = slot
        answer = await call.open(offer_sdp, session_config, self.settings.rtc_announced_address)
        return call, answer

    def session_made(self, session: Any, call_id: str, user_id: int, transport: str, credential: str | None) -> None:
        if self.on_new_session is not None:
            self.on_new_session(session, {"call_id": call_id, "user_id": user_id, "transport": transport,
                                          "credential": credential})

    def adopt(self, slot: Slot, call: TransportCall) -> Callable[[TransportCall], None]:
        """Track a call another transport built for an admitted slot, so admission, revocation and shutdown cover
        it; the caller must invoke the returned callback once the call has fully closed (it releases the slot)."""
        self._others[call.id] = call
        self._slots[call.id] = slot
        return self._on_closed

    def _on_closed(self, call: TransportCall) -> None:
        self._calls.pop(call.id, None)
        self._others.pop(call.id, None)
        slot = self._slots.pop(call.id, None)
        if slot is not None:
            self._release(slot)
        self.closed_reasons[call.close_reason or "unknown"] += 1

    def get(self, call_id: str) -> Call | None:
        return self._calls.get(call_id)

    def active_count(self) -> int:
        return len(self._calls)

    async def hang_up(self, call_id: str, user_id: int) -> bool:
        call = self._calls.get(call_id)
        if call is None:
            return False  # unknown or already over: 404, as the OpenAI service answers
        if call.user_id != user_id:
            return False
        await call.close("hangup")
        return True

    def live_calls(self) -> list[TransportCall]:
        """Every open call of every transport (the app's credential sweep reads their session ids)."""
        return self._live()

    def _live(self) -> list[TransportCall]:
        return [*self._calls.values(), *self._others.values()]

    async def _close_many(self, calls: Sequence[TransportCall], reason: str,
                          note: dict[str, Any] | None = None) -> None:
        if not calls:
            return
        done, pending = await asyncio.wait(
            [asyncio.create_task(c.close(reason, note)) for c in calls], timeout=CLOSE_ALL_TIMEOUT_S
        )
        if pending:
            logger.error("calls did not close in time", count=len(pending), reason=reason)

    async def close_for_sessions(self, session_ids: list[str]) -> None:
        wanted = set(session_ids)
        calls = [c for c in self._live() if c.session_id is not None and c.session_id in wanted]
        await self._close_many(calls, "session_revoked", notice(self._text(SESSION_ENDED), "session_revoked"))

    async def close_for_user(self, user_id: int) -> None:
        calls = [c for c in self._live() if c.user_id == user_id]
        await self._close_many(calls, "user_closed", notice(self._text(SESSION_ENDED), "session_revoked"))

    async def close_all(self, reason: str = "shutdown") -> None:
        self._accepting = False
        await self._close_many(self._live(), reason, notice(self._text(SHUTTING_DOWN), reason))

    @staticmethod
    def _text(msgid: str) -> str:
        # Revocation and shutdown run outside any request, so there is no request locale: use the default (zh-CN).
        return translate(msgid, DEFAULT_LOCALE)

    def stats(self) -> dict[str, Any]:
        return {
            "active": len(self._calls),
            "other_transports": len(self._others),
            "reserved": self._reserved,
            "closed_reasons": dict(self.closed_reasons),
            "rejected": dict(self.rejected),
        }
