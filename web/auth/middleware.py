"""Resolves the session cookie on every request (HTTP and WebSocket) into `request.state.user`.

Sets `state.user` (User | None), `state.session_id` (the id hash | None), `state.session` (ActiveSession | None)
and `state.auth_failure` ("", "invalid", "expired", "revoked", "disabled") for the routes and guards to act on.
A cookie that no longer names a live session is cleared on the response.
"""

from __future__ import annotations

from loguru import logger
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.auth.sessions import SessionStore
from web.db import DatabaseError
from web.i18n import N_
from web.security.cookies import read_cookies, set_cookie_header
from web.security.responses import error_response


class SessionAuthMiddleware:
    def __init__(self, app: ASGIApp, *, store: SessionStore, cookie_name: str, secure: bool) -> None:
        self.app = app
        self.store = store
        self.cookie_name = cookie_name
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state.update(user=None, session_id=None, session=None, auth_failure="")
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(("/static/", "/health")):
            await self.app(scope, receive, send)
            return
        cookie = read_cookies(scope).get(self.cookie_name)
        clear_cookie = False
        if cookie:
            raw_id = self.store.unsign(cookie)
            if raw_id is None:
                state["auth_failure"] = "invalid"
                clear_cookie = True
            else:
                try:
                    resolution = await self.store.resolve(raw_id)
                except DatabaseError as exc:
                    logger.error("session lookup failed", error=str(exc))
                    if scope["type"] == "http":
                        await error_response(scope, 503, "database_unavailable",
                                             N_("The service is temporarily unavailable. Try again in a minute."))(
                            scope, receive, send)
                    return
                if resolution.session is None:
                    state["auth_failure"] = resolution.failure
                    clear_cookie = True
                else:
                    state.update(user=resolution.session.user, session_id=resolution.session.session_id,
                                 session=resolution.session)
        if not clear_cookie or scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_clearing(message: Message) -> None:
            if message["type"] == "http.response.start" and not state.get("session_cookie_set"):
                message["headers"] = [*message.get("headers", []),
                                      set_cookie_header(self.cookie_name, "", max_age=0, secure=self.secure)]
            await send(message)

        await self.app(scope, receive, send_clearing)
