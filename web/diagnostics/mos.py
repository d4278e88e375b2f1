"""Estimated MOS from RTT, jitter and loss: the E-model simplification Twilio's SDK uses (reference §4).

Effective latency EL = RTT + 2·jitter + 10 ms. R = 94.768 − EL/40 below 160 ms, 94.768 − (EL − 120)/10 below
1000 ms, else 0. Loss costs 2.5 R per percent (R drops to 0 once loss% exceeds R/2.5; otherwise R never falls below
6.52). MOS = 1 + 0.035·R + 7·10⁻⁶·R·(R − 60)·(100 − R).
"""

from __future__ import annotations

R_MAX = 94.768
R_FLOOR = 6.52


def r_factor(rtt_ms: float, jitter_ms: float, loss_pct: float) -> float:
    effective = max(0.0, rtt_ms) + 2 * max(0.0, jitter_ms) + 10
    if effective < 160:
        r = R_MAX - effective / 40
    elif effective < 1000:
        r = R_MAX - (effective - 120) / 10
    else:
        r = 0.0
    loss = max(0.0, loss_pct)
    if loss > r / 2.5:
        return 0.0
    return max(r - 2.5 * loss, R_FLOOR)


def mos_from_r(r: float) -> float:
    return 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r)


def estimate_mos(rtt_ms: float, jitter_ms: float, loss_pct: float) -> float:
    return round(mos_from_r(r_factor(rtt_ms, jitter_ms, loss_pct)), 2)
