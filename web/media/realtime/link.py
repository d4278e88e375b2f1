"""`UpstreamLink`: the upstream half of a `RealtimeSession` — owning the socket, watching it, replacing it.

The session composes one link and gives it what it needs: the inbox to the client, the client's session settings,
and `end(reason, error)` to finish the session. Every decision about the upstream is taken by the single reader task
(`read_loop`), so no two tasks ever replace the socket at once; `send` retries on the next socket after a swap.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from .errors import UpstreamError, redact
from .events import Event, error_event, new_id
from .history import TranscriptHistory
from .observer import SessionObserver
from .queues import ClientInbox
from .session_config import SessionDefaults, SessionLimits, initial_updates
from .stats import RealtimeStats
from .upstream import Upstream, UpstreamFactory

_NOTICES = {
    ("upstream_reconnected", True): (
        "语音服务连接已重新建立，已根据文字记录恢复之前的对话。"
        "(The voice service connection was re-established; the conversation so far was restored from its transcript.)"),
    ("upstream_reconnected", False): (
        "语音服务连接已重新建立，之前的对话内容已丢失。"
        "(The voice service connection was re-established; the earlier conversation context was lost.)"),
    ("upstream_recycled", True): (
        "语音服务会话已自动续期，已根据文字记录恢复之前的对话。"
        "(The voice service session was renewed; the conversation so far was restored from its transcript.)"),
    ("upstream_recycled", False): (
        "语音服务会话已自动续期，之前的对话内容已丢失。"
        "(The voice service session was renewed; the earlier conversation context was lost.)"),
}
_REPLAYED_ITEM_EVENTS = {"conversation.item.created", "conversation.item.added", "conversation.item.done"}


Ender = Callable[[str, UpstreamError | None], Awaitable[None]]


class UpstreamLink:
    def __init__(
        self,
        factory: UpstreamFactory,
        *,
        defaults: SessionDefaults,
        limits: SessionLimits,
        inbox: ClientInbox,
        stats: RealtimeStats,
        log: Any,
        user_id: int | None,
        client_session: Callable[[], dict[str, Any]],
        auto_response: Callable[[], bool],
        finishing: Callable[[], bool],
        end: Ender,
        client_view: Callable[[Event], Event],
        observer: Callable[[], SessionObserver | None],
    ) -> None:
        self._factory = factory
        self._defaults = defaults
        self._limits = limits
        self._inbox = inbox
        self._stats = stats
        self._log = log
        self.user_id = user_id
        self._client_session = client_session
        self._auto_response = auto_response
        self._finishing = finishing
        self._end = end
        self._client_view = client_view
        self._observer = observer
        self._upstream: Upstream | None = None
        self.upstream_since = time.monotonic()
        self.ready = asyncio.Event()  # set while an upstream is connected and configured
        self._swapped = asyncio.Event()  # set (and replaced) each time the upstream is dropped
        self._internal_ids: set[str] = set()  # event_ids of the relay's own events: their errors stay here
        self._internal_updates: set[str] = set()  # the relay's session.updates not yet answered: not the client's
        self._history = TranscriptHistory()
        self._replayed_items: set[str] = set()  # item ids of replayed transcript items: not news to the client
        self._quiet_since = time.monotonic()
        self._response_active = False
        self._response_expected = False
        self._response_id: str | None = None
        self._speech_active = False
        self._speech_stopped_at: float | None = None
        self._last_reconnect_at: float | None = None
        self.connect_ms = 0
        self.reconnects = 0
        self.recycles = 0
        self.last_reply_latency_ms: int | None = None

    # --- connecting --------------------------------------------------------------------------------------------------
    async def open(self, *, replay: bool = False) -> Event:
        upstream = self._factory()
        began = time.monotonic()
        try:
            created = await upstream.connect()
            events = initial_updates(self._defaults, self._client_session())
            if replay:
                replayed = self._history.replay_events()
                self._replayed_items = {event["item"]["id"] for event in replayed}
                events += replayed
            self._internal_ids = {event["event_id"] for event in events}
            self._internal_updates = {event["event_id"] for event in events if event["type"] == "session.update"}
            for event in events:
                await upstream.send(event)
        except BaseException:
            await self._close_quietly(upstream)
            raise
        now = time.monotonic()
        self.connect_ms = int((now - began) * 1000)
        self._upstream, self.upstream_since, self._quiet_since = upstream, now, now
        self._response_active = self._response_expected = self._speech_active = False
        self._speech_stopped_at = None
        self.ready.set()
        return created

    async def _close_quietly(self, upstream: Upstream) -> None:
        with contextlib.suppress(Exception, TimeoutError):
            async with asyncio.timeout(self._limits.close_timeout_s):
                await upstream.close()

    async def close(self) -> None:
        upstream, self._upstream = self._upstream, None
        if upstream is not None:
            await self._close_quietly(upstream)

    async def _switch_upstream(self, notice_code: str) -> UpstreamError | None:
        """Replace the socket (the old one is closed concurrently) and tell the client; returns the failure if any."""
        interrupted = self._response_active or self._response_expected
        response_id = self._response_id
        self.ready.clear()
        old, self._upstream = self._upstream, None
        swapped, self._swapped = self._swapped, asyncio.Event()
        swapped.set()  # a writer stuck on the dead socket moves on and waits for the new one
        results = await asyncio.gather(
            self._close_quietly(old) if old is not None else asyncio.sleep(0),
            self.open(replay=True),
            return_exceptions=True,
        )
        failure = results[1]
        if isinstance(failure, UpstreamError):
            return failure
        if isinstance(failure, BaseException):
            raise failure
        if interrupted:
            self._inbox.put({
                "type": "response.done", "event_id": new_id("event"),
                "response": {"id": response_id or new_id("resp"), "object": "realtime.response", "status": "failed",
                             "status_details": {"type": "failed",
                                                "error": {"type": "server_error", "code": notice_code}},
                             "output": []},
            })
        notice = _NOTICES[(notice_code, bool(self._replayed_items))]
        self._inbox.put(error_event(notice, code=notice_code, error_type="gateway_notice"))
        return None

    async def _recover(self, exc: UpstreamError) -> None:
        """One transparent reconnect per window; otherwise the session ends with `exc`."""
        now = time.monotonic()
        if self._last_reconnect_at is not None and now - self._last_reconnect_at < self._limits.reconnect_window_s:
            await self._end(f"upstream_{exc.code}", exc)
            return
        self._last_reconnect_at = now
        self._stats.record_upstream_error(exc.code, exc.operator_message, self.user_id)
        self.reconnects += 1
        self._stats.incr("reconnects")
        self._log.warning("realtime upstream lost, reconnecting once: {}", exc.operator_message)
        failure = await self._switch_upstream("upstream_reconnected")
        if failure is not None:
            await self._end(f"upstream_{failure.code}", failure)

    async def _recycle(self, why: str) -> None:
        self.recycles += 1
        self._stats.incr("recycles")
        self._log.info("recycling the realtime upstream socket ({})", why)
        failure = await self._switch_upstream("upstream_recycled")
        if failure is not None:
            await self._recover(failure)  # the old socket is gone: this is now an ordinary reconnect

    def upstream_age_s(self) -> float:
        return round(time.monotonic() - self.upstream_since, 1) if self._upstream else 0.0

    async def send(self, payload: Event) -> None:
        """Send one event on the current socket; after a failure, on the next one (the reader replaces it)."""
        while True:
            await self.ready.wait()
            upstream, swapped = self._upstream, self._swapped
            if upstream is None:
                await swapped.wait()
                continue
            try:
                await upstream.send(payload)
                return
            except UpstreamError:
                # The reader sees the same failure and reconnects or ends the session; retry on the next socket.
                await swapped.wait()

    # --- reading -----------------------------------------------------------------------------------------------------
    def _busy(self) -> bool:
        return self._response_active or self._response_expected or self._speech_active

    def _recycle_due(self, now: float) -> bool:
        age = now - self.upstream_since
        return age >= self._limits.hard_recycle_after_s or (age >= self._limits.recycle_after_s and not self._busy())

    def _wait_budget(self) -> float:
        now = time.monotonic()
        limits = self._limits
        deadlines = [self.upstream_since + (limits.hard_recycle_after_s if self._busy() else limits.recycle_after_s)]
        if self._response_active or self._response_expected:
            deadlines.append(self._quiet_since + limits.stall_timeout_s)
        return max(0.0, min(min(deadlines) - now, limits.poll_s))

    def expect_response(self) -> None:
        self._response_expected = True
        self._quiet_since = time.monotonic()

    async def read_loop(self) -> None:
        try:
            await self._read_events()
        except Exception as exc:  # a bug must end the call cleanly, not leave it hanging
            await self._end("internal_error", self.internal_error(exc))

    def internal_error(self, exc: BaseException) -> UpstreamError:
        trace = "".join(traceback.format_exception(exc))  # no local variables, so no credential; redacted anyway
        self._log.error("realtime relay failed: {}", redact(trace))
        return UpstreamError("internal", type(exc).__name__)

    async def _read_events(self) -> None:
        while not self._finishing():
            upstream = self._upstream
            if upstream is None:
                return
            try:
                async with asyncio.timeout(self._wait_budget()):
                    event = await upstream.recv()
            except TimeoutError:
                await self._on_quiet()
                continue
            except UpstreamError as exc:
                await self._recover(exc)
                continue
            await self._on_event(event)

    async def _on_quiet(self) -> None:
        now = time.monotonic()
        stall = self._limits.stall_timeout_s
        if (self._response_active or self._response_expected) and now - self._quiet_since >= stall:
            await self._recover(UpstreamError("stalled", f"no event for {stall:g} s while a response was expected"))
        elif self._recycle_due(now):
            await self._recycle("session age")

    async def _on_event(self, event: Event) -> None:
        now = time.monotonic()
        self._quiet_since = now
        kind = event.get("type")
        if kind == "session.created":
            return  # only the first one (returned by connect) is the client's
        if kind in _REPLAYED_ITEM_EVENTS and (event.get("item") or {}).get("id") in self._replayed_items:
            return
        if kind == "session.updated":
            if self._internal_updates:  # the upstream answers in order: this one is for the relay's own update
                self._internal_updates.pop()
                return
            event = self._client_view(event)
        self._history.observe(event)
        if kind == "error":
            error = event.get("error") or {}
            self._internal_updates.discard(error.get("event_id"))
            if error.get("event_id") in self._internal_ids:
                self._log.warning("realtime upstream refused the relay's session defaults: {} {}",
                                  error.get("code"), str(error.get("message"))[:200])
                return
            if error.get("code") == "session_expired":
                await self._recycle("session_expired")
                return
            if not self._response_active:
                self._response_expected = False
        elif kind == "input_audio_buffer.speech_started":
            self._speech_active = True
        elif kind == "input_audio_buffer.speech_stopped":
            self._speech_active = False
            self._speech_stopped_at = now
            if self._auto_response():
                self._response_expected = True
        elif kind == "response.created":
            self._response_active, self._response_expected = True, False
            self._response_id = (event.get("response") or {}).get("id")
        elif kind == "response.output_audio.delta" and self._speech_stopped_at is not None:
            self.last_reply_latency_ms = int((now - self._speech_stopped_at) * 1000)
            self._speech_stopped_at = None
        elif kind == "response.done":
            self._response_active = self._response_expected = False
            self._response_id = None
        observer = self._observer()
        if observer is not None:
            observer.upstream_event(event)
        self._inbox.put(event)
        if kind == "response.done" and self._recycle_due(now):
            await self._recycle("session age")
