"""The console's live calls (this process's with their figures, the other processes' from the cluster's directory;
ending one reaches its owner on any process), usage with its chart and
CSV export, and the audit log."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from web.admin import audit
from web.auth.guards import admin_required
from web.cluster.router import OwnerUnreachable
from web.db import DatabaseError
from web.i18n import N_, gettext
from web.media.calls import notice
from web.routes.admin_people import fmt_time
from web.services import services
from web.templating import render
from web.usage.chart import usage_chart
from web.usage.guard import bilingual
from web.usage.reports import DAY_S, csv_export, daily, top_users

ENDED_BY_ADMIN = N_("An administrator ended this call.")
MAX_CSV_DAYS = 400


async def _live_rows(request: Request) -> list[dict[str, Any]]:
    svc = services(request)
    rows = []
    for call in svc.calls.live_calls():
        user = await svc.users.get(call.user_id)
        meter = svc.usage.live.get(call.id)
        device = ""
        if call.credential is not None and call.credential.is_token:
            token = await svc.tokens.get(call.credential.token_id)
            device = token.name if token else call.credential.handle
        stats: dict[str, Any] = {}
        with contextlib.suppress(Exception):
            stats = call.stats()
        created = getattr(call, "created_at", None)
        rows.append({
            "id": call.id, "email": user.email if user else str(call.user_id),
            "transport": call.transport, "device": device,
            "duration_s": round(time.monotonic() - created) if isinstance(created, float) else None,
            "latency": (stats.get("receive_latency_ms") or {}).get("median"),
            "dropped": stats.get("uplink_dropped", stats.get("frames_refused")),
            "tokens": meter.tokens.total if meter else 0, "cost": meter.cost_usd if meter else 0.0,
            "warned": bool(svc.usage.guards.get(call.id) and svc.usage.guards[call.id].warned),
        })
    local = {row["id"] for row in rows}
    with contextlib.suppress(DatabaseError):  # the calls of the other processes, from the cluster's directory
        for entry in await svc.cluster.directory():
            if entry["call_id"] in local:
                continue
            user = await svc.users.get(int(entry["user_id"]))
            rows.append({"id": entry["call_id"], "email": user.email if user else str(entry["user_id"]),
                         "transport": entry["transport"], "device": "", "duration_s": round(float(entry["age_s"])),
                         "latency": None, "dropped": None, "tokens": 0, "cost": 0.0, "warned": False})
    return rows


@admin_required
async def live_calls(request: Request) -> Response:
    return render(request, "pages/admin_calls.html", {"calls": await _live_rows(request)})


@admin_required
async def end_call(request: Request) -> Response:
    svc = services(request)
    call_id = request.path_params["call_id"]
    note = notice(bilingual(ENDED_BY_ADMIN), "admin_ended")
    try:  # the process that owns the call ends it, whichever received this request
        ended = await svc.router.run("end", call_id, None, {"reason": "admin_ended", "note": note})
    except OwnerUnreachable:
        ended = None
    if ended is not None:
        await audit.record(svc.db, svc.sessions.clock(), request.state.user, "call.end", call_id)
    return RedirectResponse("/admin/calls", status_code=303)


@admin_required
async def usage(request: Request) -> Response:
    svc = services(request)
    now = svc.sessions.clock()
    user_id = None
    with contextlib.suppress(ValueError):
        user_id = int(request.query_params.get("user", "")) if request.query_params.get("user") else None
    days = await daily(svc.db, now, 30, user_id)
    chart = usage_chart(days, minutes_label=gettext("Minutes per day"), cost_label=gettext("Estimated cost (USD)"))
    top = await top_users(svc.db, now - 30 * DAY_S)
    for row in top:
        limits = await svc.usage.quotas.limits_for(int(row["user_id"])) if row["user_id"] is not None else None
        used = await svc.usage.quotas.used(int(row["user_id"])) if row["user_id"] is not None else None
        row["limits"], row["used"] = limits, used
    person = await svc.users.get(user_id) if user_id is not None else None
    context = {"chart": chart, "days": days, "top": top, "person": person, "fmt_time": fmt_time,
               "total_minutes": sum(d.minutes for d in days), "total_cost": sum(d.cost_usd for d in days)}
    return render(request, "pages/admin_usage.html", context)


@admin_required
async def usage_csv(request: Request) -> Response:
    svc = services(request)
    days = 30
    with contextlib.suppress(ValueError):
        days = max(1, min(MAX_CSV_DAYS, int(request.query_params.get("days", "30"))))
    body = await csv_export(svc.db, svc.sessions.clock() - days * DAY_S)
    await audit.record(svc.db, svc.sessions.clock(), request.state.user, "usage.export", f"{days} days")
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="conversations.csv"',
                             "Cache-Control": "no-store"})


@admin_required
async def audit_log(request: Request) -> Response:
    svc = services(request)
    return render(request, "pages/admin_audit.html", {"entries": await audit.recent(svc.db), "fmt_time": fmt_time})


routes: list[BaseRoute] = [
    Route("/admin/calls", live_calls, methods=["GET"], name="admin_calls"),
    Route("/admin/calls/{call_id}/end", end_call, methods=["POST"], name="admin_end_call"),
    Route("/admin/usage", usage, methods=["GET"], name="admin_usage"),
    Route("/admin/usage.csv", usage_csv, methods=["GET"], name="admin_usage_csv"),
    Route("/admin/audit", audit_log, methods=["GET"], name="admin_audit"),
]
