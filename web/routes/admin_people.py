"""The console's people pages: list and search, create with a temporary password, and each person's page with
disable/enable, promote/demote, password reset, sessions and device tokens, and quota. Every action is audited."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from web.accounts.models import User
from web.accounts.users import AccountError
from web.admin import audit
from web.admin.first_password import mark_temporary
from web.auth.guards import admin_required
from web.i18n import N_, gettext
from web.services import Services, services
from web.templating import render
from web.usage.quotas import FIELDS

NOTICES = {
    "disabled": N_("The account was disabled and its sessions and calls were ended."),
    "enabled": N_("The account was enabled."),
    "role": N_("The role was changed."),
    "sessions": N_("Every session and call of this account was ended."),
    "token": N_("The device token was revoked."),
    "quota": N_("The quota was saved."),
}
NOT_YOURSELF = N_("You cannot disable or demote your own account.")
BAD_QUOTA = N_("Quota values must be empty (use the default), 0 (no limit) or a positive number.")
NO_USER = N_("This account does not exist.")


def fmt_time(ts: float | None) -> str:
    return "—" if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def temporary_password() -> str:
    return secrets.token_urlsafe(12)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form(max_files=0, max_fields=10, max_part_size=1024)
    return {key: str(value) for key, value in form.items()}


@admin_required
async def people(request: Request) -> Response:
    return await _people(request)


async def _people(request: Request, *, created: tuple[User, str] | None = None, error: str = "",
                 status: int = 200) -> Response:
    svc = services(request)
    query = request.query_params.get("q", "").strip().lower()
    users = [u for u in await svc.users.list()
             if not query or query in u.email or query in u.display_name.lower()]
    context = {"people": users, "q": query, "created": created, "error": error, "fmt_time": fmt_time}
    return render(request, "pages/admin_people.html", context, status_code=status)


@admin_required
async def create_person(request: Request) -> Response:
    svc = services(request)
    form = await _form(request)
    password = temporary_password()
    try:
        user = await svc.users.create(form.get("email", ""), password, display_name=form.get("display_name", ""),
                                      role=form.get("role", "user"), check_policy=False)
    except AccountError as exc:
        return await _people(request, error=gettext(str(exc)), status=400)
    await mark_temporary(svc.db, user.id)
    await audit.record(svc.db, svc.sessions.clock(), request.state.user, "user.create", user.email,
                       f"role={user.role}")
    return await _people(request, created=(user, password))


async def _person(svc: Services, request: Request) -> User | None:
    return await svc.users.get(int(request.path_params["user_id"]))


@admin_required
async def person(request: Request) -> Response:
    return await _person_page(request)


async def _person_page(request: Request, *, reset_password: str = "", error: str = "", status: int = 200) -> Response:
    svc = services(request)
    user = await _person(svc, request)
    if user is None:
        return Response(gettext(NO_USER), status_code=404)
    sessions = await svc.db.fetchall(
        "SELECT created_at, last_seen_at, ip, user_agent FROM sessions WHERE user_id = ? ORDER BY last_seen_at DESC",
        (user.id,))
    tokens = await svc.tokens.list_for_user(user.id)
    quotas = svc.usage.quotas
    context: dict[str, Any] = {
        "person": user, "sessions": sessions, "tokens": tokens, "fmt_time": fmt_time,
        "overrides": await quotas.overrides(user.id), "limits": await quotas.limits_for(user.id),
        "used": await quotas.used(user.id), "quota_fields": FIELDS, "reset_password": reset_password,
        "notice": gettext(NOTICES[request.query_params["done"]]) if request.query_params.get("done") in NOTICES
        else "", "error": error,
    }
    return render(request, "pages/admin_person.html", context, status_code=status)


def _back(user: User, done: str) -> Response:
    return RedirectResponse(f"/admin/people/{user.id}?done={done}", status_code=303)


@admin_required
async def person_action(request: Request) -> Response:
    svc = services(request)
    user = await _person(svc, request)
    if user is None:
        return Response(gettext(NO_USER), status_code=404)
    action = request.path_params["action"]
    form = await _form(request)
    me: User = request.state.user
    now = svc.sessions.clock()
    if action in ("disable", "demote") and user.id == me.id:
        return await _person_page(request, error=gettext(NOT_YOURSELF), status=400)
    if action == "disable":
        await svc.users.set_disabled(user.id, True)
        await svc.sessions.revoke_user(user.id)
        done = "disabled"
    elif action == "enable":
        await svc.users.set_disabled(user.id, False)
        done = "enabled"
    elif action in ("promote", "demote"):
        await svc.users.set_role(user.id, "admin" if action == "promote" else "user")
        done = "role"
    elif action == "reset-password":
        password = temporary_password()
        await svc.users.set_password(user.id, password, check_policy=False)
        await mark_temporary(svc.db, user.id)
        await svc.sessions.revoke_user(user.id)
        await audit.record(svc.db, now, me, "user.reset_password", user.email)
        return await _person_page(request, reset_password=password)
    elif action == "end-sessions":
        await svc.sessions.revoke_user(user.id)
        done = "sessions"
    elif action == "revoke-token":
        token_id = int(form.get("token_id", "0") or 0)
        if await svc.tokens.revoke(user.id, token_id):
            await svc.sessions.notify_revoked([f"token:{token_id}"])
        done = "token"
    elif action == "quota":
        values = _quota_values(form)
        if values is None:
            return await _person_page(request, error=gettext(BAD_QUOTA), status=400)
        await svc.usage.quotas.set_overrides(user.id, values)
        done = "quota"
    else:
        return Response(status_code=404)
    detail = f"token_id={form.get('token_id')}" if action == "revoke-token" else ""
    if action == "quota":
        detail = " ".join(f"{k}={'' if v is None else v}" for k, v in _quota_values(form).items())  # type: ignore[union-attr]
    await audit.record(svc.db, now, me, "user." + action.replace("-", "_"), user.email, detail)
    return _back(user, done)


def _quota_values(form: dict[str, str]) -> dict[str, float | int | None] | None:
    values: dict[str, float | int | None] = {}
    for key in FIELDS:
        raw = form.get(key, "").strip()
        if not raw:
            values[key] = None
            continue
        try:
            number = float(raw)
        except ValueError:
            return None
        if number < 0 or number != number or number > 1e12:
            return None
        values[key] = int(number) if key.startswith("tokens") else number
    return values


@admin_required
async def console(request: Request) -> Response:
    return RedirectResponse("/admin/people", status_code=303)


routes: list[BaseRoute] = [
    Route("/admin", console, methods=["GET"], name="admin"),
    Route("/admin/people", people, methods=["GET"], name="admin_people"),
    Route("/admin/people", create_person, methods=["POST"], name="admin_create_person"),
    Route("/admin/people/{user_id:int}", person, methods=["GET"], name="admin_person"),
    Route("/admin/people/{user_id:int}/{action}", person_action, methods=["POST"], name="admin_person_action"),
]
