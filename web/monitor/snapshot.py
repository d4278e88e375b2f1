"""The immutable result of one collector tick. Readers take `collector.latest` and never see a half-written state."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from web.monitor.families import Family


@dataclass(frozen=True, slots=True)
class MonitorSnapshot:
    seq: int = 0  # 0 = nothing collected yet
    taken_at: float = 0.0  # time.time()
    taken_monotonic: float = 0.0  # time.monotonic(), for age
    interval_s: float = 0.0
    loop_lag_s: float = 0.0  # drift of the collector's last sleep
    loop_lag_max_s: float = 0.0  # worst drift over the last ~10 s
    cpu_percent: float | None = None
    rss_bytes: int | None = None
    open_fds: int | None = None
    threads: int | None = None
    active_sessions: int | None = None
    families: tuple[Family, ...] = ()  # registered callback gauges/counters, sampled this tick
    errors: tuple[str, ...] = ()  # sources that failed this tick
    errors_total: int = 0

    def age_s(self, now_monotonic: float | None = None) -> float:
        if self.seq == 0:
            return math.inf
        now = time.monotonic() if now_monotonic is None else now_monotonic
        return max(0.0, now - self.taken_monotonic)
