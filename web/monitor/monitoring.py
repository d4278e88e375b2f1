"""`Monitoring`: the facade the app holds (`app.state.monitoring`). It owns the registry, the collector task, the
heartbeat task and the watchdog thread, and renders `/metrics`.

Direction of calls: facade → collector (start, read `latest`); never the reverse.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import signal
from typing import Protocol

from loguru import logger

from web.monitor.collector import ActiveSessionsFn, Collector, ProcessSampleFn
from web.monitor.exposition import render, snapshot_families
from web.monitor.families import Kind
from web.monitor.http_metrics import HttpMetrics
from web.monitor.metrics import MetricsRegistry
from web.monitor.process import ProcessSampler
from web.monitor.snapshot import MonitorSnapshot
from web.monitor.sources import CallbackSource, SourceFn, SourceList
from web.monitor.watchdog import Heartbeat, StallHandler, Watchdog, die_with_stacks
from web.settings import Settings

LOGIN_FAILURE_REASONS = frozenset({"invalid_credentials", "throttled", "disabled", "csrf", "other"})


class _LogStats(Protocol):
    @property
    def depth(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    @property
    def dropped(self) -> int: ...


class LogStatsSource(Protocol):
    """What Monitoring needs from web.logs.LogPipeline (kept structural so the two packages stay independent)."""

    def stats(self) -> _LogStats: ...


class Monitoring:
    def __init__(
        self,
        settings: Settings,
        *,
        active_sessions: ActiveSessionsFn | None = None,
        log_pipeline: LogStatsSource | None = None,
        process_sampler: ProcessSampleFn | None = None,
        on_stall: StallHandler = die_with_stacks,
    ) -> None:
        self.settings = settings
        self.registry = MetricsRegistry()
        self.http = HttpMetrics(self.registry)
        self.login_failures = self.registry.counter(
            "login_failures_total", "Failed sign-in attempts by reason.", ("reason",)
        )
        self.sources = SourceList()
        self.collector = Collector(
            interval_s=settings.monitor_interval_s,
            sources=self.sources,
            active_sessions=active_sessions,
            process_sampler=process_sampler or ProcessSampler(),
        )
        self.heartbeat = Heartbeat(period_s=min(1.0, max(0.05, settings.watchdog_timeout_s / 4)))
        self.watchdog = (
            Watchdog(self.heartbeat, settings.watchdog_timeout_s, on_stall=on_stall)
            if settings.watchdog_timeout_s > 0
            else None  # WATCHDOG_TIMEOUT_S=0 disables it (e.g. while stepping through code in a debugger)
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._signal_registered = False
        if log_pipeline is not None:
            self.attach_log_pipeline(log_pipeline)

    # -- registration (start-up only) ---------------------------------------------------------------------------
    def register_gauge(
        self, name: str, help: str, fn: SourceFn, *, labels: tuple[str, ...] = (), kind: Kind = "gauge"
    ) -> None:
        """Add a metric sampled by the collector each tick. `fn` is sync, cheap and non-blocking; it returns a
        number, or {label value(s): number}. Use kind="counter" for monotonically increasing totals."""
        if name in self.registry.names():
            raise ValueError(f"metric {name!r} is already a request-path metric")
        self.sources.add(CallbackSource(name=name, help=help, fn=fn, labelnames=labels, kind=kind))

    def attach_log_pipeline(self, pipeline: LogStatsSource) -> None:
        for name in ("log_records_dropped_total", "log_queue_depth", "log_queue_capacity"):
            self.sources.remove(name)
        self.register_gauge(
            "log_records_dropped_total",
            "Log records dropped because the log queue was full.",
            lambda: pipeline.stats().dropped,
            kind="counter",
        )
        self.register_gauge(
            "log_queue_depth", "Log records waiting for the writer thread.", lambda: pipeline.stats().depth
        )
        self.register_gauge("log_queue_capacity", "Size of the bounded log queue.", lambda: pipeline.stats().capacity)

    # -- request path -------------------------------------------------------------------------------------------
    def record_login_failure(self, reason: str = "invalid_credentials") -> None:
        self.login_failures.inc(reason if reason in LOGIN_FAILURE_REASONS else "other")

    # -- readers ------------------------------------------------------------------------------------------------
    def snapshot(self) -> MonitorSnapshot:
        return self.collector.latest

    def render_prometheus(self) -> str:
        return render([*self.registry.collect(), *snapshot_families(self.collector.latest)])

    @property
    def running(self) -> bool:
        return any(not task.done() for task in self._tasks)

    # -- lifespan -----------------------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._tasks:
            return
        await self.collector.tick(0.0)  # publish a first snapshot before anyone asks /health/ready
        self._tasks = [
            asyncio.create_task(self._supervised(self.collector.run, "collector"), name="monitor-collector"),
            asyncio.create_task(self._supervised(self.heartbeat.run, "heartbeat"), name="monitor-heartbeat"),
        ]
        if self.watchdog is not None:
            self.watchdog.start()
        self._register_stack_dump_signal()

    async def stop(self) -> None:
        if self.watchdog is not None:
            self.watchdog.stop()  # first: a slow shutdown must not look like a stalled loop
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        if self._signal_registered:
            with contextlib.suppress(Exception):
                faulthandler.unregister(signal.SIGUSR1)
            self._signal_registered = False

    async def _supervised(self, run: _Runner, what: str) -> None:
        # A bug in one tick must not silently end monitoring: log it and restart after a pause.
        while True:
            try:
                await run()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("monitor {} crashed; restarting in 1 s", what)
                await asyncio.sleep(1.0)

    def _register_stack_dump_signal(self) -> None:
        # `kill -USR1 <pid>` dumps every thread's stack to stderr without stopping the process (hang diagnosis).
        if hasattr(signal, "SIGUSR1"):
            with contextlib.suppress(Exception):
                faulthandler.register(signal.SIGUSR1, file=2, all_threads=True, chain=False)
                self._signal_registered = True


class _Runner(Protocol):
    async def __call__(self) -> None: ...
