"""Request-side helpers for the diagnostics routes: what this server offers, who is asking, the server-run checks."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from loguru import logger
from starlette.requests import Request
from starlette.routing import WebSocketRoute

from web.cluster.router import OwnerUnreachable
from web.diagnostics import causality, rules_quality
from web.diagnostics.access import COOKIE, owned_ids
from web.diagnostics.catalog import BY_ID, PAGE_CHECKS
from web.diagnostics.evaluate import Context, evaluate
from web.diagnostics.model import SKIP, CheckResult
from web.diagnostics.present import NEEDS_LOGIN, Row, row
from web.diagnostics.rules_call import NOT_AVAILABLE
from web.diagnostics.store import ReportStore, StoredReport
from web.diagnostics.useragent import parse_user_agent
from web.diagnostics.values import Values, clean_json
from web.security.cookies import read_cookies
from web.security.json_input import JSONInputError, JSONTooDeep, loads_bounded
from web.services import services

CALLS_PATH = "/v1/realtime/calls"
WEBSOCKET_PATH = "/v1/realtime"
MAX_PAYLOAD_BYTES = 64 * 1024


def store(request: Request) -> ReportStore:
    return ReportStore(request.app.state.db, request.app.state.clock)


def calls_available(request: Request) -> bool:
    return any(getattr(r, "path", None) == CALLS_PATH for r in request.app.routes)


def websocket_available(request: Request) -> bool:
    return any(isinstance(r, WebSocketRoute) and r.path == WEBSOCKET_PATH for r in request.app.routes)


def context(request: Request) -> Context:
    session = getattr(request.state, "session", None)
    remaining = session.expires_at - request.app.state.clock() if session is not None else None
    return Context(user_agent=parse_user_agent(request.headers.get("user-agent", "")),
                   signed_in=request.state.user is not None, session_remaining_s=remaining,
                   auth_failure=str(getattr(request.state, "auth_failure", "") or ""),
                   websocket_available=websocket_available(request), upstream_error=_recent_drop(request))


DROP_WINDOW_S = 60.0
DROP_CODES = ("closed", "stalled")


def _recent_drop(request: Request) -> str:
    """"code (detail)" of the newest upstream drop this user's calls saw in the last minute, else ""."""
    user = request.state.user
    if user is None:
        return ""
    since = time.time() - DROP_WINDOW_S
    seen = services(request).upstream_check.upstream_errors(since=since, user_id=user.id)
    drops = [e for e in seen if e.get("code") in DROP_CODES]
    if not drops:
        return ""
    detail = str(drops[-1].get("operator_message") or "")
    close = detail[detail.find("close code"):].split(")")[0] if "close code" in detail else ""
    return f"upstream_{drops[-1].get('code')}" + (f", {close}" if close else "")


def owns(request: Request, report: StoredReport) -> bool:
    """The browser that ran it, its signed-in owner, or an admin."""
    user = request.state.user
    if user is not None and (user.is_admin or report.user_id == user.id):
        return True
    cookie = read_cookies(request.scope).get(COOKIE)
    return report.id in owned_ids(request.app.state.settings.secret_key, cookie)


def may_write(request: Request, report_id: str) -> bool:
    cookie = read_cookies(request.scope).get(COOKIE)
    return report_id in owned_ids(request.app.state.settings.secret_key, cookie)


def _lenient_json(text: str | bytes) -> Any:
    """Not JSON is treated as no measurement, which the rules report as "not measured"; JSON nested deeper than
    any real measurement raises JSONTooDeep (the route answers 400)."""
    try:
        return loads_bounded(text)
    except JSONTooDeep:
        raise
    except JSONInputError:
        return {}


async def read_payload(request: Request) -> tuple[str, dict[str, Any]]:
    """(report_id, values) from a form post (the page: `report_id` + `payload` JSON) or a JSON body (the CLI)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        raw = await request.body()
        body = _lenient_json(raw or b"{}") if len(raw) <= MAX_PAYLOAD_BYTES else {}
        body = body if isinstance(body, dict) else {}
        values = body.get("values")
        return str(body.get("report_id") or ""), values if isinstance(values, dict) else {}
    form = await request.form(max_files=0, max_fields=10, max_part_size=MAX_PAYLOAD_BYTES)
    values = _lenient_json(str(form.get("payload") or "{}"))
    return str(form.get("report_id") or ""), values if isinstance(values, dict) else {}


async def _server_view(request: Request, values: Values) -> CheckResult:
    if not calls_available(request):
        return rules_quality.server_view(None, available=False)
    try:  # the process that owns the call answers, whichever received this request
        view = await services(request).router.run("server_view", values.text("call_id", limit=80),
                                                  request.state.user.id, {"include_ips": values.flag("include_ips")})
    except OwnerUnreachable:
        view = None
    if view is None:  # no such call of this user, or a WebSocket call (no media path)
        return rules_quality.server_view(None)
    result = rules_quality.server_view(view)
    browser = clean_json(values.raw.get("browser"))
    return CheckResult(result.check_id, result.status, result.value, result.fixes,
                       {**result.data, "browser": browser if isinstance(browser, Mapping) else {}})


DB_PING_S = 1.0


async def database_down(request: Request, check_id: str) -> bool:
    """The sign-in could not be looked up (the middleware ran this request anonymously), or, for the session row of
    a request without a session, the database does not answer a ping: nobody can be signed in, and the readiness row
    names why."""
    if getattr(request.state, "auth_failure", "") == "unavailable":
        return True
    if check_id != "session":
        return False
    try:
        await request.app.state.db.ping(timeout=DB_PING_S)
    except Exception:
        return True
    return False


async def run_check(request: Request, check_id: str, values: Values) -> CheckResult:
    spec = BY_ID[check_id]
    anonymous = request.state.user is None
    if (spec.needs_login or check_id == "session") and anonymous and await database_down(request, check_id):
        return causality.deferred(check_id, "readiness")
    if spec.needs_login and request.state.user is None:
        return CheckResult(check_id, SKIP, NEEDS_LOGIN)
    if spec.needs_calls and not calls_available(request):
        return CheckResult(check_id, SKIP, NOT_AVAILABLE)
    if check_id == "upstream":
        return await services(request).upstream_check.run()
    if check_id == "server_view":
        return await _server_view(request, values)
    result = evaluate(check_id, values, context(request))
    return result if result is not None else CheckResult(check_id, SKIP)


def page_rows(report: StoredReport | None = None) -> list[tuple[Row, bool, str]]:
    """(row, needs_login, kind) for every page check, with results when a report is given."""
    return [(row(spec, report.result(spec.id) if report else None), spec.needs_login, spec.kind)
            for spec in PAGE_CHECKS]


async def defer_and_save(request: Request, report_id: str, result: CheckResult) -> CheckResult:
    """Defer to a failed row this one depends on (from the report so far), then save it. A database that does not
    answer loses the saving, never the verdict."""
    reports = store(request)
    user = request.state.user
    try:
        report = await reports.get(report_id)
        if report is not None:
            earlier = {r.check_id: r for r in report.results if r.check_id != result.check_id}
            result = causality.defer(result, earlier)
        await reports.save_result(report_id, result, user.id if user else None)
    except Exception:
        logger.opt(exception=True).warning("diagnostics result not saved", check=result.check_id)
    return result
