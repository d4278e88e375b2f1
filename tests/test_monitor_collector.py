"""The collector: one writer, immutable snapshots swapped by reference, faults in sources contained."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from web.logs import LogStats
from web.monitor import Monitoring, MonitorSnapshot
from web.monitor.collector import Collector
from web.monitor.process import ProcessSample, ProcessSampler
from web.monitor.sources import CallbackSource, SourceList
from web.settings import Settings


def _settings(**overrides: float) -> Settings:
    values = {"monitor_interval_s": 0.01, "watchdog_timeout_s": 0.0, **overrides}
    return Settings(**values)  # type: ignore[arg-type]


async def _wait_for_seq(monitoring: Monitoring, seq: int, timeout: float = 5.0) -> MonitorSnapshot:
    deadline = time.monotonic() + timeout
    while monitoring.snapshot().seq < seq:
        assert time.monotonic() < deadline, "collector did not publish in time"
        await asyncio.sleep(0.005)
    return monitoring.snapshot()


def test_snapshot_is_frozen() -> None:
    snap = MonitorSnapshot(seq=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.loop_lag_s = 5.0  # type: ignore[misc]
    assert isinstance(snap.families, tuple) and isinstance(snap.errors, tuple)


async def test_collector_publishes_new_snapshots_and_never_mutates_old_ones() -> None:
    calls = 0

    async def sessions() -> int:
        return 7

    def voice_calls() -> dict[str, float]:
        nonlocal calls
        calls += 1
        return {"echo": calls}

    monitoring = Monitoring(_settings(), active_sessions=sessions)
    monitoring.register_gauge("voice_calls_active", "Calls.", voice_calls, labels=("mode",))
    await monitoring.start()
    try:
        first = await _wait_for_seq(monitoring, 2)
        frozen_copy = dataclasses.replace(first)
        second = await _wait_for_seq(monitoring, first.seq + 3)
    finally:
        await monitoring.stop()
    assert second is not first and second.seq > first.seq
    assert first == frozen_copy  # the published object never changed after it was published
    assert second.active_sessions == 7
    assert second.rss_bytes and second.rss_bytes > 10_000_000
    assert second.threads and second.threads >= 1
    family = {f.name: f for f in second.families}["voice_calls_active"]
    assert family.samples[0].labels == (("mode", "echo"),)
    assert not monitoring.running


async def test_failing_and_hanging_sources_are_contained() -> None:
    async def hangs() -> int:
        await asyncio.sleep(3600)
        return 0

    def broken() -> float:
        raise RuntimeError("source bug")

    collector = Collector(
        interval_s=0.01, sources=SourceList(), active_sessions=hangs, source_timeout_s=0.05, process_every_s=0.0
    )
    collector.sources.add(CallbackSource(name="broken_gauge", help="x", fn=broken))
    started = time.monotonic()
    snap = await collector.tick(0.0)
    assert time.monotonic() - started < 1.0  # a hanging source costs its timeout, not a stuck collector
    assert set(snap.errors) == {"active_sessions", "broken_gauge"}
    assert snap.errors_total == 2 and snap.seq == 1
    snap = await collector.tick(0.0)
    assert snap.errors_total == 4 and snap.seq == 2


async def test_slow_sources_are_sampled_at_most_once_per_period() -> None:
    calls = 0

    async def sessions() -> int:
        nonlocal calls
        calls += 1
        return calls

    collector = Collector(interval_s=0.01, sources=SourceList(), active_sessions=sessions, process_every_s=60.0)
    for _ in range(5):
        snap = await collector.tick(0.0)
    assert calls == 1 and snap.active_sessions == 1 and snap.seq == 5  # a DB count is not run 100x/s


async def test_event_loop_lag_is_measured() -> None:
    """C5: a handler that blocks the loop for 0.6 s shows up as lag > 400 ms."""
    monitoring = Monitoring(_settings(monitor_interval_s=0.05))
    await monitoring.start()
    try:
        before = await _wait_for_seq(monitoring, 2)
        assert before.loop_lag_s < 0.4
        time.sleep(0.6)  # noqa: ASYNC251 - deliberately blocking the loop
        after = await _wait_for_seq(monitoring, before.seq + 2)
    finally:
        await monitoring.stop()
    assert after.loop_lag_max_s > 0.4
    exposed = [line for line in monitoring.render_prometheus().splitlines() if line.startswith("event_loop_lag_max")]
    assert float(exposed[0].split()[1]) > 0.4


def test_process_sampler_reports_cpu_without_blocking() -> None:
    sampler = ProcessSampler()
    started = time.perf_counter()
    sample = sampler()
    assert time.perf_counter() - started < 0.5  # interval=None: no sleep inside
    assert isinstance(sample, ProcessSample) and sample.cpu_percent >= 0 and sample.rss_bytes > 0


async def test_monitoring_facade_renders_all_required_metrics() -> None:
    class FakePipeline:
        def stats(self) -> LogStats:
            return LogStats(depth=3, capacity=10, dropped=12, written=0, write_errors=0, writer_alive=True)

    async def sessions() -> int:
        return 2

    monitoring = Monitoring(_settings(), active_sessions=sessions, log_pipeline=FakePipeline())
    monitoring.http.observe("GET", "/login", 200, 0.01)
    monitoring.record_login_failure("invalid_credentials")
    monitoring.record_login_failure("<script>")  # unknown reasons fold into "other"
    await monitoring.start()
    try:
        await _wait_for_seq(monitoring, 2)
    finally:
        await monitoring.stop()
    text = monitoring.render_prometheus()
    for name in (
        'http_requests_total{method="GET",route="/login",status="200"} 1',
        'http_request_duration_seconds_bucket{method="GET",route="/login",le="0.01"} 1',
        "event_loop_lag_seconds ",
        "process_cpu_percent ",
        "process_resident_memory_bytes ",
        "active_sessions 2",
        "log_records_dropped_total 12",
        "log_queue_depth 3",
        'login_failures_total{reason="invalid_credentials"} 1',
        'login_failures_total{reason="other"} 1',
    ):
        assert name in text, name
    with pytest.raises(ValueError):
        monitoring.register_gauge("http_requests_total", "clash", lambda: 1.0)
