"""What support sees beside a report: the server's redacted log records for that user and time window, and the
realtime upstream errors seen then. Both come from in-memory rings (web/logs, web/media/realtime), so an old report
may find nothing: the page says so rather than implying a clean log."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from web.diagnostics.present import utc_text
from web.diagnostics.store import StoredReport
from web.logs import recent_records as _recent_records

WINDOW_MARGIN_S = 120.0
MAX_RECORDS = 300
_SERIOUS = {"WARNING", "ERROR", "CRITICAL"}



def log_records(report: StoredReport) -> list[dict[str, Any]]:
    """The owner's records in the window; for a run nobody was signed in to, the window's warnings and errors and
    the records that name the report (everyone's requests would drown them)."""
    since, until = report.created_at - WINDOW_MARGIN_S, report.updated_at + WINDOW_MARGIN_S
    if report.user_id is not None:
        return _recent_records(since, until, user_id=str(report.user_id), limit=MAX_RECORDS)
    found = _recent_records(since, until, limit=MAX_RECORDS * 10)
    return [r for r in found if r.get("level") in _SERIOUS or report.id in json.dumps(r, default=str)][-MAX_RECORDS:]


async def support_context(request: Request, report: StoredReport) -> dict[str, Any]:
    owner = await request.app.state.services.users.get(report.user_id) if report.user_id is not None else None
    since = report.created_at - WINDOW_MARGIN_S
    until = report.updated_at + WINDOW_MARGIN_S
    seen = request.app.state.services.upstream_check.upstream_errors(since=since)
    errors = [{**e, "time_text": utc_text(float(e.get("time", 0)))} for e in seen if float(e.get("time", 0)) <= until]
    return {
        "owner": owner,
        "window": f"{utc_text(since)} – {utc_text(until)}",
        "records": log_records(report),
        "records_available": True,
        "upstream_errors": errors,
    }
