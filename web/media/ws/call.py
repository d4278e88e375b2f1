"""One Realtime call over a WebSocket: a client socket bound to one upstream session, and its clean end.

Lifecycle. `serve()` starts the upstream session first and only then accepts the socket, so the first frame the
client reads is `session.created`; an upstream that cannot start is reported as a GA `error` event (code
`upstream_<code>`, the user message) followed by a close, which a browser can show, unlike a refused handshake.
Three tasks then run: the reader (client frames → checks → the session), the writer (the session's events → the
socket) and, for device tokens, a guard that re-checks the token every `CREDENTIAL_CHECK_S` (expiry mid-call, a
revocation seen by another worker). `request_close()` is idempotent; every path ends in `_shutdown()`, which cancels
the tasks, sends the client a last event when we end the call for a reason it should show, closes the socket with
a code that says why (protocol.close_code_for), closes the upstream and tells the registry, each step bounded.

Backpressure: a client that stops reading blocks only the writer; the session's bounded inbox then drops the oldest
audio deltas. The reader awaits nothing slow, so appends are never held up by the downlink.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from loguru import logger
from starlette.types import Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from web.media.calls.credential import Credential
from web.media.calls.upstream import RealtimeSessionLike
from web.media.realtime import UpstreamError, error_event
from web.media.ws.device_audio import DeviceAudio, FormatRefused
from web.media.ws.protocol import CLOSE_REVOKED, MAX_FRAME_CHARS, close_code_for, reject_websocket

Event = dict[str, Any]
SessionMaker = Callable[[], RealtimeSessionLike]
CREDENTIAL_CHECK_S = 15.0
NOTIFY_TIMEOUT_S = 0.5
CLOSE_STEP_TIMEOUT_S = 3.0
ACCEPT_TIMEOUT_S = 5.0


def _frame_error(message: str, code: str) -> Event:
    return error_event(message, code=code)


class WsCall:
    """A `LiveCall` (web/media/calls/call.py) over a WebSocket. `credential_active` (device tokens) is polled by
    the guard; when it says no, the call ends with `revoked_notice` as the client's last event."""

    transport = "websocket"

    def __init__(
        self,
        *,
        call_id: str,
        user_id: int,
        credential: Credential | None,
        make_session: SessionMaker,
        start_timeout_s: float,
        on_closed: Callable[[WsCall], None],
        credential_active: Callable[[], Awaitable[bool]] | None = None,
        revoked_notice: Event | None = None,
        log_context: dict[str, Any] | None = None,
    ) -> None:
        self.id = call_id
        self.user_id = user_id
        self.credential = credential
        self.session: RealtimeSessionLike | None = None
        self.close_reason: str | None = None
        self.closed = asyncio.Event()
        self.on_closed = on_closed
        self._revoked_notice = revoked_notice
        self.created_at = time.monotonic()
        self.frames_in = self.frames_out = self.frames_refused = 0
        self._make_session = make_session
        self._start_timeout = start_timeout_s
        self._credential_active = credential_active
        self._log = logger.bind(call_id=call_id, user_id=user_id, transport="websocket", **(log_context or {}))
        self._socket: WebSocket | None = None
        self._accepted = False
        self._starting: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closer: asyncio.Task[None] | None = None
        self._send_lock = asyncio.Lock()
        self._handshake_lock = asyncio.Lock()
        self._scope_send: Send | None = None
        self._device_audio = DeviceAudio()  # the client's own audio format (16 kHz, G.711), converted both ways

    # --- running ---------------------------------------------------------------------------------------------------
    async def serve(self, socket: WebSocket, subprotocol: str | None, send: Send) -> None:
        """Run the call on `socket` (not yet accepted) until it is over and everything is released. `send` is the
        raw ASGI send, to refuse the upgrade with an HTTP status if the call is closed before it was accepted."""
        self._socket = socket
        self._scope_send = send
        self._starting = asyncio.create_task(self._start_upstream(), name=f"ws-{self.id}-start")
        try:
            await asyncio.wait({self._starting})
            if self._closer is None:  # not revoked or shut down while connecting
                await self._begin(socket, subprotocol, self._starting)
            await self.closed.wait()
        except asyncio.CancelledError:
            self.request_close("cancelled")
            raise

    async def _start_upstream(self) -> None:
        self.session = self._make_session()
        async with asyncio.timeout(self._start_timeout):
            await self.session.start()

    async def _begin(self, socket: WebSocket, subprotocol: str | None, start: asyncio.Task[None]) -> None:
        failure = start.exception() if not start.cancelled() else asyncio.CancelledError()
        async with self._handshake_lock:  # a close requested meanwhile waits, then sees the socket accepted
            try:
                # X-Call-Id: the id a device needs for POST /v1/realtime/calls/{call_id}/images during this call
                await asyncio.wait_for(socket.accept(subprotocol=subprotocol,
                                                     headers=[(b"x-call-id", self.id.encode())]), ACCEPT_TIMEOUT_S)
            except (WebSocketDisconnect, OSError, RuntimeError, TimeoutError):
                self.request_close("client_gone")
                return
            self._accepted = True
        if self._closer is not None:  # revoked or shut down while accepting: the closer ends it
            return
        if failure is None:
            self._log.info("websocket call started")
            for name, coro in (("reader", self._read()), ("writer", self._write()), ("guard", self._guard())):
                self._tasks.append(asyncio.create_task(self._contained(coro), name=f"ws-{self.id}-{name}"))
            return
        error = failure if isinstance(failure, UpstreamError) else None
        if isinstance(failure, TimeoutError):
            error = UpstreamError("timeout", "no session.created in time")
        if error is None:
            self._log.opt(exception=failure).error("websocket call could not start")
            error = UpstreamError("internal", type(failure).__name__)
        else:
            self._log.warning("upstream refused the websocket call: {}", error.operator_message)
        notify = error_event(error.user_message, code=f"upstream_{error.code}", error_type="server_error")
        self.request_close(f"upstream_{error.code}", notify)

    async def _contained(self, coro: Awaitable[None]) -> None:
        try:
            await coro
        except Exception:  # a bug must end the call cleanly, not leave it half-running
            self._log.opt(exception=True).error("websocket call task failed")
            self.request_close("internal_error")

    async def _read(self) -> None:
        assert self._socket is not None and self.session is not None
        session = self.session
        while True:
            try:
                message = await self._socket.receive()
            except (WebSocketDisconnect, RuntimeError):
                message = {"type": "websocket.disconnect"}
            if message["type"] == "websocket.disconnect":
                self.request_close("client_closed")
                return
            self.frames_in += 1
            text = message.get("text")
            if text is None:
                await self._refuse("Binary frames are not supported: send Realtime events as JSON text frames.",
                                   "invalid_frame")
                continue
            if len(text) > MAX_FRAME_CHARS:
                await self._refuse(f"The message is larger than {MAX_FRAME_CHARS // (1024 * 1024)} MiB; send audio "
                                   "in smaller appends, and large photos with POST /v1/realtime/calls/{call_id}/images "
                                   "(the call id is this socket's X-Call-Id header).", "message_too_large")
                continue
            try:
                event = json.loads(text)
            except (ValueError, RecursionError):
                await self._refuse("The message is not valid JSON.", "invalid_json")
                continue
            try:
                event = self._device_audio.from_client(event)
            except FormatRefused as refused:
                await self._send(refused.error)
                continue
            await session.send_client_event(event)  # the session refuses what it must with a GA error event

    async def _refuse(self, message: str, code: str) -> None:
        self.frames_refused += 1
        await self._send(_frame_error(message, code))

    async def _write(self) -> None:
        assert self.session is not None
        try:
            async for event in self.session.events():
                await self._send(self._device_audio.to_client(event))
        except (WebSocketDisconnect, OSError, RuntimeError):
            self.request_close("client_gone")
            return
        self.request_close(self.session.close_reason or "upstream_closed")

    async def _guard(self) -> None:
        if self._credential_active is None:
            return
        while True:
            await asyncio.sleep(CREDENTIAL_CHECK_S)
            try:
                active = await self._credential_active()
            except Exception:  # a database hiccup must not end a live call; the next check decides
                self._log.opt(exception=True).warning("credential check failed")
                continue
            if not active:
                self.request_close("credential_inactive", self._revoked_notice)
                return

    async def _send(self, event: Event) -> None:
        assert self._socket is not None
        async with self._send_lock:
            await self._socket.send_text(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
        self.frames_out += 1

    # --- closing ---------------------------------------------------------------------------------------------------
    def request_close(self, reason: str, notify: Event | None = None) -> None:
        if self._closer is None:
            self.close_reason = reason
            self._closer = asyncio.create_task(self._shutdown(notify), name=f"ws-{self.id}-close")

    async def close(self, reason: str, notify: Event | None = None) -> None:
        """End the call (registry: hang-up, revocation, shutdown); returns once everything is released."""
        self.request_close(reason, notify)
        await self.closed.wait()

    async def _shutdown(self, notify: Event | None) -> None:
        reason = self.close_reason or "closed"
        try:
            current = asyncio.current_task()
            pending = [t for t in (self._starting, *self._tasks) if t is not None and t is not current]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await self._close_socket(reason, notify)
            if self.session is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.session.close(reason), CLOSE_STEP_TIMEOUT_S)
        finally:
            self.closed.set()
            self._log.info("websocket call closed", reason=reason, **self.stats())
            self.on_closed(self)

    async def _close_socket(self, reason: str, notify: Event | None) -> None:
        socket = self._socket
        if socket is None or self._scope_send is None or reason in ("client_closed", "client_gone"):
            return
        async with self._handshake_lock:
            await self._end_socket(socket, self._scope_send, reason, notify)

    async def _end_socket(self, socket: WebSocket, send: Send, reason: str, notify: Event | None) -> None:
        if not self._accepted:
            # Closed while connecting upstream (revoked, shutting down): refuse the upgrade instead.
            status = 401 if close_code_for(reason) == CLOSE_REVOKED else 503
            with contextlib.suppress(Exception):
                await reject_websocket(socket.scope, send, status, reason)
            return
        code = close_code_for(reason)
        if notify is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._send(notify), NOTIFY_TIMEOUT_S)
        with contextlib.suppress(Exception):
            # bounded: a client that stopped reading leaves no room even for the close frame
            await asyncio.wait_for(socket.close(code, reason[:120]), NOTIFY_TIMEOUT_S)

    # --- numbers ---------------------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "duration_s": round(time.monotonic() - self.created_at, 1),
            "frames_in": self.frames_in,
            "frames_out": self.frames_out,
            "frames_refused": self.frames_refused,
        }
        session_stats = getattr(self.session, "stats", None)
        if callable(session_stats):
            with contextlib.suppress(Exception):
                out["session"] = session_stats()
        return out
