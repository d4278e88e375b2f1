"""`diagnose --local`: checks that only make sense on the server host — the database from this host's settings, the
running server's log queue and event-loop lag (from its /health/ready), and the upstream configuration."""

from __future__ import annotations

import time
from typing import Any

from web.db import Database
from web.diagnostics import probe_http, rules_server
from web.diagnostics.model import SKIP, CheckResult
from web.diagnostics.text import t
from web.i18n import N_
from web.media.realtime import describe_upstream
from web.settings import Settings


async def database(settings: Settings) -> CheckResult:
    db = Database(settings.effective_database_url)
    started = time.monotonic()
    try:
        await db.ping(timeout=2.0)
        return rules_server.database(True, (time.monotonic() - started) * 1000)
    except Exception as exc:  # any failure to reach it is the finding
        return rules_server.database(False, None, f"{type(exc).__name__}: {exc}"[:200])
    finally:
        await db.close()


def upstream_config(settings: Settings) -> CheckResult:
    described = describe_upstream(settings)
    return rules_server.upstream_config(described, settings.realtime_upstream == "echo")


async def run(settings: Settings, base_url: str) -> list[CheckResult]:
    """The four local checks; the server's own numbers come from `base_url`/health/ready."""
    results = [await database(settings)]
    checks: dict[str, Any] = {}
    async with probe_http.client(base_url) as http:
        values = await probe_http.readiness(http)
        checks = values.get("checks") or {}
    unreachable = t(N_("not measured: no server answered at {url}"), url=base_url)
    for check_id, rule in (("log_queue", rules_server.log_queue), ("event_loop", rules_server.event_loop)):
        found = checks.get(check_id)
        results.append(rule(found) if isinstance(found, dict) else CheckResult(check_id, SKIP, unreachable))
    results.append(upstream_config(settings))
    return results
