"""Resolves the credentials of every request (HTTP and WebSocket) into `request.state.user`.

A session cookie (browsers) or `Authorization: Bearer <token>` (devices). Sets on the scope state:
`user` (User | None), `session_id` (the session's id hash, or `token:<id>` for a device token — the handle live
calls are bound to), `session` (ActiveSession | None), `token` (ApiToken | None), `auth_method`
("session", "token" or ""), and `auth_failure` ("", "invalid", "expired", "revoked", "disabled"; "unavailable"
when the database did not answer the lookup and the path runs anonymously anyway, see ANONYMOUS_WHEN_DOWN).
A cookie that no longer names a live session is cleared on the response. Bad tokens count toward the per-IP
sign-in throttle, so tokens cannot be guessed faster than passwords.
"""

from __future__ import annotations

from loguru import logger
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.auth.client_secrets import CALL_PATHS as CLIENT_SECRET_PATHS
from web.auth.client_secrets import SECRET_PREFIX as CLIENT_SECRET_PREFIX
from web.db import DatabaseError
from web.i18n import N_
from web.media.calls import Credential
from web.media.ws.protocol import KEY_SUBPROTOCOL_PREFIX, reject_websocket
from web.security.cookies import read_cookies, set_cookie_header
from web.security.operator_access import OPERATOR_PATHS
from web.security.responses import error_response
from web.services import Services, credential_is_active

# What still runs, anonymously, when the credential lookup cannot reach the database: the probes and the
# diagnostics checklist, so its readiness row can name the database instead of the page stopping at a 503.
ANONYMOUS_WHEN_DOWN = ("/health/ready", "/diagnostics")
THROTTLED = N_("Too many failed attempts from your network. Try again in %(seconds)s seconds.")


def _bearer(scope: Scope) -> str | None:
    """`Authorization: Bearer <token>`; for a WebSocket without that header, the key a browser sends as the
    subprotocol `openai-insecure-api-key.<key>` (browsers cannot set headers on a WebSocket)."""
    has_header = False
    for key, value in scope.get("headers", []):
        if key == b"authorization":
            has_header = True
            scheme, _sep, credential = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credential.strip():
                return credential.strip()
    if scope["type"] == "websocket" and not has_header:
        for offered in scope.get("subprotocols") or []:
            name = str(offered).strip()
            if name.startswith(KEY_SUBPROTOCOL_PREFIX) and name[len(KEY_SUBPROTOCOL_PREFIX):]:
                return name[len(KEY_SUBPROTOCOL_PREFIX):]
    return None


def _runs_without_database(path: str) -> bool:
    return path in ANONYMOUS_WHEN_DOWN or path.startswith(("/diagnostics/checks/", "/diagnostics/reports",
                                                            "/diagnostics/summary"))


def _client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class SessionAuthMiddleware:
    def __init__(self, app: ASGIApp, *, services: Services, cookie_name: str, secure: bool) -> None:
        self.app = app
        self.svc = services
        self.cookie_name = cookie_name
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state.update(user=None, session_id=None, session=None, token=None, auth_method="", auth_failure="",
                     client_secret=None)
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and (path.startswith("/static/") or path == "/health"):
            await self.app(scope, receive, send)
            return
        try:
            bearer = None if path in OPERATOR_PATHS else _bearer(scope)
            if bearer is not None:
                if not await self._resolve_token(scope, receive, send, bearer):
                    return
                await self.app(scope, receive, send)
                return
            clear_cookie = await self._resolve_cookie(scope)
        except DatabaseError as exc:
            logger.error("credential lookup failed", error=str(exc))
            if scope["type"] == "http" and _runs_without_database(path):
                state.update(user=None, session_id=None, session=None, token=None, auth_method="",
                             auth_failure="unavailable")
                await self.app(scope, receive, send)
                return
            await self._reject(scope, receive, send, 503, "database_unavailable",
                               N_("The service is temporarily unavailable. Try again in a minute."))
            return
        if not clear_cookie or scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_clearing(message: Message) -> None:
            if message["type"] == "http.response.start" and not state.get("session_cookie_set"):
                message["headers"] = [*message.get("headers", []),
                                      set_cookie_header(self.cookie_name, "", max_age=0, secure=self.secure)]
            await send(message)

        await self.app(scope, receive, send_clearing)

    async def _resolve_cookie(self, scope: Scope) -> bool:
        """Fill the state from the session cookie; return True when the cookie should be cleared."""
        state = scope["state"]
        cookie = read_cookies(scope).get(self.cookie_name)
        if not cookie:
            return False
        raw_id = self.svc.sessions.unsign(cookie)
        if raw_id is None:
            state["auth_failure"] = "invalid"
            return True
        resolution = await self.svc.sessions.resolve(raw_id)
        if resolution.session is None:
            state["auth_failure"] = resolution.failure
            return True
        state.update(user=resolution.session.user, session_id=resolution.session.session_id,
                     session=resolution.session, auth_method="session")
        return False

    async def _resolve_token(self, scope: Scope, receive: Receive, send: Send, secret: str) -> bool:
        """Fill the state from a bearer token; return False when the request was already answered (throttled)."""
        state = scope["state"]
        ip = _client_ip(scope)
        verdict = self.svc.throttle.check_ip(ip)
        if not verdict.allowed:
            logger.warning("token auth throttled", ip=ip, retry_after=verdict.retry_after_s)
            await self._reject(scope, receive, send, 429, "rate_limited", THROTTLED,
                               headers={"Retry-After": str(verdict.retry_after_s)},
                               params={"seconds": verdict.retry_after_s})
            return False
        if secret.startswith(CLIENT_SECRET_PREFIX):
            return await self._resolve_client_secret(scope, secret, ip)
        resolution = await self.svc.tokens.resolve(secret)
        if resolution.user is None or resolution.token is None:
            self.svc.throttle.record_failure("", ip)
            self.svc.counters["token_auth_failures_total"] += 1
            state["auth_failure"] = resolution.failure or "invalid"
            logger.warning("token auth failed", ip=ip, reason=state["auth_failure"],
                           token_id=resolution.token.id if resolution.token else None)
            return True
        state.update(user=resolution.user, session_id=resolution.token.handle, token=resolution.token,
                     auth_method="token")
        return True

    async def _resolve_client_secret(self, scope: Scope, secret: str, ip: str) -> bool:
        """An `ek_` key: valid only to start calls, while unexpired and while its parent credential is active."""
        state = scope["state"]
        record = await self.svc.client_secrets.resolve(secret)
        path = str(scope.get("path", ""))
        user = None
        if record is not None and path in CLIENT_SECRET_PATHS and await credential_is_active(
                self.svc, Credential.from_handle(record.parent_handle)):
            user = await self.svc.users.get(record.user_id)
        if user is None or user.disabled or record is None:
            self.svc.throttle.record_failure("", ip)
            self.svc.counters["token_auth_failures_total"] += 1
            state["auth_failure"] = "invalid" if record is None or path in CLIENT_SECRET_PATHS else "not_allowed"
            logger.warning("client secret auth failed", ip=ip, reason=state["auth_failure"])
            return True
        state.update(user=user, session_id=record.parent_handle, auth_method="client_secret", client_secret=record)
        return True

    async def _reject(self, scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str,
                      headers: dict[str, str] | None = None, params: dict[str, object] | None = None) -> None:
        if scope["type"] == "websocket":
            await reject_websocket(scope, send, status, code)
            return
        await error_response(scope, status, code, message, headers=headers, params=params)(scope, receive, send)
