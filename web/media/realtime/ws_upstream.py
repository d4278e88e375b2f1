"""A Realtime WebSocket upstream (Azure GA, Azure preview/beta with translation, OpenAI) using `websockets`."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException

from . import beta
from .config import MAX_MESSAGE_BYTES, UpstreamConfig
from .errors import UpstreamError, error_for_status, redact
from .events import Event

# websockets logs every handshake header at DEBUG, the api-key among them. Pin its logger above DEBUG so no logging
# configuration (e.g. loguru intercepting the stdlib at DEBUG) can ever print the credential.
_WS_LOGGER = logging.getLogger("web.media.realtime.websockets")
_WS_LOGGER.setLevel(logging.INFO)

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}

# error codes the service sends (instead of a 401) right after accepting the upgrade
_FIRST_EVENT_ERRORS = {"invalid_api_key": "key_rejected", "beta_api_shape_disabled": "protocol"}


def _deployment(url: str) -> str:
    """The deployment / model the URL asks for (`model=` on GA paths, `deployment=` on preview ones)."""
    query = parse_qs(urlsplit(url).query)
    return (query.get("model") or query.get("deployment") or [""])[0]


class WebSocketUpstream:
    def __init__(self, config: UpstreamConfig) -> None:
        self._config = config
        self._ws: ClientConnection | None = None
        self._beta = config.protocol == "beta"
        self._pending: deque[Event] = deque()  # translated GA events not yet returned (one beta event can be two)

    def __repr__(self) -> str:
        return f"WebSocketUpstream(mode={self._config.mode!r}, protocol={self._config.protocol!r})"

    def _error(self, code: str, detail: str, status: int | None = None) -> UpstreamError:
        return UpstreamError(code, redact(detail, self._config.secrets), status=status)

    async def connect(self) -> Event:
        timeout = self._config.connect_timeout_s
        try:
            async with asyncio.timeout(timeout):
                self._ws = await connect(
                    self._config.url,
                    additional_headers=self._config.headers,
                    max_size=MAX_MESSAGE_BYTES,
                    compression=None,  # base64 audio barely compresses; deflate would cost CPU per frame
                    open_timeout=None,  # the enclosing timeout also covers waiting for session.created
                    close_timeout=2,
                    logger=_WS_LOGGER,
                    # a configured HTTPS_PROXY is honoured (corporate networks), but never for a loopback upstream
                    proxy=None if urlsplit(self._config.url).hostname in _LOOPBACK else True,
                )
                first = await self.recv()
        except TimeoutError:
            await self.close()
            raise self._error("timeout", f"no session within {timeout:g} s") from None
        except InvalidStatus as exc:
            body = bytes(exc.response.body or b"").decode("utf-8", "replace")
            raise error_for_status(exc.response.status_code, redact(body, self._config.secrets),
                                   tried=_deployment(self._config.url)) from None
        except InvalidURI:
            raise self._error("misconfigured", "the upstream URL is not a valid WebSocket URL") from None
        except (OSError, WebSocketException) as exc:
            await self.close()
            raise self._error("unreachable", f"{type(exc).__name__}: {exc}") from None
        except UpstreamError:
            await self.close()
            raise
        if first.get("type") == "error":
            await self.close()
            error = first.get("error") or {}
            code = _FIRST_EVENT_ERRORS.get(str(error.get("code")), "protocol")
            raise self._error(code, f"{error.get('code')}: {error.get('message')}")
        if first.get("type") != "session.created":
            await self.close()
            raise self._error("protocol", f"first event was {str(first.get('type'))[:60]!r}, not session.created")
        return first

    async def send(self, event: Event) -> None:
        ws = self._ws
        if ws is None:
            raise self._error("closed", "not connected")
        payload = beta.client_to_beta(event) if self._beta else event
        try:
            await ws.send(json.dumps(payload, separators=(",", ":")))
        except ConnectionClosed as exc:
            raise self._closed(exc) from None

    async def recv(self) -> Event:
        ws = self._ws
        if ws is None:
            raise self._error("closed", "not connected")
        if self._pending:
            return self._pending.popleft()
        while True:
            try:
                raw = await ws.recv()
            except ConnectionClosed as exc:
                raise self._closed(exc) from None
            try:
                event: Any = json.loads(raw)
            except ValueError:
                continue  # a frame that is not JSON is not a Realtime event; nothing a client could use
            if isinstance(event, dict) and isinstance(event.get("type"), str):
                if not self._beta:
                    return event
                first, *rest = beta.server_events_to_ga(event)
                self._pending.extend(rest)
                return first

    def _closed(self, exc: ConnectionClosed) -> UpstreamError:
        frame = exc.rcvd
        detail = f"close code {frame.code} {frame.reason[:120]}".strip() if frame else "lost without a close frame"
        return self._error("closed", detail)

    async def close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            try:
                await ws.close()
            except Exception:  # closing is best effort; the socket is dropped either way
                ws.transport.abort()
