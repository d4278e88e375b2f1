"""What `python -m web diagnose` does: every check that needs no human and no browser, against a running server
(and, with --local, on the server host), verdicts from the same rules as the page. Results are also recorded as a
report on the server when it answers, so support can look the run up by its ID."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from web.diagnostics import causality, local_checks, probe_http, probe_rtc, rules_call, rules_quality, rules_server
from web.diagnostics.catalog import BY_ID
from web.diagnostics.model import FAIL, SKIP, CheckResult
from web.diagnostics.present import NEEDS_LOGIN
from web.diagnostics.rules_call import NOT_AVAILABLE
from web.diagnostics.text import t
from web.diagnostics.values import Values
from web.i18n import N_
from web.settings import Settings

CALL_CHECKS = ("signalling", "media_path", "echo", "rtt", "jitter", "packet_loss", "mos", "server_view")
LOGIN_CHECKS = ("upstream", *CALL_CHECKS, "websocket")
PASS_CREDENTIALS = t(N_("Run it with --email and --password (an account of this server) to include this check."))
UNREACHABLE = t(N_("not run: the server is unreachable"))
BROKE_OFF = t(N_("not run: the server's answer broke off"))
SERVER_BROKE = t(N_("The server answered with an error or broke the connection off (it may be overloaded, "
                    "restarting, or behind a proxy that cuts requests). Check that the service is running and read "
                    "its log, then run this again."))
REMOTE_ORDER = ("server_health", "readiness", "session", *LOGIN_CHECKS)


@dataclass
class Options:
    url: str = ""
    email: str = ""
    password: str = ""
    local: bool = False
    save: bool = True
    quality_seconds: int = 10


@dataclass
class Run:
    results: list[CheckResult] = field(default_factory=list)
    report_id: str = ""
    measured: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # replayed into the server's report

    def add(self, result: CheckResult, values: dict[str, Any] | None = None) -> None:
        self.results.append(result)
        if values is not None:
            self.measured.append((result.check_id, values))

    def skip(self, checks: tuple[str, ...], value: Any, *fixes: Any) -> None:
        self.results.extend(CheckResult(c, SKIP, value, tuple(fixes)) for c in checks)

    def broke(self, exc: BaseException) -> None:
        """A server answer the client could not use (reset, 5xx page, garbage): the check it broke fails, saying so,
        and the ones after it are not run."""
        done = {r.check_id for r in self.results}
        rest = tuple(c for c in REMOTE_ORDER if c not in done)
        if not rest:
            return
        error = f"{type(exc).__name__}: {exc}"[:160]
        self.results.append(CheckResult(rest[0], FAIL, t(N_("the server's answer broke off ({error})"), error=error),
                                        (SERVER_BROKE,), {"error": error}))
        self.skip(rest[1:], BROKE_OFF)


def _from_server(check_id: str, body: dict[str, Any] | None) -> CheckResult:
    if body is None:
        return CheckResult(check_id, SKIP, NOT_AVAILABLE)
    return CheckResult.from_json(body)


async def _call(run: Run, http: httpx.AsyncClient, csrf: str, options: Options) -> None:
    config = await probe_http.rtc_config(http)
    if config is None:
        run.skip(CALL_CHECKS, NOT_AVAILABLE)
        return
    m = await probe_rtc.run_call(http, csrf, mode=str(config.get("mode") or ""), ice=config,
                                 quality_seconds=options.quality_seconds, report_id=run.report_id)
    run.add(rules_call.signalling(Values(m.signalling)), m.signalling)
    run.add(rules_call.media_path(Values(m.media_path)), m.media_path)
    # the server knows whether the AI service dropped this call: its verdict names that cause
    echo = await probe_http.server_check(http, csrf, "echo", m.echo) if m.echo else None
    run.add(CheckResult.from_json(echo) if echo else rules_call.echo(Values(m.echo)), m.echo)
    samples = [Values(s) for s in m.samples]
    for rule in (rules_quality.rtt, rules_quality.jitter, rules_quality.packet_loss, rules_quality.mos):
        result = rule(samples)
        run.add(result if m.samples else CheckResult(result.check_id, SKIP, t(N_("not measured"))),
                {"samples": m.samples})
    if m.call_id:
        run.add(_from_server("server_view", m.server_view))
    else:
        run.add(CheckResult("server_view", SKIP, t(N_("not measured"))))


async def _remote(run: Run, options: Options) -> None:
    async with probe_http.client(options.url) as http:
        health, _response = await probe_http.timed_get(http, "/health")
        run.add(rules_server.server_health(Values(health)), health)
        if not health.get("status"):
            run.skip(("readiness", "session", *LOGIN_CHECKS), UNREACHABLE)
            return
        ready = await probe_http.readiness(http)
        readiness = rules_server.readiness(Values(ready))
        run.add(readiness, ready)
        signed_in = False
        if options.email:
            status = await probe_http.sign_in(http, options.email, options.password)
            signed_in = status == 200
            if not signed_in:
                run.add(rules_server.sign_in_failed(status), {})
        if signed_in or not options.email:
            me = await probe_http.me(http)
            signed_in = bool(me.get("signed_in"))
            run.add(rules_server.session(signed_in, me.get("remaining_s"), str(me.get("auth_failure", "")),
                                         me.get("skew_ms")), {"clock_skew_ms": me.get("skew_ms")})
        csrf = await probe_http.csrf_token(http, "/diagnostics")
        if options.save:
            run.report_id = await probe_http.create_report(http, csrf)
        if not signed_in and causality.database_down(readiness):  # nobody can sign in: readiness says why
            run.results.extend(causality.deferred(c, "readiness") for c in LOGIN_CHECKS)
        elif not signed_in:
            run.skip(LOGIN_CHECKS, NEEDS_LOGIN, PASS_CREDENTIALS)
        else:
            upstream = _from_server("upstream", await probe_http.server_check(http, csrf, "upstream",
                                                                               report_id=run.report_id))
            run.add(upstream)
            if upstream.status == FAIL:  # a call cannot get an answer: its rows defer to the upstream row, at once
                run.results.extend(causality.deferred(c, "upstream") for c in CALL_CHECKS)
            else:
                await _call(run, http, csrf, options)
            available, values = await probe_http.websocket(options.url, http.cookies)
            run.add(rules_call.websocket(Values(values), available), values)
        await _save(run, http, csrf)


async def _save(run: Run, http: httpx.AsyncClient, csrf: str) -> None:
    """Replay the measured values into the server's report: it applies the same rules and keeps the result."""
    if not run.report_id:
        return
    for check_id, values in run.measured:
        if check_id in BY_ID:
            await probe_http.server_check(http, csrf, check_id, values, report_id=run.report_id)
    pair = next((v for c, v in run.measured if c == "media_path"), {})
    keep = {k: pair.get(k) for k in ("local_type", "remote_type", "protocol") if pair.get(k)}
    try:
        await http.post(f"/diagnostics/reports/{run.report_id}/finish", json={"values": {"candidate_pair": keep}},
                        headers={"X-CSRF-Token": csrf})
    except httpx.HTTPError:
        pass  # the report already holds every check


async def diagnose(options: Options, settings: Settings | None = None) -> Run:
    run = Run()
    if options.url:
        try:
            await _remote(run, options)
        except Exception as exc:  # the CLI never crashes on a server's answer: the broken step fails instead
            run.broke(exc)
        run.results = causality.defer_all(run.results)
    if options.local and settings is not None:
        base = options.url or f"http://127.0.0.1:{settings.port}"
        run.results.extend(await local_checks.run(settings, base))
    return run
