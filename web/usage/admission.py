"""The quota check a route runs before admitting a call, and the refusal it answers with.

The refusal is a Realtime `error` event (type, event_id, error{type, code, message}) with status 429, plus
`message_en`; the page shows `error.message` (zh-CN, or the request's language) like its other refusals.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from loguru import logger
from starlette.responses import JSONResponse
from starlette.types import Scope, Send

from web.accounts.models import User
from web.db import DatabaseError
from web.i18n import gettext
from web.services import Services


async def quota_refusal(svc: Services, user: User) -> str | None:
    """The msgid to refuse `user`'s new call with, or None. A database failure lets the call through (and logs)."""
    try:
        return await svc.usage.quotas.refusal(user)
    except DatabaseError as exc:
        logger.warning("quota check failed; admitting the call", user_id=user.id, error=str(exc))
        return None


def refusal_event(msgid: str) -> dict[str, Any]:
    return {"type": "error", "event_id": "event_" + secrets.token_hex(8),
            "error": {"type": "invalid_request_error", "code": "quota_exceeded", "message": gettext(msgid),
                      "message_en": msgid, "param": None, "event_id": None}}


def refusal_response(msgid: str) -> JSONResponse:
    return JSONResponse(refusal_event(msgid), status_code=429, headers={"Cache-Control": "no-store"})


async def reject_websocket_over_quota(scope: Scope, send: Send, msgid: str) -> None:
    """Refuse the upgrade with 429 and the event as the body (a close 1008 where the server cannot)."""
    if "websocket.http.response" in scope.get("extensions", {}):
        body = json.dumps(refusal_event(msgid), ensure_ascii=False).encode()
        await send({"type": "websocket.http.response.start", "status": 429,
                    "headers": [(b"content-type", b"application/json; charset=utf-8")]})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": "quota_exceeded"})
