"""The account area's device tokens: create (shown once), list, revoke."""

from __future__ import annotations

import datetime as dt

from loguru import logger
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from web.auth.guards import is_htmx, login_required
from web.auth.tokens import TokenError
from web.i18n import N_, gettext
from web.services import services
from web.templating import render

EXPIRY_CHOICES = (("30", N_("30 days")), ("90", N_("90 days")), ("365", N_("1 year")), ("", N_("Never")))


def _fmt(ts: float | None) -> str:
    return "—" if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


async def _render(request: Request, *, new_secret: str = "", error: str = "", status: int = 200) -> Response:
    svc = services(request)
    tokens = await svc.tokens.list_for_user(request.state.user.id)
    now = svc.sessions.clock()
    rows = [{"id": t.id, "name": t.name, "prefix": t.prefix, "created": _fmt(t.created_at),
             "expires": _fmt(t.expires_at) if t.expires_at else gettext("Never"),
             "expired": t.is_expired(now), "last_used": _fmt(t.last_used_at)} for t in tokens]
    context = {"tokens": rows, "new_secret": new_secret, "error": error,
               "expiry_choices": [(value, gettext(label)) for value, label in EXPIRY_CHOICES]}
    name = "partials/token_panel.html" if is_htmx(request) else "pages/tokens.html"
    return render(request, name, context, status_code=status)


@login_required
async def tokens_page(request: Request) -> Response:
    return await _render(request)


@login_required
async def create_token(request: Request) -> Response:
    svc = services(request)
    if request.state.auth_method != "session":
        return Response(gettext("Device tokens can only be managed from a signed-in browser."), status_code=403)
    form = await request.form(max_files=0, max_fields=5, max_part_size=512)
    raw_days = str(form.get("expires_in_days", ""))
    try:
        days = int(raw_days) if raw_days else None
        secret, token = await svc.tokens.create(request.state.user.id, str(form.get("name", "")),
                                                expires_in_days=days)
    except ValueError as exc:  # TokenError, or a non-numeric expiry
        message = str(exc) if isinstance(exc, TokenError) else N_("Expiry must be between 1 and 3650 days, or never.")
        return await _render(request, error=gettext(message), status=400)
    logger.info("device token created", user_id=request.state.user.id, token_id=token.id)
    return await _render(request, new_secret=secret)


@login_required
async def revoke_token(request: Request) -> Response:
    svc = services(request)
    if request.state.auth_method != "session":
        return Response(gettext("Device tokens can only be managed from a signed-in browser."), status_code=403)
    token_id = int(request.path_params["token_id"])
    if await svc.tokens.revoke(request.state.user.id, token_id):
        await svc.sessions.notify_revoked([f"token:{token_id}"])
        logger.info("device token revoked", user_id=request.state.user.id, token_id=token_id)
    return await _render(request)


routes: list[BaseRoute] = [
    Route("/account/tokens", tokens_page, methods=["GET"], name="tokens"),
    Route("/account/tokens", create_token, methods=["POST"], name="create_token"),
    Route("/account/tokens/{token_id:int}/revoke", revoke_token, methods=["POST"], name="revoke_token"),
]
