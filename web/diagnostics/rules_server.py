"""Verdicts about the server and the sign-in: reachability, readiness, session, the realtime upstream, and the
server-side checks of `diagnose --local`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from web.diagnostics import thresholds as th
from web.diagnostics.model import FAIL, PASS, SKIP, WARN, CheckResult
from web.diagnostics.text import Text, t
from web.diagnostics.values import Values
from web.i18n import N_

SERVICE_DOWN = t(N_("The server is not answering. Check that the service is running (systemctl status / docker "
                    "compose ps), then read its log. From a terminal: scripts/diagnose-connection.sh URL."))
SIGN_IN = t(N_("Sign in, then run the checks again."))
SIGN_IN_AGAIN = t(N_("Your session expired or is no longer valid. Sign in again; if it keeps happening, clear this "
                     "site's cookies and cache, then sign in."))
DATABASE_DOWN = t(N_("The server's database is not answering, so nobody can sign in or start a call; this is not "
                     "your device or network. The administrator must start the database (or fix DATABASE_URL) and "
                     "read the server log."))
DEPENDENCIES = ("database", "event_loop", "log_queue", "realtime")  # the names /health/ready reports
ADMIN = t(N_("Ask the administrator to check the server configuration; this needs no change on your device."))


def server_health(v: Values) -> CheckResult:
    status, ms = v.integer("status"), v.integer("latency_ms")
    data = {"status": status, "latency_ms": ms, "error": v.text("error", limit=120)}
    if not status:
        return CheckResult("server_health", FAIL, t(N_("no answer ({error})"), error=data["error"] or "?"),
                           (SERVICE_DOWN,), data)
    if not 200 <= status < 300:
        return CheckResult("server_health", FAIL, t(N_("HTTP {status}"), status=status), (SERVICE_DOWN,), data)
    value = t(N_("{ms} ms"), ms=ms if ms is not None else "?")
    slow = t(N_("The server answers slowly: the network is congested or the server is overloaded."))
    if ms is None or ms >= th.HEALTH_WARN_MS:
        return CheckResult("server_health", FAIL, value, (slow, SERVICE_DOWN), data)
    if ms >= th.HEALTH_PASS_MS:
        return CheckResult("server_health", WARN, value, (slow,), data)
    return CheckResult("server_health", PASS, value, data=data)


def readiness(v: Values) -> CheckResult:
    status = v.integer("status")
    checks = v.sub("checks").raw
    down = sorted(name for name, c in checks.items() if isinstance(c, Mapping) and c.get("ok") is False) or sorted(
        {name for name in v.texts("down", limit=20) if name in DEPENDENCIES})  # what a non-operator is told
    degraded = sorted(name for name, c in checks.items()
                      if isinstance(c, Mapping) and c.get("ok") is not False and c.get("state") == "degraded")
    data: dict[str, Any] = {"status": status, "down": down, "degraded": degraded}
    if not status:
        return CheckResult("readiness", SKIP, t(N_("not measured")), data=data)
    if down or status >= 500:
        names = ", ".join(down) or f"HTTP {status}"
        fixes = (DATABASE_DOWN,) if "database" in down else (ADMIN,)
        return CheckResult("readiness", FAIL, t(N_("not ready: {names}"), names=names), fixes, data)
    if degraded:
        return CheckResult("readiness", WARN, t(N_("degraded: {names}"), names=", ".join(degraded)), (ADMIN,), data)
    if status != 200:
        return CheckResult("readiness", FAIL, t(N_("HTTP {status}"), status=status), (ADMIN,), data)
    return CheckResult("readiness", PASS, t(N_("all dependencies ready")), data=data)


def session(signed_in: bool, remaining_s: float | None, auth_failure: str, skew_ms: float | None) -> CheckResult:
    data: dict[str, Any] = {"signed_in": signed_in, "remaining_s": None if remaining_s is None else int(remaining_s),
                            "auth_failure": auth_failure, "clock_skew_ms": None if skew_ms is None else int(skew_ms)}
    if not signed_in:
        if auth_failure:
            return CheckResult("session", FAIL, t(N_("Authentication failed. Please sign in again.")),
                               (SIGN_IN_AGAIN,), data)
        return CheckResult("session", FAIL, t(N_("not signed in")), (SIGN_IN,), data)
    minutes = max(0, int((remaining_s or 0) // 60))
    value = t(N_("signed in, {minutes} min left"), minutes=minutes)
    fixes: list[Text] = []
    if remaining_s is not None and remaining_s < th.SESSION_MIN_REMAINING_S:
        fixes.append(t(N_("The session ends soon: sign out and in again before a long conversation.")))
    if skew_ms is not None and abs(skew_ms) > th.CLOCK_SKEW_WARN_S * 1000:
        value = t(N_("signed in, {minutes} min left; clock off by {s} s"), minutes=minutes, s=int(skew_ms / 1000))
        fixes.append(t(N_("This device's clock is wrong: turn on automatic date and time in the system settings.")))
    return CheckResult("session", WARN if fixes else PASS, value, tuple(fixes), data)


def sign_in_failed(status: int) -> CheckResult:
    return CheckResult("session", FAIL, t(N_("sign-in failed (HTTP {status})"), status=status),
                       (t(N_("Check the e-mail address and password (--email, --password): the server refused "
                             "them.")),), {"status": status})


def _upstream_config_result(check_id: str, described: Mapping[str, Any], explicit_echo: bool) -> CheckResult | None:
    """The verdict when the configuration alone decides it (missing settings, accidental echo), else None."""
    mode = str(described.get("mode", ""))
    data = {"mode": mode, "protocol": described.get("protocol"), "warnings": list(described.get("warnings") or [])}
    if not described.get("configured", True):
        problem = str(described.get("problem") or "")
        return CheckResult(check_id, FAIL, t(N_("not configured: {problem}"), problem=problem),
                           (t(N_("Set the missing variables in the server's environment (.env), then restart it: "
                                 "{problem}."), problem=problem),), data)
    if mode == "echo" and not explicit_echo:
        return CheckResult(check_id, WARN, t(N_("echo mode: no AI service configured")),
                           (t(N_("Set AZURE_OPENAI_REALTIME_ENDPOINT, AZURE_OPENAI_REALTIME_API_KEY and "
                                 "AZURE_OPENAI_REALTIME_DEPLOYMENT_NAME (or REALTIME_UPSTREAM=echo to keep echo "
                                 "mode on purpose).")),), data)
    return None


def upstream_config(described: Mapping[str, Any], explicit_echo: bool) -> CheckResult:
    decided = _upstream_config_result("upstream_config", described, explicit_echo)
    if decided is not None:
        return decided
    warnings = [str(w) for w in described.get("warnings") or []]
    data = {"mode": described.get("mode"), "protocol": described.get("protocol"), "warnings": warnings}
    value = t(N_("{mode}, {protocol} protocol"), mode=str(described.get("mode")), protocol=str(
        described.get("protocol")))
    if warnings:
        return CheckResult("upstream_config", WARN, value, tuple(Text(w) for w in warnings), data)
    return CheckResult("upstream_config", PASS, value, data=data)


def upstream(described: Mapping[str, Any], probe: Mapping[str, Any] | None, explicit_echo: bool) -> CheckResult:
    """Configuration sanity plus the live handshake (`probe_upstream`'s result; None when it was not run)."""
    decided = _upstream_config_result("upstream", described, explicit_echo)
    if decided is not None:
        return decided
    warnings = [str(w) for w in described.get("warnings") or []]
    data: dict[str, Any] = {"mode": described.get("mode"), "protocol": described.get("protocol"),
                            "warnings": warnings}
    if probe is None:
        return CheckResult("upstream", SKIP, t(N_("not measured")), data=data)
    ms = probe.get("connect_ms")
    data.update(code=probe.get("code"), connect_ms=ms)
    if not probe.get("ok"):
        operator = str(probe.get("operator_message") or probe.get("code") or "?")
        value = (t(N_("the AI service accepted the connection but does not answer")) if probe.get("code") == "stalled"
                 else t(N_("handshake failed: {code}"), code=str(probe.get("code"))))
        # the configuration warnings (e.g. a preview api-version) stay: they are often the reason it failed
        return CheckResult("upstream", FAIL, value, (Text(operator), *(Text(w) for w in warnings), ADMIN), data)
    connect_ms = int(ms) if isinstance(ms, int | float) else 0
    value = t(N_("{mode}: session.created in {ms} ms"), mode=str(described.get("mode")), ms=connect_ms)
    fixes = tuple(Text(w) for w in warnings)
    if connect_ms >= th.UPSTREAM_FAIL_MS:
        return CheckResult("upstream", FAIL, value, (t(N_("The AI service is far too slow to answer.")), ADMIN), data)
    if connect_ms >= th.UPSTREAM_PASS_MS:
        slow = t(N_("The AI service is slow to answer: check the server's network path to it and its region."))
        return CheckResult("upstream", WARN, value, (slow, *fixes), data)
    return CheckResult("upstream", WARN if fixes else PASS, value, fixes, data)


def database(ok: bool, latency_ms: float | None, error: str = "") -> CheckResult:
    data = {"ok": ok, "latency_ms": latency_ms, "error": error}
    if not ok:
        return CheckResult("database", FAIL, t(N_("unreachable: {error}"), error=error or "?"),
                           (t(N_("Check DATABASE_URL and that the database server is running.")),), data)
    return CheckResult("database", PASS, t(N_("{ms} ms"), ms=round(latency_ms or 0, 1)), data=data)


def log_queue(check: Mapping[str, Any] | None) -> CheckResult:
    if not check or "capacity" not in check:  # no pipeline at all: nothing to measure (readiness says why)
        return CheckResult("log_queue", SKIP, t(N_("not measured")), data=dict(check or {}))
    dropped = int(check.get("dropped") or 0)
    data = {k: check.get(k) for k in ("depth", "capacity", "dropped", "state")}
    value = t(N_("{depth}/{capacity} queued, {dropped} dropped"), depth=int(check.get("depth") or 0),
              capacity=int(check.get("capacity") or 0), dropped=dropped)
    if check.get("ok") is False:
        return CheckResult("log_queue", FAIL, value, (t(N_("The log writer stopped: restart the service.")),), data)
    if dropped or check.get("state") == "degraded":
        return CheckResult("log_queue", WARN, value, (t(N_("Log output is slower than the log volume: check the "
                                                           "disk or log shipper, or lower LOG_LEVEL.")),), data)
    return CheckResult("log_queue", PASS, value, data=data)


def event_loop(check: Mapping[str, Any] | None) -> CheckResult:
    lag = check.get("lag_max_ms", check.get("lag_ms")) if check else None
    if not isinstance(lag, int | float):
        return CheckResult("event_loop", SKIP, t(N_("not measured")))
    data = {"lag_ms": check.get("lag_ms") if check else None, "lag_max_ms": lag}
    value = t(N_("{ms} ms (worst of the last seconds)"), ms=round(lag, 1))
    busy = t(N_("The server's event loop is stalling: look for CPU saturation or blocking work in the log."))
    if lag >= th.LOOP_LAG_FAIL_MS:
        return CheckResult("event_loop", FAIL, value, (busy,), data)
    if lag >= th.LOOP_LAG_WARN_MS:
        return CheckResult("event_loop", WARN, value, (busy,), data)
    return CheckResult("event_loop", PASS, value, data=data)
