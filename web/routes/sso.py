"""Single sign-on routes: start at a provider, come back from it, and sign out there too.

Every failure ends on a page in the user's language with a way back (400/403/502/503, never 500) and one log record.
Sessions are created by `start_session`, exactly like password sign-ins.
"""

from __future__ import annotations

from urllib.parse import quote

from authlib.common.urls import add_params_to_uri
from loguru import logger
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from web.auth.oidc.client import authorization_url, exchange_code, validate_id_token
from web.auth.oidc.errors import SSOError
from web.auth.oidc.flow import PendingFlow
from web.auth.oidc.identities import identity_from_claims
from web.auth.oidc.linking import resolve_account
from web.auth.oidc.metadata import MetadataCache
from web.auth.oidc.service import SSO, sso_of
from web.db import DatabaseError
from web.i18n import gettext
from web.routes.auth import safe_next, start_session
from web.security.cookies import read_cookies
from web.services import services
from web.templating import render


def _ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _provider(request: Request) -> tuple[SSO, MetadataCache]:
    sso = sso_of(request)
    cache = sso.get(str(request.path_params["name"]))
    if cache is None:
        raise HTTPException(404)
    return sso, cache


def failure_page(request: Request, exc: SSOError, provider: str, next_url: str = "/") -> Response:
    failure = exc.failure
    log = logger.error if failure.status >= 500 else logger.warning
    log("sso sign-in failed", provider=provider, reason=exc.code, detail=exc.detail, ip=_ip(request),
        status=failure.status)
    services(request).counters["sso_failures_total"] += 1
    query = "" if next_url == "/" else "?next=" + quote(next_url, safe="/")
    retry = str(request.app.url_path_for("sso_start", name=provider)) + query if sso_of(request).get(provider) else ""
    context = {"status_code": failure.status, "title": gettext(failure.title), "message": gettext(failure.message),
               "reason": exc.code, "retry_url": retry, "login_url": "/login" + query}
    return render(request, "pages/sso_error.html", context, status_code=failure.status)


async def sso_start(request: Request) -> Response:
    sso, cache = _provider(request)
    name = cache.provider.name
    next_url = safe_next(request.query_params.get("next"))
    if request.state.user is not None:
        return RedirectResponse(next_url, status_code=303)
    try:
        meta = await cache.metadata()
    except SSOError as exc:
        return failure_page(request, exc, name, next_url)
    flow = PendingFlow.new(name, next_url)
    url = authorization_url(cache.provider, meta, flow, sso.redirect_uri(request, name),
                            ui_locales=getattr(request.state, "locale", ""))
    response = RedirectResponse(url, status_code=302)
    response.raw_headers.extend(sso.flows.start(flow, read_cookies(request.scope)))
    logger.info("sso started", provider=name, ip=_ip(request))
    return response


async def _complete(request: Request, sso: SSO, cache: MetadataCache, flow: PendingFlow | None) -> Response:
    name = cache.provider.name
    params = request.query_params
    if flow is None or flow.provider != name:
        raise SSOError("bad_state", "no pending sign-in in this browser matches the state parameter")
    if error := params.get("error"):
        detail = f"{error[:100]}: {params.get('error_description', '')[:300]}"
        raise SSOError("cancelled" if error == "access_denied" else "provider_error", detail)
    code = params.get("code")
    if not code:
        raise SSOError("bad_state", "callback without a code")
    assert sso.http is not None  # a provider exists, so the client does
    meta = await cache.metadata()
    tokens = await exchange_code(sso.http, cache.provider, meta, code=code, code_verifier=flow.code_verifier,
                                 redirect_uri=sso.redirect_uri(request, name),
                                 timeout_s=sso.settings.oidc_http_timeout_s)
    access_token = tokens.get("access_token")
    claims = await validate_id_token(cache, meta, tokens["id_token"], nonce=flow.nonce,
                                     access_token=access_token if isinstance(access_token, str) else None)
    svc = services(request)
    user = await resolve_account(svc.settings, svc.users, sso.identities, cache.provider,
                                 identity_from_claims(claims))
    # No email here: a sign-in at the provider must not reset the password-guessing counters of this account.
    response = await start_session(request, svc, user.id, flow.next_url, method=f"oidc:{name}")
    if meta.end_session_endpoint:
        response.raw_headers.append(await sso.hints.remember(name, tokens["id_token"]))
    return response


async def sso_callback(request: Request) -> Response:
    sso, cache = _provider(request)
    state = request.query_params.get("state", "")
    flow, headers = sso.flows.take(state, read_cookies(request.scope)) if state else (None, [])
    next_url = flow.next_url if flow else "/"
    try:
        response = await _complete(request, sso, cache, flow)
    except SSOError as exc:
        response = failure_page(request, exc, cache.provider.name, next_url)
    except DatabaseError as exc:
        response = failure_page(request, SSOError("unavailable", str(exc)), cache.provider.name, next_url)
    response.raw_headers.extend(headers)  # the flow cookie is spent, whatever happened
    return response


async def sso_logout(request: Request) -> Response:
    """RP-initiated logout at the provider, offered on the login page after signing out here."""
    sso, cache = _provider(request)
    name = cache.provider.name
    if request.state.user is not None:  # sign out here first: that is a POST, this is a plain link
        return RedirectResponse("/", status_code=303)
    try:
        meta = await cache.metadata()
        id_token, headers = await sso.hints.take(read_cookies(request.scope), name)
    except SSOError as exc:
        return failure_page(request, exc, name)
    except DatabaseError as exc:
        return failure_page(request, SSOError("unavailable", str(exc)), name)
    if not meta.end_session_endpoint:
        response = failure_page(request, SSOError("no_logout", "discovery has no end_session_endpoint"), name)
        response.raw_headers.extend(headers)
        return response
    params = {"client_id": cache.provider.client_id,
              "post_logout_redirect_uri": sso.redirect_uri(request, name, "sso_signed_out")}
    if id_token:
        params["id_token_hint"] = id_token
    if locale := getattr(request.state, "locale", ""):
        params["ui_locales"] = locale
    response = RedirectResponse(add_params_to_uri(meta.end_session_endpoint, params), status_code=302)
    response.raw_headers.extend(headers)
    logger.info("sso provider sign-out", provider=name, with_id_token_hint=bool(id_token), ip=_ip(request))
    return response


async def sso_signed_out(request: Request) -> Response:
    """Where the provider sends the browser after its sign-out (register it as post-logout redirect URI)."""
    _provider(request)
    return RedirectResponse("/login?reason=signed_out", status_code=303)


routes: list[BaseRoute] = [
    Route("/auth/sso/{name}/start", sso_start, methods=["GET"], name="sso_start"),
    Route("/auth/sso/{name}/callback", sso_callback, methods=["GET"], name="sso_callback"),
    Route("/auth/sso/{name}/logout", sso_logout, methods=["GET"], name="sso_logout"),
    Route("/auth/sso/{name}/signed-out", sso_signed_out, methods=["GET"], name="sso_signed_out"),
]
