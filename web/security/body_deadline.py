"""A deadline on request bodies: a body still arriving BODY_TIMEOUT_S after the request started is cut off with 408
(a client sending `/login` at one byte a second held a connection for 25 s+). Once the body is complete, `receive`
is passed through untouched (responses wait on it for the disconnect)."""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.i18n import N_
from web.security.responses import error_response

BODY_TIMEOUT_S = 10.0
TOO_SLOW = N_("The request took too long to arrive. Check your connection and try again.")


class BodyTimeout(Exception):
    pass


class BodyDeadlineMiddleware:
    def __init__(self, app: ASGIApp, *, seconds: float = BODY_TIMEOUT_S) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.seconds <= 0:
            await self.app(scope, receive, send)
            return
        deadline = time.monotonic() + self.seconds
        body_done = False
        response_started = False

        async def timed_receive() -> Message:
            nonlocal body_done
            if body_done:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                raise BodyTimeout from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, tracking_send)
        except BodyTimeout:
            if not response_started:
                response = error_response(scope, 408, "request_timeout", TOO_SLOW, headers={"Connection": "close"})
                await response(scope, receive, send)
