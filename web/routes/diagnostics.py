"""The diagnostics checklist (`/diagnostics`, open to anyone), its saved reports, and the support lookup.

    GET  /diagnostics                         the page; every row pending (redirects from the predecessor's pages)
    POST /diagnostics/reports                 start a report → {id, display_id}; the browser gets an owner cookie
    POST /diagnostics/checks/{check}          measured values (form: report_id + payload JSON, or a JSON body) →
                                              the verdict as the row fragment, or JSON when Accept asks for it
    POST /diagnostics/reports/{id}/finish     browser/OS, microphone settings, candidate pair → the summary fragment
    POST /diagnostics/summary                 the rows a run shows, when its report could not be saved → the summary
    GET  /diagnostics/reports/{id}[.json|.txt]  the printable report, its JSON download, its text
    GET  /support/reports[/{id}]              admins: look a report up, with the server's logs and upstream errors
"""

from __future__ import annotations

from typing import Any

from loguru import logger
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from web.auth.guards import admin_required
from web.diagnostics import views
from web.diagnostics.access import COOKIE, GUESS_LIMIT, GUESS_WINDOW_S, cookie_with
from web.diagnostics.catalog import BY_ID, FAILURE_MODES
from web.diagnostics.causality import DEFERRED_KEY
from web.diagnostics.export import facts, report_json, report_text
from web.diagnostics.model import STATUSES, CheckResult
from web.diagnostics.present import row, rows, summary
from web.diagnostics.report_id import display_id, normalize_report_id
from web.diagnostics.store import MetaTooLarge, StoredReport
from web.diagnostics.support import support_context
from web.diagnostics.text import Text
from web.diagnostics.useragent import parse_user_agent
from web.diagnostics.values import Values, clean_json
from web.i18n import N_, gettext
from web.security.cookies import read_cookies, set_cookie_header
from web.security.json_input import JSONTooDeep
from web.services import services
from web.settings import APP_VERSION
from web.templating import render

TOO_MANY = N_("Too many diagnostics runs from this address. Please wait a while and try again.")
NO_REPORT = N_("No report with this ID.")
TOO_DEEP = N_("The measurement data is nested too deeply to be a real measurement. Reload the page and run the "
              "check again.")
META_TOO_LARGE = N_("The report details are too large to save. Reload the page and run the check again.")
NOT_SAVED = N_("The report could not be saved (the server's database is not answering); the checks still run.")
TOO_MANY_GUESSES = N_("Too many report IDs that do not exist were tried from this address. Wait ten minutes and "
                      "check the ID.")
_JSON = {"Cache-Control": "no-store"}


def _refused(status: int, code: str, message: str, detail: str) -> Response:
    body = {"code": code, "message": gettext(message), "message_en": message, "detail": detail}
    return JSONResponse({"error": body}, status_code=status, headers=_JSON)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


async def page(request: Request) -> Response:
    modes = [(gettext(label), [gettext(BY_ID[c].title) for c in checks]) for label, checks in FAILURE_MODES]
    return render(request, "pages/diagnostics.html", {
        "rows": views.page_rows(), "failure_modes": modes, "calls_available": views.calls_available(request),
        "websocket_available": views.websocket_available(request),
        "auth_failure": str(getattr(request.state, "auth_failure", "") or ""),
    })


async def legacy_redirect(request: Request) -> Response:
    return RedirectResponse(request.url_for("diagnostics").path, status_code=301)


async def create_report(request: Request) -> Response:
    client = request.client.host if request.client else "?"
    limiter = services(request).diagnostics_runs
    if not limiter.allow(client):
        return JSONResponse({"error": {"code": "rate_limited", "message": gettext(TOO_MANY)}}, status_code=429,
                            headers=_JSON)
    ua = parse_user_agent(request.headers.get("user-agent", ""))
    user = request.state.user
    auth_failure = str(getattr(request.state, "auth_failure", "") or "")
    source = "cli" if request.headers.get("x-diagnostics-client") == "cli" else "browser"
    meta = {"app_version": APP_VERSION, "browser": "python -m web diagnose" if source == "cli" else ua.browser_label(),
            "os": ua.os_label(), "user_agent": ua.raw, "locale": getattr(request.state, "locale", ""),
            "auth_failure": auth_failure}
    try:
        report_id = await views.store(request).create(user_id=user.id if user else None, source=source, meta=meta)
    except Exception:  # the database is down: the checks still run (readiness names the database), unsaved
        logger.opt(exception=True).warning("diagnostics report could not be saved")
        return JSONResponse({"error": {"code": "not_saved", "message": gettext(NOT_SAVED)},
                             "auth_failure": auth_failure}, status_code=503, headers=_JSON)
    logger.info("diagnostics report started", report_id=report_id, source=source)
    # the first request of a run may be the one that finds the session dead (and clears its cookie): say so
    response = JSONResponse({"id": report_id, "display_id": display_id(report_id), "auth_failure": auth_failure,
                             "url": request.url_for("diagnostics_report", report_id=report_id).path}, headers=_JSON)
    settings = request.app.state.settings
    value = cookie_with(settings.secret_key, read_cookies(request.scope).get(COOKIE), report_id)
    response.raw_headers.append(set_cookie_header(COOKIE, value, max_age=30 * 24 * 3600,
                                                  secure=settings.is_production))
    return response


async def check(request: Request) -> Response:
    check_id = request.path_params["check_id"]
    spec = BY_ID.get(check_id)
    if spec is None or spec.kind == "local":
        return JSONResponse({"error": {"code": "unknown_check"}}, status_code=404, headers=_JSON)
    try:
        report_id, raw = await views.read_payload(request)
    except JSONTooDeep as exc:
        return _refused(400, "invalid_payload", TOO_DEEP, str(exc))
    result = await views.run_check(request, check_id, Values(raw))
    canonical = normalize_report_id(report_id) if report_id else None
    if canonical and views.may_write(request, canonical):
        result = await views.defer_and_save(request, canonical, result)
    if result.status == "fail":
        logger.info("diagnostics check failed", check=check_id, report_id=canonical, value=result.to_json())
    if _wants_json(request):
        shown = row(spec, result)
        return JSONResponse({**result.to_json(), "title": shown.title, "value_text": shown.value,
                             "fix_texts": list(shown.fixes), "rule_text": shown.rule}, headers=_JSON)
    return render(request, "partials/diag_row.html", {"row": row(spec, result), "needs_login": spec.needs_login,
                                                      "kind": spec.kind})


class Guessing(Exception):
    """This client tried too many report IDs that show nothing."""


async def _owned_report(request: Request) -> StoredReport | None:
    client = request.client.host if request.client else "?"
    guesses = services(request).report_guesses
    if guesses.exhausted(client):
        raise Guessing
    canonical = normalize_report_id(str(request.path_params["report_id"]))
    report = await views.store(request).get(canonical) if canonical else None
    if report is not None and views.owns(request, report):
        return report
    guesses.allow(client)  # counts the miss
    return None


def _guessing() -> Response:
    return _refused(429, "rate_limited", TOO_MANY_GUESSES, f"more than {GUESS_LIMIT} misses in "
                    f"{int(GUESS_WINDOW_S // 60)} minutes")


async def finish(request: Request) -> Response:
    canonical = normalize_report_id(str(request.path_params["report_id"]))
    if not canonical or not views.may_write(request, canonical):
        return JSONResponse({"error": {"code": "not_found", "message": gettext(NO_REPORT)}}, status_code=404)
    try:
        _ignored, raw = await views.read_payload(request)
    except JSONTooDeep as exc:
        return _refused(400, "invalid_payload", TOO_DEEP, str(exc))
    values = Values(raw)
    changes: dict[str, Any] = {"include_ips": values.flag("include_ips") is True}
    for key in ("mic", "candidate_pair", "candidates"):
        cleaned = clean_json(raw.get(key))
        if isinstance(cleaned, dict):
            if key == "candidate_pair" and not changes["include_ips"]:
                cleaned = {k: v for k, v in cleaned.items() if "address" not in k}
            changes[key] = cleaned
    user = request.state.user
    try:
        await views.store(request).update_meta(canonical, changes, user.id if user else None)
    except MetaTooLarge as exc:
        return _refused(413, "payload_too_large", META_TOO_LARGE, str(exc))
    report = await views.store(request).get(canonical)
    assert report is not None
    failed = [r for r in rows(report.results) if r.status in ("fail", "warn")]
    return render(request, "partials/diag_summary.html", {
        "report": report, "display_id": display_id(report.id), "summary": summary(report.results), "failed": failed})


MAX_SHOWN_FIXES = 5


def _shown_result(raw: Values) -> CheckResult | None:
    """One row as the page shows it (its verdict, value and fixes as rendered text), for the summary of a run that
    could not be saved; None for anything that is not a row of the checklist."""
    check_id, status = raw.text("check", limit=40), raw.text("status", limit=10)
    if check_id not in BY_ID or status not in STATUSES:
        return None
    fixes = tuple(Text(f) for f in raw.texts("fixes")[:MAX_SHOWN_FIXES])
    deferred = raw.text("deferred_to", limit=40)
    data = {DEFERRED_KEY: deferred} if deferred in BY_ID else {}
    return CheckResult(check_id, status, Text(raw.text("value")) if raw.text("value") else None, fixes, data)


async def unsaved_summary(request: Request) -> Response:
    """The summary of a run whose report could not be saved (the database is down): from the rows the page shows,
    which the server rendered; nothing is stored."""
    try:
        _ignored, raw = await views.read_payload(request)
    except JSONTooDeep as exc:
        return _refused(400, "invalid_payload", TOO_DEEP, str(exc))
    shown = [r for r in (_shown_result(v) for v in Values(raw).dicts("rows")[:len(BY_ID)]) if r is not None]
    failed = [r for r in rows(shown) if r.status in ("fail", "warn")]
    return render(request, "partials/diag_summary.html", {"report": None, "summary": summary(shown),
                                                          "failed": failed})


async def report_page(request: Request) -> Response:
    try:
        report = await _owned_report(request)
    except Guessing:
        return _guessing()
    if report is None:
        return render(request, "pages/error.html", {"status_code": 404, "title": gettext(N_("Page not found")),
                                                    "message": gettext(NO_REPORT)}, status_code=404)
    return render(request, "pages/report.html", {
        "report": report, "display_id": display_id(report.id), "facts": facts(report),
        "rows": rows(report.results), "summary": summary(report.results), "text": report_text(report)})


async def report_download(request: Request) -> Response:
    try:
        report = await _owned_report(request)
    except Guessing:
        return _guessing()
    if report is None:
        return JSONResponse({"error": {"code": "not_found", "message": gettext(NO_REPORT)}}, status_code=404)
    name = f"diagnostics-{display_id(report.id)}.json"
    return JSONResponse(report_json(report), headers={**_JSON, "Content-Disposition": f'attachment; filename="{name}"'})


async def report_plain(request: Request) -> Response:
    try:
        report = await _owned_report(request)
    except Guessing:
        return _guessing()
    if report is None:
        return PlainTextResponse(gettext(NO_REPORT), status_code=404)
    return PlainTextResponse(report_text(report), headers=_JSON)


@admin_required
async def support_lookup(request: Request) -> Response:
    typed = request.query_params.get("id", "")
    canonical = normalize_report_id(typed) if typed else None
    if canonical:
        return RedirectResponse(request.url_for("support_report", report_id=canonical).path, status_code=303)
    return render(request, "pages/report_lookup.html", {"typed": typed, "invalid": bool(typed)})


@admin_required
async def support_report(request: Request) -> Response:
    canonical = normalize_report_id(str(request.path_params["report_id"]))
    report = await views.store(request).get(canonical) if canonical else None
    if report is None:
        return render(request, "pages/report_lookup.html", {"typed": request.path_params["report_id"],
                                                             "invalid": True}, status_code=404)
    return render(request, "pages/support_report.html", {
        "report": report, "display_id": display_id(report.id), "facts": facts(report),
        "rows": rows(report.results), "summary": summary(report.results), **await support_context(request, report)})


routes: list[BaseRoute] = [
    Route("/diagnostics", page, methods=["GET"], name="diagnostics"),
    Route("/test-realtime.html", legacy_redirect, methods=["GET"], name="legacy_test_realtime"),
    Route("/test-connection-fixed.html", legacy_redirect, methods=["GET"], name="legacy_test_connection"),
    Route("/diagnostics/reports", create_report, methods=["POST"], name="diagnostics_reports"),
    Route("/diagnostics/checks/{check_id}", check, methods=["POST"], name="diagnostics_check"),
    Route("/diagnostics/reports/{report_id}/finish", finish, methods=["POST"], name="diagnostics_finish"),
    Route("/diagnostics/summary", unsaved_summary, methods=["POST"], name="diagnostics_unsaved_summary"),
    Route("/diagnostics/reports/{report_id}.json", report_download, methods=["GET"], name="diagnostics_report_json"),
    Route("/diagnostics/reports/{report_id}.txt", report_plain, methods=["GET"], name="diagnostics_report_text"),
    Route("/diagnostics/reports/{report_id}", report_page, methods=["GET"], name="diagnostics_report"),
    Route("/support/reports", support_lookup, methods=["GET"], name="support_reports"),
    Route("/support/reports/{report_id}", support_report, methods=["GET"], name="support_report"),
]
