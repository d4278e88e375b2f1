"""Error responses built at the middleware level, as JSON for API clients and as text for browsers."""

from __future__ import annotations

from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Scope

from web.i18n import gettext


def wants_json(scope: Scope) -> bool:
    path = str(scope.get("path", ""))
    if path.startswith(("/v1/", "/api/")):
        return True
    for key, value in scope.get("headers", []):
        if key == b"accept" and b"application/json" in value and b"text/html" not in value:
            return True
    return False


def error_response(
    scope: Scope, status: int, code: str, message: str, headers: dict[str, str] | None = None,
    params: dict[str, object] | None = None,
) -> Response:
    """`message` is an English msgid; the body carries the user's language (zh-CN by default)."""
    text = gettext(message) % params if params else gettext(message)
    if params:
        message = message % params
    if wants_json(scope):
        return JSONResponse({"error": {"code": code, "message": text, "message_en": message}}, status_code=status,
                            headers=headers)
    return PlainTextResponse(text, status_code=status, headers=headers)
