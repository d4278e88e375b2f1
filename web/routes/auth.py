"""Sign-in, sign-out and the account page (password change)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from loguru import logger
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from web.accounts.admission import AdmissionRefused
from web.accounts.known_device import COOKIE as KNOWN_DEVICE
from web.accounts.known_device import MAX_AGE_S as KNOWN_DEVICE_MAX_AGE_S
from web.accounts.known_device import is_known, remember, throttle_key
from web.accounts.networks import client_key, home_network, network_path
from web.accounts.passwords import HasherBusy, PasswordPolicyError
from web.accounts.users import normalize_email
from web.auth.guards import AUTH_FAILED, is_htmx, login_required
from web.auth.sessions import cookie_name
from web.i18n import N_, gettext
from web.security.body_deadline import BodyTimeout
from web.security.cookies import read_cookies, set_cookie_header
from web.security.limits import BodyTooLarge
from web.services import Services, services
from web.templating import render

LOGIN_FAILED = N_("Incorrect email or password.")
THROTTLED = N_("Too many sign-in attempts. Try again in %(seconds)s seconds.")
BUSY = N_("Sign-in is very busy right now. Try again in a few seconds; a browser or network you signed in from "
           "before is let in first.")
BAD_FORM = N_("The form could not be read. Reload the page and try again.")


def safe_next(value: str | None) -> str:
    """Only local paths: refuse //host, /\\host, schemes and control characters (open redirects). Characters
    outside ASCII are percent-encoded, so the path can go into a header (HX-Redirect, Location) as it is."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if "\\" in value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value) or ":" in value.split("?", 1)[0]:
        return "/"
    return "".join(ch if ord(ch) < 0x80 else quote(ch, safe="") for ch in value)


async def _read_form(request: Request) -> FormData | None:
    try:
        return await request.form(max_files=0, max_fields=10, max_part_size=4096)
    except (BodyTooLarge, BodyTimeout):
        raise  # the body-limit and body-deadline middleware answer 413 / 408
    except Exception:  # malformed multipart/urlencoded bodies raise several exception types
        return None


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _login_form(request: Request, *, status: int = 200, error: str = "", notice: str = "", email: str = "",
                next_url: str = "/", headers: dict[str, str] | None = None) -> Response:
    context: dict[str, Any] = {"error": error, "notice": notice, "email": email, "next_url": next_url}
    name = "partials/login_form.html" if is_htmx(request) else "pages/login.html"
    return render(request, name, context, status_code=status, headers=headers)


async def login_page(request: Request) -> Response:
    next_url = safe_next(request.query_params.get("next"))
    if request.state.user is not None:
        return RedirectResponse(next_url, status_code=303)
    reason = request.query_params.get("reason", "")
    notice = ""
    if reason == "expired" or request.state.auth_failure:
        notice = gettext(AUTH_FAILED)
    elif reason == "signed_out":
        notice = gettext(N_("You have signed out."))
    return _login_form(request, notice=notice, next_url=next_url)


async def login_submit(request: Request) -> Response:
    svc = services(request)
    form = await _read_form(request)
    if form is None:
        return _login_form(request, status=400, error=gettext(BAD_FORM))
    email = normalize_email(str(form.get("email", "")))[:320]
    password = str(form.get("password", ""))
    next_url = safe_next(str(form.get("next", "/")))
    ip = _client_ip(request)
    returning = is_known(svc.settings.secret_key, read_cookies(request.scope).get(KNOWN_DEVICE), email)
    # Failures of the account's returning browsers are counted apart (OWASP's device cookies): a flood aimed at the
    # account locks out strangers, not the browsers it signed in from.
    account_key = throttle_key(svc.settings.secret_key, email) if returning else email
    verdict = svc.throttle.check(account_key, ip)
    if not verdict.allowed:
        logger.warning("login throttled", email=email, ip=ip, retry_after=verdict.retry_after_s)
        svc.counters["login_throttled_total"] += 1
        request.app.state.monitoring.record_login_failure("throttled")
        return _login_form(request, status=429, error=gettext(THROTTLED) % {"seconds": verdict.retry_after_s},
                           email=email, next_url=next_url, headers={"Retry-After": str(verdict.retry_after_s)})
    # A flood on the account spares its returning browsers, which share their lane between accounts; everyone else
    # shares the normal lane between networks. Capacity is checked before the account lookup, not after. When the
    # hasher is busy, a new browser on a network the account signed in from before joins the returning ones.
    priority = returning
    path = (email,) if returning else network_path(ip)
    try:
        with svc.login_admission.enter("" if returning else email, client_key(ip)):
            if not returning and svc.passwords.busy and await svc.users.signed_in_from(email, home_network(ip)):
                priority, path = True, (email,)
                svc.counters["login_known_network_total"] += 1
            svc.passwords.check_capacity(priority=priority, path=path)
            found = await svc.users.get_with_hash(email) if email else None
            verified = await svc.passwords.verify(found[1] if found else None, password, priority=priority,
                                                  path=path)
    except (HasherBusy, AdmissionRefused) as exc:
        svc.throttle.record_failure("", ip)  # counted against the address only: a flood cannot lock the account
        svc.counters["login_busy_total"] += 1
        busy = isinstance(exc, HasherBusy)
        logger.warning("login refused before hashing", email=email, ip=ip, reason="busy" if busy else "in_flight")
        return _login_form(request, status=503 if busy else 429, error=gettext(BUSY), email=email,
                           next_url=next_url, headers={"Retry-After": "5"})
    if found is None or not verified or found[0].disabled:
        svc.throttle.record_failure(account_key, ip)
        svc.counters["login_failures_total"] += 1
        request.app.state.monitoring.record_login_failure()
        logger.warning("login failed", email=email, ip=ip, method="password")
        return _login_form(request, status=401, error=gettext(LOGIN_FAILED), email=email, next_url=next_url)
    user, password_hash = found
    if svc.passwords.needs_rehash(password_hash):
        await svc.users.store_rehash(user.id, password)
    response = await start_session(request, svc, user.id, next_url, method="password", email=email)
    if returning:
        svc.throttle.record_success(account_key)
    cookie = remember(svc.settings.secret_key, read_cookies(request.scope).get(KNOWN_DEVICE), email)
    response.raw_headers.append(set_cookie_header(KNOWN_DEVICE, cookie, max_age=KNOWN_DEVICE_MAX_AGE_S,
                                                  secure=svc.settings.is_production))
    return response


async def start_session(request: Request, svc: Services, user_id: int, next_url: str, *, method: str,
                        email: str = "") -> Response:
    """Shared by every sign-in method: a fresh session id, the old one revoked, a fresh CSRF seed."""
    if request.state.session_id:
        await svc.sessions.revoke(request.state.session_id)
    raw_id, session_id = await svc.sessions.create(
        user_id, ip=_client_ip(request), user_agent=request.headers.get("user-agent", ""))
    await svc.users.record_login(user_id, home_network(_client_ip(request)))
    if email:
        svc.throttle.record_success(email)
    logger.info("login succeeded", user_id=user_id, ip=_client_ip(request), method=method, session_id=session_id[:12])
    request.state.csrf_rotate = True
    request.state.session_cookie_set = True
    if is_htmx(request):
        response: Response = Response(status_code=200, headers={"HX-Redirect": next_url})
    else:
        response = RedirectResponse(next_url, status_code=303)
    settings = svc.settings
    key, value = set_cookie_header(cookie_name(settings), svc.sessions.sign(raw_id),
                                   max_age=settings.session_absolute_lifetime_s, secure=settings.is_production)
    response.raw_headers.append((key, value))
    return response


async def logout(request: Request) -> Response:
    svc = services(request)
    if request.state.session_id:
        await svc.sessions.revoke(request.state.session_id)
        logger.info("logout", user_id=request.state.user.id if request.state.user else None)
    request.state.session_cookie_set = True
    url = "/login?reason=signed_out"
    response: Response = (Response(status_code=200, headers={"HX-Redirect": url}) if is_htmx(request)
                          else RedirectResponse(url, status_code=303))
    key, value = set_cookie_header(cookie_name(svc.settings), "", max_age=0, secure=svc.settings.is_production)
    response.raw_headers.append((key, value))
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


PASSWORD_CHANGED = N_("Password changed. Your other sessions were signed out, and %(devices)s device token(s) "
                      "were revoked: their calls ended, and each device needs a new token from this page.")
PASSWORD_CHANGED_KEPT = N_("Password changed. Your other sessions were signed out; your device tokens still work.")
SSO_ONLY = N_("This account signs in with single sign-on and has no password here. "
               "Change your password with your organisation's sign-in service.")


@login_required
async def account_page(request: Request) -> Response:
    has_password = await services(request).users.has_password_login(request.state.user.id)
    return render(request, "pages/account.html", {"message": "", "error": "", "has_password": has_password})


@login_required
async def change_password(request: Request) -> Response:
    svc = services(request)
    user = request.state.user
    form = await _read_form(request)
    template = "partials/password_form.html" if is_htmx(request) else "pages/account.html"
    if form is None:
        return render(request, template, {"message": "", "error": gettext(BAD_FORM)}, status_code=400)
    if not await svc.users.has_password_login(user.id):
        return render(request, template, {"message": "", "error": gettext(SSO_ONLY), "has_password": False},
                      status_code=400)
    found = await svc.users.get_with_hash(user.email)
    try:
        ok = found is not None and await svc.passwords.verify(found[1], str(form.get("current_password", "")))
        if not ok:
            return render(request, template, {"message": "", "error": gettext("The current password is wrong.")},
                          status_code=400)
        await svc.users.set_password(user.id, str(form.get("new_password", "")))
    except PasswordPolicyError as exc:
        return render(request, template, {"message": "", "error": gettext(str(exc))}, status_code=400)
    except HasherBusy:
        return render(request, template, {"message": "", "error": gettext(BUSY)}, status_code=503)
    keep_devices = form.get("keep_devices") == "1"
    devices = await end_device_tokens(svc, user.id) if not keep_devices else 0
    ended = await svc.sessions.revoke_user(user.id, except_session=request.state.session_id,
                                           include_devices=False)
    logger.info("password changed", user_id=user.id, other_sessions_ended=ended, device_tokens_revoked=devices)
    message = gettext(PASSWORD_CHANGED_KEPT if keep_devices else PASSWORD_CHANGED) % {"devices": devices}
    return render(request, template, {"message": message, "error": ""})


async def end_device_tokens(svc: Services, user_id: int) -> int:
    """Revoke the user's device tokens and end the calls they carry (a password change)."""
    handles = await svc.tokens.handles_for_user(user_id)
    revoked = await svc.tokens.revoke_all(user_id)
    await svc.sessions.notify_revoked(handles)
    return revoked


routes: list[BaseRoute] = [
    Route("/login", login_page, methods=["GET"], name="login"),
    Route("/login", login_submit, methods=["POST"], name="login_submit"),
    Route("/logout", logout, methods=["POST"], name="logout"),
    Route("/account", account_page, methods=["GET"], name="account"),
    Route("/account/password", change_password, methods=["POST"], name="change_password"),
]
