"""`RealtimeSession`: one client conversation relayed to a realtime upstream, independent of the client transport.

Two tasks per session: the writer (client audio/events → upstream, in order) and the reader (upstream events →
client, plus every recovery decision: one transparent reconnect on a stall or an unexpected close, and recycling the
socket before the service's session cap). The session owns the client side; its `UpstreamLink` (link.py) owns the
socket and the reader. Queues are bounded and drop instead of blocking; no lock is ever held.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from loguru import logger

from web.media.images import ImageGate, ImagePolicy, ImageRejected
from web.media.images.conversation import image_item_event
from web.media.images.gate import PreparedImage, has_image

from .errors import UpstreamError
from .events import BYTES_PER_MS, Event, decode_audio, encode_audio, error_event, new_id
from .link import UpstreamLink
from .observer import SessionObserver
from .queues import ClientInbox, QueueClosed, UpstreamOutbox
from .sanitize import RejectedEvent, sanitize_client_event
from .session_config import SessionDefaults, SessionLimits, auto_response, deep_merge, effective_session
from .session_policy import client_view, upstream_event
from .stats import RealtimeStats
from .upstream import UpstreamFactory


class RealtimeSession:
    def __init__(
        self,
        upstream_factory: UpstreamFactory,
        *,
        mode: str,
        defaults: SessionDefaults | None = None,
        limits: SessionLimits | None = None,
        user_id: int | None = None,
        log_context: dict[str, Any] | None = None,
        stats: RealtimeStats | None = None,
        images: ImagePolicy | None = None,
    ) -> None:
        self.id = new_id("rts")
        self.images = ImageGate(images)
        self.mode = mode
        self.user_id = user_id
        self.closed = asyncio.Event()
        self.close_reason: str | None = None
        self.error: UpstreamError | None = None
        self._defaults = defaults or SessionDefaults()
        self._limits = limits or SessionLimits()
        self._stats = stats if stats is not None else RealtimeStats()
        self._log = logger.bind(**(log_context or {}), realtime_session=self.id, realtime_mode=mode)
        self._outbox = UpstreamOutbox(self._limits.max_pending_audio_ms * BYTES_PER_MS, self._limits.max_pending_events)
        self._inbox = ClientInbox(self._limits.max_inbox_events)
        self._pending_pcm = bytearray()
        self._client_session: dict[str, Any] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = False
        self._finishing = False
        self.audio_in_bytes = 0
        self.observer: SessionObserver | None = None  # usage metering (web/usage) sets it
        self._link = UpstreamLink(
            upstream_factory, defaults=self._defaults, limits=self._limits, inbox=self._inbox, stats=self._stats,
            log=self._log, user_id=user_id, client_session=lambda: self._client_session,
            auto_response=self._auto_response, finishing=lambda: self._finishing, end=self._finish,
            client_view=self._client_view, observer=lambda: self.observer,
        )

    def __repr__(self) -> str:
        return f"RealtimeSession(id={self.id!r}, mode={self.mode!r}, closed={self.closed.is_set()})"

    # --- public API --------------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect, wait for `session.created`, apply the defaults. On `UpstreamError` the session is closed too."""
        if self._started:
            raise RuntimeError("RealtimeSession.start() called twice")
        self._started = True
        self._stats.incr("sessions_started")
        try:
            created = await self._link.open()
        except UpstreamError as exc:
            await self._finish(f"upstream_{exc.code}", exc)
            raise
        except BaseException:
            await self._finish("start_cancelled", None)
            raise
        if self._finishing:  # close() was called while connecting
            await self._link.close()
            raise UpstreamError("closed", "the session was closed while connecting")
        self._inbox.put(self._client_view(created))
        for name, coro in (("reader", self._link.read_loop()), ("writer", self._write_loop())):
            task = asyncio.create_task(coro, name=f"realtime-{name}-{self.id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._log.info("realtime session started ({}, {} ms)", self.mode, self._link.connect_ms)

    def preset(self, session_config: dict[str, Any]) -> None:
        """Before `start()`: the client's session config from the call's offer (multipart `session` part), applied
        with the relay's own defaults, so it yields no `session.updated`. A refused config becomes an `error`."""
        try:
            clean = sanitize_client_event({"type": "session.update", "session": session_config}, mode=self.mode)
        except RejectedEvent as rejected:
            self._inbox.put(rejected.error)
            return
        update = dict(clean["session"])
        update.pop("type", None)
        self._client_session = deep_merge(self._client_session, update)

    async def send_client_event(self, event: dict[str, Any]) -> None:
        """Forward one client event after sanitising; a refused event becomes an `error` event on `events()`."""
        try:
            clean = sanitize_client_event(event, mode=self.mode)
        except RejectedEvent as rejected:
            self._stats.incr("client_events_rejected")
            self._inbox.put(rejected.error)
            return
        if self._finishing:
            return
        kind = clean["type"]
        if kind == "conversation.item.create" and has_image(clean):
            try:
                clean = await self.images.prepare_item_event(clean)
            except ImageRejected as exc:
                self._inbox.put(error_event(exc.message, code=exc.code, param="item.content",
                                            client_event_id=clean.get("event_id")))
                return
        if kind == "input_audio_buffer.append":
            try:
                pcm = decode_audio(clean["audio"])
            except ValueError as exc:
                self._stats.incr("client_events_rejected")
                self._inbox.put(error_event(str(exc), code="invalid_value", param="audio",
                                            client_event_id=clean.get("event_id")))
                return
            await self.append_audio(pcm)
            return
        if kind == "session.update":
            update = dict(clean["session"])
            update.pop("type", None)
            self._client_session = deep_merge(self._client_session, update)
        elif kind == "response.create":
            self._link.expect_response()
        self._flush_audio(force=True)  # audio appended before this event reaches the upstream before it
        clean = upstream_event(clean, operator_instructions=self._defaults.instructions,
                               voice_locked=self._defaults.voice_locked,
                               client_instructions=self._client_session.get("instructions"))
        if not self._outbox.put_event(clean):
            self._stats.incr("client_events_rejected")
            self._inbox.put(error_event("Too many events waiting for the voice service; slow down.",
                                        code="rate_limited", client_event_id=clean.get("event_id")))

    async def add_image(self, data: bytes, text: str | None = None, respond: bool = False) -> PreparedImage:
        """A photo upload (JPEG/PNG bytes) as a user item, then a reply if asked; raises `ImageRejected`."""
        prepared = await self.images.prepare_bytes(data)
        if self._finishing:
            raise ImageRejected("call_ended", "The call has ended; start a new call and send the photo again.")
        self._flush_audio(force=True)
        # already checked and re-encoded: straight to the outbox, past the gate (its rate limit counted it once)
        queued = self._outbox.put_event(sanitize_client_event(image_item_event(prepared, text), mode=self.mode))
        if respond and queued:
            self._link.expect_response()
            queued = self._outbox.put_event({"type": "response.create"})
        if not queued:
            raise ImageRejected("rate_limited", "Too many events waiting for the voice service; slow down.")
        return prepared

    async def append_audio(self, pcm16_24k_mono: bytes) -> None:
        """Queue PCM16 24 kHz mono audio; sent as `input_audio_buffer.append` in 20–100 ms chunks. Never blocks."""
        if self._finishing:
            return
        # a stray odd byte would shift every following sample; drop it rather than corrupt the stream
        self._pending_pcm += pcm16_24k_mono[: len(pcm16_24k_mono) & ~1]
        if len(self._pending_pcm) >= self._limits.min_chunk_ms * BYTES_PER_MS:
            self._flush_audio()

    def events(self) -> AsyncIterator[Event]:
        """Server events in GA shape, `session.created` first; ends after the session closes (a final `error` event
        with code `upstream_<code>` precedes the end when the upstream failed). One consumer only."""
        return self._iterate()

    def notify(self, event: Event) -> None:
        """Send the client an event of the gateway's own (a notice); dropped once the session is closing."""
        self._inbox.put(event)

    async def truncate(self, item_id: str, content_index: int, audio_end_ms: int) -> None:
        await self.send_client_event({"type": "conversation.item.truncate", "item_id": item_id,
                                      "content_index": content_index, "audio_end_ms": max(0, int(audio_end_ms))})

    async def close(self, reason: str = "client_closed") -> None:
        """End the session: cancel its tasks, close the upstream socket, end `events()`. Idempotent."""
        if self._finishing:
            await self.closed.wait()
            return
        await self._finish(reason, None)

    def stats(self) -> dict[str, Any]:
        """Per-session numbers for logs and diagnostics."""
        return {
            "mode": self.mode,
            "connect_ms": self._link.connect_ms,
            "upstream_age_s": self._link.upstream_age_s(),
            "reconnects": self.reconnects,
            "recycles": self.recycles,
            "audio_in_ms": self.audio_in_bytes // BYTES_PER_MS,
            "audio_dropped_ms": self._outbox.dropped_audio_bytes // BYTES_PER_MS,
            "events_dropped": self._inbox.dropped,
            "last_reply_latency_ms": self.last_reply_latency_ms,
        }

    @property
    def connect_ms(self) -> int:
        return self._link.connect_ms

    @property
    def reconnects(self) -> int:
        return self._link.reconnects

    @property
    def recycles(self) -> int:
        return self._link.recycles

    @property
    def last_reply_latency_ms(self) -> int | None:
        return self._link.last_reply_latency_ms

    # --- client side helpers -----------------------------------------------------------------------------------------
    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            try:
                yield await self._inbox.get()
            except QueueClosed:
                return

    def _flush_audio(self, *, force: bool = False) -> None:
        """Queue pending audio in chunks of at most max_chunk_ms; a tail under min_chunk_ms waits unless `force`."""
        pending = self._pending_pcm
        keep = 0 if force else len(pending) % (self._limits.max_chunk_ms * BYTES_PER_MS)
        if keep >= self._limits.min_chunk_ms * BYTES_PER_MS:
            keep = 0
        pcm = bytes(pending[: len(pending) - keep])
        del pending[: len(pcm)]
        step = self._limits.max_chunk_ms * BYTES_PER_MS
        dropped = 0
        for offset in range(0, len(pcm), step):
            dropped += self._outbox.put_audio(pcm[offset : offset + step])
        self.audio_in_bytes += len(pcm)
        if dropped:
            self._stats.incr("audio_in_dropped_bytes", dropped)

    def _effective_session(self) -> dict[str, Any]:
        return effective_session(self._defaults, self._client_session)

    def _client_view(self, event: Event) -> Event:
        return client_view(event, client_instructions=self._client_session.get("instructions"))

    def _auto_response(self) -> bool:
        return auto_response(self._effective_session())

    # --- writer task -------------------------------------------------------------------------------------------------
    async def _write_loop(self) -> None:
        try:
            await self._write_items()
        except Exception as exc:  # a bug must end the call cleanly, not leave it hanging
            await self._finish("internal_error", self._link.internal_error(exc))

    async def _write_items(self) -> None:
        while True:
            item = await self._outbox.get()
            payload = (
                {"type": "input_audio_buffer.append", "audio": encode_audio(item)} if isinstance(item, bytes) else item
            )
            await self._link.send(payload)

    # --- the end -----------------------------------------------------------------------------------------------------
    async def _finish(self, reason: str, error: UpstreamError | None) -> None:
        if self._finishing:
            return
        self._finishing = True
        self.close_reason = reason
        self.error = error
        self._link.ready.clear()
        if error is not None:
            self._stats.record_upstream_error(error.code, error.operator_message, self.user_id)
            self._log.warning("realtime session ended: {}", error.operator_message)
            self._inbox.put(error_event(error.user_message, code=f"upstream_{error.code}", error_type="server_error"))
        else:
            self._log.info("realtime session closed: {}", reason)
        current = asyncio.current_task()
        others = [task for task in self._tasks if task is not current]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        await self._link.close()
        self._outbox.clear()
        self._pending_pcm.clear()
        self._inbox.close()
        self._stats.incr("sessions_closed")
        if self.observer is not None:
            self.observer.session_closed(self)
        self.closed.set()
