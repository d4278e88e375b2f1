"""The Realtime WebSocket endpoint, shaped like OpenAI's (`wss://…/v1/realtime?model=…`), with our auth.

    GET /v1/realtime[?model=…]   WebSocket upgrade → GA Realtime events both ways (web/media/ws)
    GET /v1/realtime             without an upgrade → 426 with a JSON error saying so

Every refusal happens at the handshake, with an HTTP status and before anything is allocated (never accept-then-
close): not signed in → 401 (a key sent as the subprotocol `openai-insecure-api-key.<key>` is a bearer token to the
app's auth middleware); the policy of web/routes/call_auth.py → 403 / 400; admission (the same per-user and
per-process limits as WebRTC calls, counted together) → 429 / 503. Then the call joins the registry and runs.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from loguru import logger
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from web.media.calls import AdmissionError, CallRegistry, Slot
from web.media.calls.upstream import RealtimeSessionLike
from web.media.ws.call import WsCall
from web.media.ws.protocol import parse_subprotocols, reject_websocket
from web.routes.call_auth import credential_of, upgrade_problem
from web.services import Services, credential_is_active
from web.usage.admission import quota_refusal, reject_websocket_over_quota


async def upgrade_required(request: Request) -> Response:
    body = {"error": {"code": "upgrade_required",
                      "message": "This endpoint speaks the Realtime protocol over a WebSocket: connect with ws:// or "
                                 "wss:// (the openai SDK: websocket_base_url=<origin>/v1)."}}
    return JSONResponse(body, status_code=426, headers={"Upgrade": "websocket", "Connection": "Upgrade",
                                                        "Cache-Control": "no-store"})


class RealtimeWebSocketEndpoint:
    """The ASGI app behind the WebSocket route (an object, so Starlette hands it the raw scope: a refusal needs the
    raw `send` for its HTTP status)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _serve(scope["app"].state.services, scope, receive, send)


async def _serve(svc: Services, scope: Scope, receive: Receive, send: Send) -> None:
    problem = upgrade_problem(scope, svc.settings.public_origin)
    if problem is not None:
        logger.info("websocket call refused", status=problem[0], code=problem[1])
        await reject_websocket(scope, send, *problem)
        return
    state = scope["state"]
    user_id = int(state["user"].id)
    over_quota = await quota_refusal(svc, state["user"])
    if over_quota is not None:
        logger.info("websocket call refused", user_id=user_id, code="quota_exceeded")
        await reject_websocket_over_quota(scope, send, over_quota)
        return
    try:
        slot = await svc.calls.admit(user_id, "websocket")
    except AdmissionError as exc:
        logger.info("websocket call refused", user_id=user_id, code=exc.code)
        await reject_websocket(scope, send, exc.status, exc.code)
        return
    try:
        call = _build_call(svc, svc.calls, state, slot)
    except BaseException:
        svc.calls.cancel(slot)
        raise
    svc.calls.add(slot, call)
    accept = parse_subprotocols(scope.get("subprotocols") or []).accept
    await call.serve(WebSocket(scope, receive, send), accept, send)


def _build_call(svc: Services, registry: CallRegistry, state: dict[str, object], slot: Slot) -> WsCall:
    call_id, user_id = slot.call_id, slot.user_id
    credential = credential_of(state)
    context = {"call_id": call_id, "user_id": user_id, "auth_method": state.get("auth_method"),
               "request_id": state.get("request_id")}

    secret = state.get("client_secret")
    minted = getattr(secret, "session", None)  # the session the app's backend minted the ek_ key with

    def new_session() -> RealtimeSessionLike:
        session = registry.new_session(call_id, user_id, "websocket", credential, context)
        if minted:
            session.preset(minted)
        return session

    # Device tokens are re-checked during the call (expiry, revocation seen by another worker). Cookie sessions are
    # ended by the revocation listeners: their idle timeout counts page requests, which a live call does not make.
    check: Callable[[], Awaitable[bool]] | None = None
    if credential is not None and credential.is_token:
        check = functools.partial(credential_is_active, svc, credential)

    return WsCall(call_id=call_id, user_id=user_id, credential=credential, make_session=new_session,
                  start_timeout_s=svc.settings.realtime_connect_timeout_s + 5.0, on_closed=registry.release,
                  credential_active=check, revoked_notice=registry.revoked_notice(),
                  log_context={"auth": context["auth_method"]})


routes: list[BaseRoute] = [
    WebSocketRoute("/v1/realtime", RealtimeWebSocketEndpoint(), name="realtime_ws"),
    Route("/v1/realtime", upgrade_required, methods=["GET"], name="realtime_ws_http"),
]
