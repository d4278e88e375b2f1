"""uvicorn's HTTP protocol with a deadline on request headers, selected on every uvicorn command line with
`--http web.server_protocol:DeadlineHttpToolsProtocol` (Procfile, Dockerfile, `python -m web serve`).

uvicorn closes idle keep-alive connections (`--timeout-keep-alive`) and caps connections and tasks per process
(`--limit-concurrency`, 503 beyond it; here with a message that says what to do and a retry hint), but a connection
that opens and never finishes its headers is held for ever: 200 of them tied up a process. Here such a connection
gets 408 and is closed after HEADER_TIMEOUT_S, whether it is new or a kept-alive one starting its next request.
Slow bodies are cut by web/security/body_deadline.py.
"""

from __future__ import annotations

import asyncio

from uvicorn._types import ASGI3Application, ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

HTTP_PROTOCOL = "web.server_protocol:DeadlineHttpToolsProtocol"
HEADER_TIMEOUT_S = 10.0
LIMIT_CONCURRENCY = 400  # connections + running requests per process (WebSocket calls included)
TIMEOUT_KEEP_ALIVE_S = 5
_408_BODY = ("请求头发送超时，请检查网络后重试。\n"
             "The request headers took too long to arrive. Check your connection and try again.\n")
_408 = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
        b"content-length: %d\r\n\r\n" % len(_408_BODY.encode()) + _408_BODY.encode())
_503_BODY = "服务器繁忙，请几秒后重试。\nThe server is busy. Try again in a few seconds.\n".encode()


async def _over_the_cap(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    """uvicorn's answer beyond --limit-concurrency, with a message and a retry hint."""
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(_503_BODY)).encode()),
        (b"retry-after", b"5"), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": _503_BODY, "more_body": False})


class DeadlineHttpToolsProtocol(HttpToolsProtocol):
    header_timeout_s = HEADER_TIMEOUT_S
    _header_deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:
            self._arm()  # the next request on this connection gets its own header deadline

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        super()._start_asgi_task(cycle, _over_the_cap if app is service_unavailable else app)

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self.transport.is_closing() or (self.cycle is not None and not self.cycle.response_complete):
            return  # a request is being served: the body deadline and the app's own limits apply
        self.transport.write(_408)
        self.transport.close()
