"""`POST /v1/realtime/client_secrets`, OpenAI's GA shape: mint a short-lived `ek_` key for a browser.

Request (JSON, every field optional): `{"expires_after": {"anchor": "created_at", "seconds": 10..7200},
"session": {"type": "realtime", ...}}`. Answer: `{"value": "ek_…", "expires_at": <unix s>, "session": {...}}`.
Callable with a device token or a signed-in session (cookie requests pass the usual CSRF checks), never with an
`ek_` key itself. The secret is never logged.
"""

from __future__ import annotations

import json
import math
from typing import Any

from loguru import logger
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from web.auth.client_secrets import DEFAULT_TTL_S, MAX_TTL_S, MIN_TTL_S, ClientSecretError
from web.auth.guards import api_login_required
from web.db import DatabaseError
from web.i18n import N_, gettext
from web.media.realtime.sanitize import RejectedEvent, sanitize_client_event
from web.services import services

MAX_BODY_BYTES = 64 * 1024
BAD_REQUEST = N_("The client secret request is not valid: %(detail)s")
NOT_WITH_SECRET = N_("A client secret cannot mint another one. Use a device token or sign in.")
UNAVAILABLE = N_("The service is temporarily unavailable. Try again in a minute.")


def _error(status: int, code: str, message: str, **params: Any) -> JSONResponse:
    text = gettext(message) % params if params else gettext(message)
    english = message % params if params else message
    return JSONResponse({"error": {"type": "invalid_request_error", "code": code, "message": text,
                                   "message_en": english}}, status_code=status, headers={"Cache-Control": "no-store"})


class RequestError(ValueError):
    pass


def _parse(raw: bytes) -> tuple[int, dict[str, Any]]:
    """(ttl seconds, sanitised session) from the request body; raises RequestError saying what is wrong."""
    if not raw.strip():
        return DEFAULT_TTL_S, {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise RequestError("the body is not JSON") from exc
    if not isinstance(body, dict):
        raise RequestError("the body must be a JSON object")
    ttl = DEFAULT_TTL_S
    expires = body.get("expires_after")
    if expires is not None:
        seconds = expires.get("seconds") if isinstance(expires, dict) else None
        if not isinstance(expires, dict) or expires.get("anchor", "created_at") != "created_at":
            raise RequestError("expires_after.anchor must be created_at")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds) \
                or not MIN_TTL_S <= seconds <= MAX_TTL_S:
            raise RequestError(f"expires_after.seconds must be between {MIN_TTL_S} and {MAX_TTL_S}")
        ttl = int(seconds)
    session: dict[str, Any] = {}
    if body.get("session") is not None:
        if not isinstance(body["session"], dict) or body["session"].get("type", "realtime") != "realtime":
            raise RequestError("session must be an object of type realtime")
        try:
            clean = sanitize_client_event({"type": "session.update", "session": body["session"]})
        except RejectedEvent as exc:
            raise RequestError(str(exc)) from exc
        session = {k: v for k, v in clean["session"].items() if k != "type"}
    return ttl, session


@api_login_required
async def create_client_secret(request: Request) -> Response:
    if request.state.auth_method == "client_secret":
        return _error(403, "forbidden", NOT_WITH_SECRET)
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        return _error(413, "invalid_request", BAD_REQUEST, detail="the body is too large")
    try:
        ttl, session = _parse(raw)
    except RequestError as exc:
        return _error(400, "invalid_request", BAD_REQUEST, detail=str(exc))
    svc = services(request)
    user = request.state.user
    try:
        secret, record = await svc.client_secrets.mint(user.id, request.state.session_id, ttl, session)
    except ClientSecretError as exc:
        logger.info("client secret refused", user_id=user.id, code=exc.code)
        return _error(429, exc.code, str(exc))
    except DatabaseError as exc:
        logger.error("client secret not stored", user_id=user.id, error=str(exc))
        return _error(503, "database_unavailable", UNAVAILABLE)
    logger.info("client secret minted", user_id=user.id, ttl_s=ttl, auth_method=request.state.auth_method)
    settings = request.app.state.settings
    model = {"echo": "echo", "azure": settings.azure_openai_realtime_deployment_name}.get(
        settings.voice_mode, settings.openai_realtime_model)
    shown = {"type": "realtime", "object": "realtime.session", "model": model, "instructions": "", **session}
    return JSONResponse({"value": secret, "expires_at": int(record.expires_at), "session": shown},
                        headers={"Cache-Control": "no-store"})


routes: list[BaseRoute] = [
    Route("/v1/realtime/client_secrets", create_client_secret, methods=["POST"], name="realtime_client_secrets"),
]
