"""Liveness (`/health`), readiness (`/health/ready`) and Prometheus metrics (`/metrics`).

`/health` is an async handler with no I/O: it is answered on the event loop, so a stalled loop fails the probe.
Readiness reports each dependency; only real faults make it 503 (see `_ready`). Its status and the names of the
dependencies that are down are public; the details
(upstream host, deployment, queue figures) and `/metrics` are for operators only (`web/security/operator_access.py`).
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from loguru import logger
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from web.i18n import N_
from web.media.realtime import describe_upstream
from web.monitor.exposition import CONTENT_TYPE
from web.security.operator_access import is_operator
from web.security.responses import error_response
from web.services import services

DB_TIMEOUT_S = 2.0
READY_MAX_LOOP_LAG_S = 1.0
LOG_QUEUE_DEGRADED_FRACTION = 0.9
NO_STORE = {"Cache-Control": "no-store"}

Check = dict[str, Any]


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"}, headers=NO_STORE)


async def _database(request: Request) -> Check:
    db = request.app.state.db
    started = time.perf_counter()
    try:
        await asyncio.wait_for(db.ping(), DB_TIMEOUT_S)
    except TimeoutError:
        logger.warning("readiness: database ping timed out after {}s", DB_TIMEOUT_S)
        return {"ok": False, "error": "timeout", "timeout_s": DB_TIMEOUT_S}
    except Exception as exc:
        logger.warning("readiness: database ping failed: {}", type(exc).__name__)
        return {"ok": False, "error": type(exc).__name__}
    return {
        "ok": True,
        "kind": getattr(db, "kind", None),
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
    }


def _event_loop(request: Request) -> Check:
    monitoring = request.app.state.monitoring
    snap = monitoring.snapshot()
    age = snap.age_s()
    stale_after = max(5.0, 5 * snap.interval_s)
    fresh = age <= stale_after
    check: Check = {
        "ok": fresh and snap.loop_lag_s <= READY_MAX_LOOP_LAG_S,
        "lag_ms": round(snap.loop_lag_s * 1000, 1),
        "lag_max_ms": round(snap.loop_lag_max_s * 1000, 1),
        "threshold_ms": READY_MAX_LOOP_LAG_S * 1000,
        "snapshot_age_s": round(age, 2) if math.isfinite(age) else None,
    }
    if not fresh:
        check["error"] = "no recent monitor snapshot"
    return check


def _log_queue(request: Request) -> Check:
    pipeline = request.app.state.log_pipeline
    stats = pipeline.stats()
    # A full queue only means records are being dropped (and counted); requests are unaffected, so it degrades
    # rather than fails readiness. A dead writer thread is a real fault.
    check: Check = {
        "ok": bool(stats.writer_alive),
        "depth": stats.depth,
        "capacity": stats.capacity,
        "dropped": stats.dropped,
        "state": "degraded" if stats.depth >= stats.capacity * LOG_QUEUE_DEGRADED_FRACTION else "ok",
    }
    if not stats.writer_alive:
        check["error"] = "log writer thread is not running"
    return check


async def _realtime(request: Request) -> Check:
    settings = request.app.state.settings
    check: Check = {"ok": True, "mode": settings.voice_mode}
    try:
        described = describe_upstream(settings)
    except Exception as exc:
        return {**check, "ok": False, "error": type(exc).__name__}
    check["upstream"] = described
    # The selected upstream lacks its configuration: voice cannot work on this instance.
    check["ok"] = bool(described.get("configured", True))
    return check


async def ready(request: Request) -> Response:
    checks: dict[str, Check] = {
        "database": await _database(request),
        "event_loop": _event_loop(request),
        "log_queue": _log_queue(request),
        "realtime": await _realtime(request),
    }
    svc = services(request)
    # Draining after SIGTERM: the balancer must stop sending new calls here while the live ones end.
    checks["calls"] = {"ok": not svc.drainer.draining, "draining": svc.drainer.draining,
                       "active": svc.calls.active_count(), "node": svc.node.tag, "cluster": svc.cluster.snapshot()}
    ok = all(check["ok"] for check in checks.values())
    status = "draining" if svc.drainer.draining else "ready" if ok else "not_ready"
    body: dict[str, Any] = {"status": status}
    if not ok:  # which dependency, by name only (the diagnostics page names it to anyone); details stay private
        body["down"] = sorted(name for name, check in checks.items() if not check["ok"])
    if is_operator(request):  # the upstream host, deployment name and queue figures are for operators only
        body["checks"] = checks
    return JSONResponse(body, status_code=200 if ok else 503, headers=NO_STORE)


METRICS_REFUSED = N_("Metrics are only for monitoring: send METRICS_TOKEN as a bearer token, or scrape from an "
                     "address listed in METRICS_ALLOW_IPS.")


async def metrics(request: Request) -> Response:
    if not is_operator(request, admins=False):
        status = 401 if request.app.state.settings.metrics_token else 403
        headers = {**NO_STORE, **({"WWW-Authenticate": 'Bearer realm="metrics"'} if status == 401 else {})}
        return error_response(request.scope, status, "metrics_forbidden", METRICS_REFUSED, headers=headers)
    monitoring = request.app.state.monitoring
    return Response(monitoring.render_prometheus(), media_type=CONTENT_TYPE, headers=NO_STORE)


routes: list[BaseRoute] = [
    Route("/health", health, methods=["GET"], name="health"),
    Route("/health/ready", ready, methods=["GET"], name="health_ready"),
    Route("/metrics", metrics, methods=["GET"], name="metrics"),
]
