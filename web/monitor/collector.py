"""The single writer: one task samples everything every `interval_s` and publishes an immutable snapshot.

Dependency rule (predecessor bug #1 was a collector and a monitor calling each other under locks): this module
imports only the leaf modules `families`, `snapshot`, `sources` and `process`. It never imports or calls the
request-side registry or the Monitoring facade; they read `collector.latest`, it never reads them. An AST test
(tests/test_monitor_imports.py) enforces this.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from web.monitor.families import Family
from web.monitor.process import ProcessSample
from web.monitor.snapshot import MonitorSnapshot
from web.monitor.sources import SourceList

ActiveSessionsFn = Callable[[], Awaitable[int]]
ProcessSampleFn = Callable[[], ProcessSample]


class _WindowMax:
    """Max over the last one to two windows, in O(1): the current window's max and the previous one's."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._started = time.monotonic()
        self._current = 0.0
        self._previous = 0.0

    def add(self, value: float, now: float) -> float:
        if now - self._started >= self.window_s:
            self._previous, self._current, self._started = self._current, 0.0, now
        self._current = max(self._current, value)
        return max(self._current, self._previous)


class Collector:
    def __init__(
        self,
        *,
        interval_s: float,
        sources: SourceList,
        active_sessions: ActiveSessionsFn | None = None,
        process_sampler: ProcessSampleFn | None = None,
        source_timeout_s: float = 2.0,
        lag_window_s: float = 10.0,
        process_every_s: float = 1.0,
    ) -> None:
        self.interval_s = max(0.001, interval_s)
        self.sources = sources
        self.active_sessions = active_sessions
        self.process_sampler = process_sampler
        self.source_timeout_s = source_timeout_s
        # The one published reference. Only run()/tick() assign it; everyone else only reads it.
        self.latest = MonitorSnapshot(interval_s=self.interval_s)
        self._lag_max = _WindowMax(lag_window_s / 2)
        self._errors_total = 0
        # CPU% over a 10 ms window is just 0 or 100 (clock-tick resolution), and /proc reads or a database count
        # 100x/s are waste: the process and the active-session count are sampled at most every `process_every_s`,
        # whatever the tick interval. Callback gauges (cheap, in memory) are sampled every tick.
        self.process_every_s = process_every_s
        self._process_due = 0.0
        self._slow_due = True

    async def run(self) -> None:
        """Loop forever (until cancelled): sleep, then tick. Loop lag = how late the collector's own sleep returned."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(self.interval_s)
            await self.tick(max(0.0, loop.time() - started - self.interval_s))

    async def tick(self, lag_s: float) -> MonitorSnapshot:
        previous = self.latest
        errors: list[str] = []
        process: ProcessSample | None = None
        self._slow_due = time.monotonic() >= self._process_due
        if self._slow_due:
            self._process_due = time.monotonic() + self.process_every_s
        if self.process_sampler is not None and self._slow_due:
            try:
                process = await asyncio.wait_for(asyncio.to_thread(self.process_sampler), self.source_timeout_s)
            except Exception:
                errors.append("process")
        active = previous.active_sessions
        if self.active_sessions is not None and (self._slow_due or previous.seq == 0):
            try:
                active = int(await asyncio.wait_for(self.active_sessions(), self.source_timeout_s))
            except Exception:
                errors.append("active_sessions")
        families: list[Family] = []
        for source in self.sources.items():
            try:
                families.append(source.sample())
            except Exception:
                errors.append(source.name)
        self._errors_total += len(errors)
        now = time.monotonic()
        snapshot = MonitorSnapshot(
            seq=previous.seq + 1,
            taken_at=time.time(),
            taken_monotonic=now,
            interval_s=self.interval_s,
            loop_lag_s=lag_s,
            loop_lag_max_s=self._lag_max.add(lag_s, now),
            cpu_percent=process.cpu_percent if process else previous.cpu_percent,
            rss_bytes=process.rss_bytes if process else previous.rss_bytes,
            open_fds=process.open_fds if process else previous.open_fds,
            threads=process.threads if process else previous.threads,
            active_sessions=active,
            families=tuple(families),
            errors=tuple(errors),
            errors_total=self._errors_total,
        )
        self.latest = snapshot  # the single reference swap readers observe
        return snapshot
