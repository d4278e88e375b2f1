"""Every live call of this process, of every transport: admission, lookup, hang-up, revocation, shutdown, numbers.

Admission happens before anything is allocated (no peer connection, no socket, no upstream). `admit()` first
reserves the slot in this process synchronously, so the local check and the reservation cannot be interleaved with
another request, then counts the call against the user's limit in the cluster's directory (all processes, all
nodes; web/cluster), which may refuse it. The slot carries the call's id, which names this process (its `node_tag`),
so any process can route a request about the call to its owner. A transport then builds its call and `add()`s it;
the call reports its end through `release` (its `on_closed` callback), which frees the slot exactly once and removes
the call from the directory. A call that could not even be built gives its slot back with `cancel()`.

Messages to people are message ids (web/media/calls/messages.py); `texts` turns one into the words a client is sent
when its call is ended outside any request (revocation, shutdown), where there is no request locale.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from loguru import logger

from web.media.calls.call import Event, LiveCall, notice
from web.media.calls.credential import Credential
from web.media.calls.messages import SERVER_BUSY, SESSION_ENDED, SHUTTING_DOWN, TOO_MANY_CALLS
from web.media.calls.upstream import DEFAULT_SESSION_FACTORY, RealtimeSessionLike, SessionFactory
from web.settings import Settings

CLOSE_ALL_TIMEOUT_S = 10.0


class AdmissionError(Exception):
    """`message` is a message id; the web layer translates it."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


@dataclass
class Slot:
    user_id: int
    call_id: str
    released: bool = field(default=False)


class CallDirectory(Protocol):
    """The cluster's list of live calls (web/cluster): the per-user limit across every process."""

    async def reserve(self, call_id: str, user_id: int, transport: str, limit: int) -> bool: ...

    def forget(self, call_id: str) -> None: ...


def _same_text(message: str) -> str:
    return message


class CallRegistry:
    def __init__(self, settings: Settings, *, session_factory: SessionFactory | None = None,
                 texts: Callable[[str], str] = _same_text, node_tag: str | None = None,
                 directory: CallDirectory | None = None) -> None:
        self.settings = settings
        self.node_tag = node_tag or secrets.token_hex(5)  # names this process in every call id
        self.directory = directory
        self.session_factory: SessionFactory = session_factory or DEFAULT_SESSION_FACTORY  # tests may swap it
        self.texts = texts
        self._calls: dict[str, LiveCall] = {}
        self._slots: dict[str, Slot] = {}
        self._per_user: Counter[int] = Counter()
        self._reserved = 0
        self._accepting = True
        self._idle: asyncio.Event | None = None  # set when the last call ends (draining waits for it)
        self.closed_reasons: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        # called with (session, {call_id, user_id, transport, credential}) for every new session (usage metering)
        self.on_new_session: Callable[[Any, dict[str, Any]], None] | None = None

    def start(self) -> None:
        self._accepting = True

    def stop_admitting(self) -> None:
        """Draining: live calls go on, new ones are refused with 503 `shutting_down`."""
        self._accepting = False

    @property
    def accepting(self) -> bool:
        return self._accepting

    # --- admission -------------------------------------------------------------------------------------------------
    async def admit(self, user_id: int, transport: str) -> Slot:
        slot = self._admit_here(user_id, self.new_call_id("rtc" if transport == "webrtc" else "ws"))
        if self.directory is None:
            return slot
        try:
            admitted = await self.directory.reserve(slot.call_id, user_id, transport,
                                                    self.settings.max_calls_per_user)
        except asyncio.CancelledError:
            self.cancel(slot)
            raise
        except Exception as exc:
            # The shared directory is out of reach: this process's own limits still hold; log it and go on, like a
            # failed quota lookup (refusing every call while the database hiccups would be worse).
            logger.warning("call directory unreachable; admitting on this process's count", error=str(exc))
            return slot
        if not admitted:
            self.cancel(slot)
            self.rejected["too_many_calls"] += 1
            raise AdmissionError(429, "too_many_calls", TOO_MANY_CALLS)
        return slot

    def _admit_here(self, user_id: int, call_id: str) -> Slot:
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
        return Slot(user_id, call_id)

    def cancel(self, slot: Slot) -> None:
        """Give back the slot of a call that could not be built."""
        if slot.released:
            return
        slot.released = True
        if self.directory is not None:
            self.directory.forget(slot.call_id)
        self._reserved -= 1
        self._per_user[slot.user_id] -= 1
        if self._per_user[slot.user_id] <= 0:
            del self._per_user[slot.user_id]

    # --- building calls --------------------------------------------------------------------------------------------
    def new_call_id(self, prefix: str) -> str:
        """`<prefix>_<node tag>_<random>`: unique in the cluster, and it names the process that owns the call."""
        return f"{prefix}_{self.node_tag}_{secrets.token_hex(12)}"

    def new_session(self, call_id: str, user_id: int, transport: str, credential: Credential | None,
                    log_context: dict[str, Any]) -> RealtimeSessionLike:
        """A fresh, not yet started upstream session for call `call_id`, announced to `on_new_session`."""
        session = self.session_factory(self.settings, user_id=user_id, log_context=log_context)
        if self.on_new_session is not None:
            token_id = credential.token_id if credential is not None and credential.is_token else None
            self.on_new_session(session, {"call_id": call_id, "user_id": user_id, "transport": transport,
                                          "token_id": token_id})
        return session

    def add(self, slot: Slot, call: LiveCall) -> None:
        """Track a call built for an admitted slot; it must have `release` as its `on_closed` callback."""
        self._calls[call.id] = call
        self._slots[call.id] = slot

    def release(self, call: LiveCall) -> None:
        """A call has fully closed: forget it and free its slot (idempotent)."""
        if self._calls.pop(call.id, None) is None and call.id not in self._slots:
            return
        slot = self._slots.pop(call.id, None)
        if slot is not None:
            self.cancel(slot)
        self.closed_reasons[call.close_reason or "unknown"] += 1
        if not self._calls and self._idle is not None:
            self._idle.set()

    # --- finding and ending calls ----------------------------------------------------------------------------------
    def get(self, call_id: str) -> LiveCall | None:
        return self._calls.get(call_id)

    def active_count(self) -> int:
        return len(self._calls)

    async def wait_until_empty(self, timeout: float) -> bool:
        """Wait up to `timeout` s for every call to end; whether they all did."""
        if not self._calls:
            return True
        self._idle = asyncio.Event()
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    def live_calls(self) -> list[LiveCall]:
        return list(self._calls.values())

    async def hang_up(self, call_id: str, user_id: int) -> bool:
        call = self._calls.get(call_id)
        if call is None:
            return False  # unknown or already over: 404, as the OpenAI service answers
        if call.user_id != user_id:
            return False
        await call.close("hangup")
        return True

    async def _close_many(self, calls: Sequence[LiveCall], reason: str, note: Event | None = None) -> None:
        if not calls:
            return
        done, pending = await asyncio.wait(
            [asyncio.create_task(c.close(reason, note)) for c in calls], timeout=CLOSE_ALL_TIMEOUT_S
        )
        if pending:
            logger.error("calls did not close in time", count=len(pending), reason=reason)

    async def close_for_credentials(self, credentials: Iterable[Credential]) -> None:
        """End the calls bound to any of `credentials` (sign-out, revoked token, disabled account)."""
        wanted = set(credentials)
        calls = [c for c in self._calls.values() if c.credential is not None and c.credential in wanted]
        await self._close_many(calls, "session_revoked", self.revoked_notice())

    async def close_all(self, reason: str = "shutdown") -> None:
        self._accepting = False
        await self._close_many(list(self._calls.values()), reason, notice(self.texts(SHUTTING_DOWN), reason))

    def revoked_notice(self) -> Event:
        return notice(self.texts(SESSION_ENDED), "session_revoked")

    def stats(self) -> dict[str, Any]:
        by_transport = Counter(c.transport for c in self._calls.values())
        return {
            "active": len(self._calls),
            "by_transport": dict(by_transport),
            "reserved": self._reserved,
            "closed_reasons": dict(self.closed_reasons),
            "rejected": dict(self.rejected),
        }
