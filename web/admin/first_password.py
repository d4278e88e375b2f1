"""Temporary passwords from the console must be replaced: until then a signed-in browser reaches only the account
page (to change it), sign-out and the static files; pages redirect there, anything else gets 403 with the reason."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from web.db import Database
from web.i18n import N_, gettext

CHANGE_FIRST = N_("Set a new password before you continue: an administrator gave you a temporary one.")
ALLOWED = ("/account", "/logout", "/login", "/static/", "/health", "/favicon.ico", "/status/", "/metrics")


async def mark_temporary(db: Database, user_id: int) -> None:
    await db.execute("UPDATE users SET must_change_password = 1 WHERE id = ?", (user_id,))


async def must_change(db: Database, user_id: int) -> bool:
    row = await db.fetchone("SELECT must_change_password FROM users WHERE id = ?", (user_id,))
    return bool(row and row["must_change_password"])


class PasswordChangeMiddleware:
    def __init__(self, app: ASGIApp, *, db: Database) -> None:
        self.app = app
        self.db = db

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.get("state") or {}
        user = state.get("user")
        path = str(scope.get("path", ""))
        if (scope["type"] not in ("http", "websocket") or user is None or state.get("auth_method") != "session"
                or path.startswith(ALLOWED) or not await must_change(self.db, user.id)):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "password_change_required"})
            return
        headers = dict(scope.get("headers") or [])
        if scope.get("method") == "GET" and b"text/html" in headers.get(b"accept", b""):
            await send({"type": "http.response.start", "status": 303,
                        "headers": [(b"location", b"/account?change=1"), (b"cache-control", b"no-store")]})
            await send({"type": "http.response.body", "body": b""})
            return
        message = gettext(CHANGE_FIRST)
        body = json.dumps({"error": {"code": "password_change_required", "message": message,
                                     "message_en": CHANGE_FIRST}}, ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"application/json; charset=utf-8"),
                                (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": body})
