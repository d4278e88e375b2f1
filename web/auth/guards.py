"""What a route does when it needs a signed-in user and has none."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from web.i18n import N_, gettext

AUTH_FAILED = N_("Authentication failed. Please sign in again.")  # 认证失败，请重新登录
LOGIN_REQUIRED = N_("Please sign in before using voice features.")  # 请先登录后再使用语音功能

Handler = Callable[[Request], Awaitable[Response]]


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _login_url(request: Request, reason: str) -> str:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    url = "/login?next=" + quote(target, safe="/")
    return url + (f"&reason={reason}" if reason else "")


def unauthenticated_json(request: Request) -> JSONResponse:
    failed = bool(request.state.auth_failure)
    message = AUTH_FAILED if failed else LOGIN_REQUIRED
    return JSONResponse(
        {"error": {"code": "session_expired" if failed else "unauthenticated",
                   "message": gettext(message), "message_en": message, "login_url": "/login"}},
        status_code=401,
    )


def unauthenticated_page(request: Request) -> Response:
    reason = "expired" if request.state.auth_failure else ""
    url = _login_url(request, reason)
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def login_required(handler: Handler) -> Handler:
    """For pages and htmx fragments: redirect to /login (HX-Redirect for htmx) when nobody is signed in."""

    @functools.wraps(handler)
    async def wrapper(request: Request) -> Response:
        if request.state.user is None:
            return unauthenticated_page(request)
        return await handler(request)

    return wrapper


def api_login_required(handler: Handler) -> Handler:
    """For JSON APIs: 401 JSON with the user-facing message when nobody is signed in."""

    @functools.wraps(handler)
    async def wrapper(request: Request) -> Response:
        if request.state.user is None:
            return unauthenticated_json(request)
        return await handler(request)

    return wrapper


def admin_required(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapper(request: Request) -> Response:
        user = request.state.user
        if user is None:
            return unauthenticated_page(request)
        if not user.is_admin:
            return Response(gettext("This page is for administrators."), status_code=403)
        return await handler(request)

    return wrapper
