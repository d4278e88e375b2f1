"""Verdicts for the WebRTC call and the WebSocket: signalling, ICE candidates, the media path, the round trip."""

from __future__ import annotations

from typing import Any

from web.diagnostics import rules_path
from web.diagnostics import thresholds as th
from web.diagnostics.model import FAIL, PASS, SKIP, WARN, CheckResult
from web.diagnostics.rules_browser import AUDIO_OUTPUT
from web.diagnostics.rules_server import SIGN_IN
from web.diagnostics.text import Text, t
from web.diagnostics.values import Values
from web.i18n import N_

NOT_AVAILABLE = t(N_("not available on this server"))
FIREWALL_UDP = t(N_("A firewall, proxy or VPN blocks the UDP media path to the server. Try another network (e.g. a "
                    "phone hotspot); the administrator can add a TURN server (RTC_ICE_SERVERS) that also works over "
                    "TCP/TLS."))
SEE_UPSTREAM = t(N_("The AI service did not start the voice session for this call. Ask the administrator to read "
                    "the server log (upstream errors) and the AZURE_OPENAI_REALTIME_* settings."))
NO_ANSWER = t(N_("The AI service accepted the call but did not answer within the wait: it is overloaded or stuck. "
                 "Try again in a few minutes; if it persists, ask the administrator to check the AI service."))
SERVER_BUSY = t(N_("The server is at its limit of simultaneous calls (MAX_CALLS_PER_PROCESS): this is not your "
                   "network or device. Try again in a few minutes; if it keeps happening, the administrator can raise "
                   "MAX_CALLS_PER_PROCESS or add servers."))
UPSTREAM_DROPPED = t(N_("The AI service closed the connection during the call ({code}). This is not your network: "
                        "start again; if it keeps happening, ask the administrator to check the AI service."))


def signalling(v: Values) -> CheckResult:
    status, ms = v.integer("status"), v.integer("elapsed_ms")
    code, message = v.text("error_code", limit=60), v.text("error_message", limit=300)
    data = {"status": status, "elapsed_ms": ms, "error_code": code}
    if status == 404:
        return CheckResult("signalling", SKIP, NOT_AVAILABLE, data=data)
    if status == 401:
        return CheckResult("signalling", FAIL, t(N_("HTTP 401: not signed in")), (SIGN_IN,), data)
    if not status:
        reason = FIREWALL_UDP if v.flag("timed_out") else t(N_("The request did not reach the server."))
        return CheckResult("signalling", FAIL, t(N_("no answer within {ms} ms"), ms=th.SIGNAL_FAIL_MS), (reason,),
                           data)
    if status != 201:
        fixes: list[Text] = [Text(message)] if message else []
        if code == "server_busy":
            fixes.append(SERVER_BUSY)
        elif code.startswith("upstream_") or status in (502, 504):
            fixes.append(SEE_UPSTREAM)
        return CheckResult("signalling", FAIL, t(N_("HTTP {status} {code}"), status=status, code=code),
                           tuple(fixes), data)
    value = t(N_("answer in {ms} ms"), ms=ms if ms is not None else "?")
    if ms is None or ms >= th.SIGNAL_FAIL_MS:
        return CheckResult("signalling", FAIL, value, (SEE_UPSTREAM,), data)
    if ms >= th.SIGNAL_PASS_MS:
        return CheckResult("signalling", WARN, value, (t(N_("The call takes long to set up: the server or the AI "
                                                            "service is slow to start a session.")),), data)
    return CheckResult("signalling", PASS, value, data=data)


def ice(v: Values) -> CheckResult:
    counts = v.sub("counts")
    by_type = {kind: counts.integer(kind) or 0 for kind in ("host", "srflx", "relay", "prflx")}
    data: dict[str, Any] = {"counts": by_type, "gathering_ms": v.integer("gathering_ms"), "servers": []}
    value = t(N_("host {host}, server-reflexive {srflx}, relay {relay}"), **by_type)
    if v.flag("measured") is not True:
        return CheckResult("ice", SKIP, t(N_("not measured")), data=data)
    if sum(by_type.values()) == 0:
        return CheckResult("ice", FAIL, t(N_("no candidates")), (FIREWALL_UDP,), data)
    problems: list[Text] = []
    for server in v.dicts("servers"):
        url = server.text("url", limit=120).split("?")[0]
        srflx, relay = server.integer("srflx") or 0, server.integer("relay") or 0
        data["servers"].append({"url": url, "srflx": srflx, "relay": relay})
        if url.startswith("turn"):
            if relay:
                continue
            problems.append(t(N_("TURN server {url} gave no relay candidate: wrong credentials?"), url=url) if srflx
                            else t(N_("TURN server {url} is not reachable from here."), url=url))
        elif not srflx:
            problems.append(t(N_("STUN server {url} did not answer: UDP is probably blocked."), url=url))
    if not data["servers"]:
        value = t(N_("host {host} (no STUN/TURN server configured)"), host=by_type["host"])
    if problems:
        return CheckResult("ice", WARN, value, tuple(problems), data)
    return CheckResult("ice", PASS, value, data=data)


def media_path(v: Values) -> CheckResult:
    state, ms = v.text("state", limit=20), v.integer("connect_ms")
    local, remote = v.text("local_type", "?", 10), v.text("remote_type", "?", 10)
    protocol, relay = v.text("protocol", "?", 10).lower(), v.text("relay_protocol", limit=10).lower()
    data = {"state": state, "connect_ms": ms, "local_type": local, "remote_type": remote, "protocol": protocol,
            "relay_protocol": relay, "server_candidates": rules_path.candidates_data(v)}
    if state == "skipped":
        return CheckResult("media_path", SKIP, t(N_("not measured")), data=data)
    if state != "connected" or ms is None or ms >= th.CONNECT_FAIL_MS:
        nat = rules_path.nat_fixes(v.dicts("server_candidates"), v.text("page_host", limit=64))
        return CheckResult("media_path", FAIL, t(N_("not connected ({state})"), state=state or "?"),
                           (*nat, FIREWALL_UDP), data)
    value = rules_path.connected_value(ms, local, remote, protocol, relay)
    fixes: list[Text] = []
    relayed = rules_path.relay_warning(local, remote, relay)
    if relayed is not None:
        fixes.append(relayed)
    elif protocol == "tcp":
        fixes.append(t(N_("The media runs over TCP: UDP is blocked (VPN or firewall). Expect more delay.")))
    if ms >= th.CONNECT_PASS_MS:
        fixes.append(t(N_("Connecting took long: the network checks many paths before one works.")))
    return CheckResult("media_path", WARN if fixes else PASS, value, tuple(fixes), data)


def echo(v: Values, upstream_closed: str = "") -> CheckResult:
    """`upstream_closed`: the code of an upstream error the server recorded for this user during the call."""
    mode, heard, ms = v.text("mode", limit=20), v.flag("heard"), v.integer("delay_ms")
    context = v.text("context_state", limit=20)
    data = {"mode": mode, "heard": heard, "delay_ms": ms, "level": v.num("level"), "error": v.text("error"),
            "context_state": context, "upstream_error": upstream_closed}
    if heard is None:
        return CheckResult("echo", SKIP, t(N_("not measured")), data=data)
    if not heard or ms is None:
        value = t(N_("nothing came back within {ms} ms"), ms=th.ROUND_TRIP_WAIT_MS)
        if upstream_closed:
            return CheckResult("echo", FAIL, t(N_("the AI service dropped the call ({code})"), code=upstream_closed),
                               (UPSTREAM_DROPPED.with_params(code=upstream_closed),), data)
        if context and context != "running":
            return CheckResult("echo", FAIL, value, (AUDIO_OUTPUT.with_params(state=context),), data)
        fix = (t(N_("The server received the test sound but nothing came back: the server's audio relay failed; "
                    "ask the administrator to read the server log.")) if mode == "echo" else NO_ANSWER)
        return CheckResult("echo", FAIL, value, (fix,), data)
    value = t(N_("reply heard after {ms} ms ({mode})"), ms=ms, mode=mode)
    slow = t(N_("Replies arrive late: the network delay is high or the AI service is slow to answer."))
    if ms >= th.ROUND_TRIP_FAIL_MS:
        return CheckResult("echo", FAIL, value, (slow,), data)
    if ms >= th.ROUND_TRIP_PASS_MS:
        return CheckResult("echo", WARN, value, (slow,), data)
    return CheckResult("echo", PASS, value, data=data)


def websocket(v: Values, available: bool) -> CheckResult:
    if not available:
        return CheckResult("websocket", SKIP, NOT_AVAILABLE)
    opened, ms = v.flag("opened"), v.integer("open_ms")
    first, error = v.text("first_event", limit=60), v.text("error", limit=200)
    data = {"opened": opened, "open_ms": ms, "first_event": first, "close_code": v.integer("close_code"),
            "error": error}
    if opened is None:
        return CheckResult("websocket", SKIP, t(N_("not measured")), data=data)
    if not opened:
        return CheckResult("websocket", FAIL, t(N_("blocked (close code {code})"), code=data["close_code"] or "?"),
                           (t(N_("A firewall or proxy blocks WebSocket connections to this server: ask IT to allow "
                                 "WebSocket (wss://) upgrades, or try another network.")),), data)
    if first != "session.created":
        return CheckResult("websocket", WARN, t(N_("opened, but the session did not start: {event}"),
                                                event=first or error or "?"), (SEE_UPSTREAM,), data)
    value = t(N_("session started in {ms} ms"), ms=ms if ms is not None else "?")
    if ms is None or ms >= th.WEBSOCKET_FAIL_MS:
        return CheckResult("websocket", FAIL, value, (SEE_UPSTREAM,), data)
    if ms >= th.WEBSOCKET_PASS_MS:
        return CheckResult("websocket", WARN, value, (SEE_UPSTREAM,), data)
    return CheckResult("websocket", PASS, value, data=data)
