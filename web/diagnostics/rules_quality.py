"""Call-quality verdicts over 1 s samples (RTT, jitter, loss, bandwidth, MOS) and the server's view of the call."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

from web.diagnostics import thresholds as th
from web.diagnostics.model import FAIL, PASS, SKIP, WARN, CheckResult
from web.diagnostics.mos import estimate_mos
from web.diagnostics.text import Text, t
from web.diagnostics.values import Values
from web.i18n import N_

NETWORK = t(N_("Use a wired connection or stronger Wi-Fi, pause downloads, streams and other calls, and avoid VPNs."))
NOT_REPORTED = t(N_("not reported"))


def series(samples: list[Values], key: str) -> list[float]:
    return [x for x in (s.num(key) for s in samples) if x is not None and x >= 0]


def _graded(check_id: str, values: list[float], unit: str, pass_below: float, fail_above: float) -> CheckResult:
    """Median below `pass_below` passes; above `fail_above` in BAD_SAMPLES or more samples fails; else warns."""
    if not values:
        return CheckResult(check_id, SKIP, NOT_REPORTED)
    median = statistics.median(values)
    bad = sum(1 for x in values if x > fail_above)
    data = {"median": round(median, 1), "max": round(max(values), 1), "samples": len(values), "over_limit": bad}
    value = t(N_("median {median} {unit}, max {max} {unit}"), median=round(median, 1), max=round(max(values), 1),
              unit=unit)
    if bad >= th.BAD_SAMPLES:
        return CheckResult(check_id, FAIL, value, (NETWORK,), data)
    if median >= pass_below or bad:
        return CheckResult(check_id, WARN, value, (NETWORK,), data)
    return CheckResult(check_id, PASS, value, data=data)


def rtt(samples: list[Values]) -> CheckResult:
    return _graded("rtt", series(samples, "rtt_ms"), "ms", th.RTT_PASS_MS, th.RTT_FAIL_MS)


def jitter(samples: list[Values]) -> CheckResult:
    return _graded("jitter", series(samples, "jitter_ms"), "ms", th.JITTER_PASS_MS, th.JITTER_FAIL_MS)


def packet_loss(samples: list[Values]) -> CheckResult:
    values = series(samples, "loss_pct")
    if not values:
        return CheckResult("packet_loss", SKIP, NOT_REPORTED)
    average = statistics.fmean(values)
    data = {"average": round(average, 2), "max": round(max(values), 2), "samples": len(values)}
    value = t(N_("{avg} % on average (worst second {max} %)"), avg=round(average, 2), max=round(max(values), 1))
    if average >= th.LOSS_FAIL_PCT:
        return CheckResult("packet_loss", FAIL, value, (NETWORK,), data)
    if average >= th.LOSS_PASS_PCT:
        return CheckResult("packet_loss", WARN, value, (NETWORK,), data)
    return CheckResult("packet_loss", PASS, value, data=data)


def bitrate(samples: list[Values]) -> CheckResult:
    values = series(samples, "bitrate_kbps")
    if not values:
        return CheckResult("bitrate", SKIP, NOT_REPORTED)
    median = statistics.median(values)
    data = {"median": round(median), "samples": len(values)}
    value = t(N_("{kbps} kbps"), kbps=round(median))
    fix = t(N_("Too little bandwidth for clear audio: stop other uploads, video calls or cloud backups."))
    if median < th.BITRATE_FAIL_KBPS:
        return CheckResult("bitrate", FAIL, value, (fix,), data)
    if median < th.BITRATE_PASS_KBPS:
        return CheckResult("bitrate", WARN, value, (fix,), data)
    return CheckResult("bitrate", PASS, value, data=data)


def mos(samples: list[Values]) -> CheckResult:
    rtts = series(samples, "rtt_ms")
    if not rtts:
        return CheckResult("mos", SKIP, NOT_REPORTED)
    jitters, losses = series(samples, "jitter_ms"), series(samples, "loss_pct")
    inputs = {"rtt_ms": statistics.median(rtts), "jitter_ms": statistics.median(jitters) if jitters else 0.0,
              "loss_pct": statistics.fmean(losses) if losses else 0.0}
    score = estimate_mos(**inputs)
    data = {"mos": score, **{k: round(x, 2) for k, x in inputs.items()}}
    value = t(N_("{mos} of 4.5"), mos=score)
    fix = t(N_("Expect choppy or delayed audio: see the round-trip time, jitter and packet loss rows."))
    if score < th.MOS_FAIL:
        return CheckResult("mos", FAIL, value, (fix,), data)
    if score < th.MOS_PASS:
        return CheckResult("mos", WARN, value, (fix,), data)
    return CheckResult("mos", PASS, value, data=data)


def server_view(view: Mapping[str, Any] | None, available: bool = True) -> CheckResult:
    """`view` is web.diagnostics.server_view.call_view()'s result (None: the call was not found)."""
    if not available:
        return CheckResult("server_view", SKIP, t(N_("not available on this server")))
    if view is None:
        return CheckResult("server_view", FAIL, t(N_("the server does not see this call")),
                           (t(N_("The call ended before the server could be asked about it; the server log has "
                                 "the reason it ended (e.g. upstream_closed).")),))
    data = dict(view)
    state = str(view.get("state") or "?")
    protocol = str(view.get("protocol") or "?").upper()
    pair = f"{view.get('local_type') or '?'} → {view.get('remote_type') or '?'}, {protocol}"
    rtt_ms, loss = view.get("rtt_ms"), view.get("loss_pct")
    value = t(N_("{state}: {pair}, RTT {rtt} ms, loss {loss} %"), state=state, pair=pair,
              rtt=rtt_ms if isinstance(rtt_ms, int | float) else "?", loss=loss if isinstance(loss, int | float)
              else "?")
    if state != "connected":
        return CheckResult("server_view", FAIL, value, (t(N_("The server never saw the media path connect.")),), data)
    fixes: list[Text] = []
    if isinstance(rtt_ms, int | float) and rtt_ms > th.RTT_FAIL_MS:
        fixes.append(NETWORK)
    if isinstance(loss, int | float) and loss >= th.LOSS_PASS_PCT:
        fixes.append(t(N_("The server loses packets from you: the uplink is congested.")))
    return CheckResult("server_view", WARN if fixes else PASS, value, tuple(fixes), data)
