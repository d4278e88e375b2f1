"""`GET /v1/realtime` upgraded to a WebSocket that speaks the GA Realtime protocol, with our auth and call limits.

Every refusal happens at the handshake, with an HTTP status and before anything is allocated (never accept-then-
close): not signed in → 401; a cookie upgrade from another origin → 403 (the CSRF middleware covers HTTP only, and a
browser attaches cookies to cross-site WebSocket upgrades); the beta protocol, a malformed `?model=` or
subprotocols without `realtime` → 400; no call registry → 503; admission (the same per-user and per-process
limits as WebRTC calls, counted together) → 429 / 503. Then the call is registered with the WebRTC registry, so
revocation, sign-out and shutdown close it like a WebRTC call, and runs (`WsCall`).

A key sent as the browser subprotocol `openai-insecure-api-key.<key>` is checked by running the app's own auth
middleware again with the key as a bearer token: one code path for tokens, with the same throttling and logging.
"""

from __future__ import annotations

import secrets
from typing import Any

from loguru import logger
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from web.auth.middleware import SessionAuthMiddleware, reject_websocket
from web.auth.sessions import cookie_name
from web.media.rtc.registry import AdmissionError, CallRegistry
from web.media.rtc.upstream import RealtimeSessionLike, default_session_factory, make_session
from web.media.ws.call import WsCall
from web.media.ws.protocol import header, model_is_valid, parse_subprotocols, wants_beta
from web.security.csrf import request_origin
from web.services import Services, credential_is_active
from web.settings import Settings
from web.usage.admission import quota_refusal, reject_websocket_over_quota


def _with_bearer(scope: Scope, key: str) -> Scope:
    headers = [(k, v) for k, v in scope.get("headers", []) if k != b"authorization"]
    headers.append((b"authorization", b"Bearer " + key.encode("latin-1", "replace")))
    return {**scope, "headers": headers, "state": dict(scope.get("state", {}))}


def handshake_problem(scope: Scope, settings: Settings) -> tuple[int, str] | None:
    """(status, code) when the upgrade must be refused for who asks or how; None when it may proceed."""
    state = scope.get("state", {})
    if state.get("user") is None:
        return 401, "session_expired" if state.get("auth_failure") in ("expired", "revoked") else "unauthorized"
    if state.get("auth_method") == "session":
        origin = header(scope, b"origin")
        if origin is None or origin.rstrip("/") != request_origin(scope, settings.public_origin):
            return 403, "origin_not_allowed"
    offer = parse_subprotocols(scope.get("subprotocols") or [])
    if wants_beta(scope, offer):
        return 400, "beta_protocol_not_supported"
    if not offer.acceptable:
        return 400, "subprotocol_not_supported"
    if not model_is_valid(scope):
        return 400, "invalid_model"
    return None


class RealtimeWebSocketEndpoint:
    """The ASGI app behind the WebSocket route."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        offer = parse_subprotocols(scope.get("subprotocols") or [])
        if offer.key is not None and header(scope, b"authorization") is None:
            app = scope["app"]
            settings: Settings = app.state.settings
            auth = SessionAuthMiddleware(self._handshake, services=app.state.services,
                                         cookie_name=cookie_name(settings), secure=settings.is_production)
            await auth(_with_bearer(scope, offer.key), receive, send)
            return
        await self._handshake(scope, receive, send)

    async def _handshake(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = scope["app"]
        settings: Settings = app.state.settings
        problem = handshake_problem(scope, settings)
        if problem is not None:
            logger.info("websocket call refused", status=problem[0], code=problem[1])
            await reject_websocket(scope, send, *problem)
            return
        registry: CallRegistry | None = getattr(app.state, "calls", None)
        if registry is None:
            await reject_websocket(scope, send, 503, "voice_unavailable")
            return
        state = scope["state"]
        user_id = int(state["user"].id)
        over_quota = await quota_refusal(app.state.services, state["user"])
        if over_quota is not None:
            logger.info("websocket call refused", user_id=user_id, code="quota_exceeded")
            await reject_websocket_over_quota(scope, send, over_quota)
            return
        try:
            slot = registry.admit(user_id)
        except AdmissionError as exc:
            logger.info("websocket call refused", user_id=user_id, code=exc.code)
            await reject_websocket(scope, send, exc.status, exc.code)
            return
        call = _build_call(app.state.services, settings, registry, state, user_id)
        call.on_closed = registry.adopt(slot, call)
        await call.serve(WebSocket(scope, receive, send), parse_subprotocols(scope.get("subprotocols") or []).accept,
                         send)


def _build_call(svc: Services, settings: Settings, registry: CallRegistry, state: dict[str, Any],
                user_id: int) -> WsCall:
    call_id = "ws_" + secrets.token_hex(12)
    handle: str | None = state.get("session_id")
    context = {"call_id": call_id, "user_id": user_id, "auth_method": state.get("auth_method"),
               "request_id": state.get("request_id")}

    def new_session() -> RealtimeSessionLike:
        factory = registry.session_factory or default_session_factory()
        session: RealtimeSessionLike = make_session(factory, settings, user_id, context)
        registry.session_made(session, call_id, user_id, "websocket", handle)
        return session

    async def token_active() -> bool:
        assert handle is not None
        return await credential_is_active(svc, handle)

    # Device tokens are re-checked during the call (expiry, revocation seen by another worker). Cookie sessions are
    # ended by the revocation listeners: their idle timeout counts page requests, which a live call does not make.
    is_token = bool(handle and handle.startswith("token:"))
    return WsCall(call_id=call_id, user_id=user_id, session_id=handle, make_session=new_session,
                  start_timeout_s=settings.realtime_connect_timeout_s + 5.0,
                  credential_active=token_active if is_token else None, log_context={"auth": context["auth_method"]})
