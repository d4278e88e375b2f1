"""Request-path metrics: exact totals under heavy concurrency (tasks and threads), bounded label cardinality."""

from __future__ import annotations

import asyncio
import random
import threading

import pytest

from web.monitor.http_metrics import HttpMetrics
from web.monitor.metrics import MAX_SERIES, MetricsRegistry

ROUTES = ("/health", "/metrics", "/login", "/v1/realtime/calls/{call_id}", "unmatched")


async def test_ten_thousand_concurrent_records_give_stable_totals() -> None:
    http = HttpMetrics(MetricsRegistry())
    rng = random.Random(1)
    plan = [
        (rng.choice(ROUTES), rng.choice((200, 404, 500)), rng.choice((0.001, 0.02, 0.5, 3.0))) for _ in range(10_000)
    ]

    async def one(route: str, status: int, seconds: float) -> None:
        await asyncio.sleep(0)  # interleave the tasks
        http.observe("GET", route, status, seconds)

    reads: list[float] = []

    async def reader() -> None:
        for _ in range(50):  # readers run alongside the writers and never raise
            reads.append(sum(http.requests.values().values()))
            await asyncio.sleep(0)

    await asyncio.gather(reader(), *(one(*p) for p in plan))
    assert sum(http.requests.values().values()) == 10_000
    for route in ROUTES:
        for status in (200, 404, 500):
            expected = sum(1 for r, s, _ in plan if r == route and s == status)
            assert http.requests.value("GET", route, str(status)) == expected
        assert http.latency.count("GET", route) == sum(1 for r, _, _ in plan if r == route)
    total_seconds = sum(rows[-1] for rows in http.latency.rows().values())
    assert total_seconds == pytest.approx(sum(p[2] for p in plan))
    assert reads == sorted(reads)  # totals only ever grow


def test_threads_never_lose_updates() -> None:
    """No lock, yet no lost increments: each thread writes only its own shard."""
    reg = MetricsRegistry()
    counter = reg.counter("events_total", "Events.", ("kind",))
    hist = reg.histogram("sizes", "Sizes.", (), buckets=(1.0, 10.0))
    per_thread, threads = 20_000, 8
    start = threading.Barrier(threads + 1)
    stop_reading = threading.Event()
    read_errors: list[BaseException] = []

    def work() -> None:
        start.wait()
        for i in range(per_thread):
            counter.inc("a" if i % 2 else "b")
            hist.observe(0.5)

    def read() -> None:
        while not stop_reading.is_set():
            try:
                counter.values()
                hist.collect()
            except BaseException as exc:  # pragma: no cover - the assertion below reports it
                read_errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    reader = threading.Thread(target=read)
    for t in (*workers, reader):
        t.start()
    start.wait()
    for t in workers:
        t.join()
    stop_reading.set()
    reader.join()
    assert not read_errors
    assert counter.value("a") + counter.value("b") == per_thread * threads
    assert counter.value("a") == counter.value("b") == per_thread * threads / 2
    assert hist.count() == per_thread * threads


def test_label_cardinality_is_bounded() -> None:
    http = HttpMetrics(MetricsRegistry())
    for i in range(MAX_SERIES + 500):
        http.observe("GET", f"/route-{i}", 200, 0.01)
    values = http.requests.values()
    assert len(values) <= MAX_SERIES + 1
    assert values[("other", "other", "other")] == 500
    assert http.requests.value("GET", "/route-0", "200") == 1  # existing series keep counting
    http.observe("GET", "/route-0", 200, 0.01)
    assert http.requests.value("GET", "/route-0", "200") == 2

    fresh = HttpMetrics(MetricsRegistry())
    fresh.observe("BREW", "/x", 418, 0.01)
    assert fresh.requests.value("OTHER", "/x", "418") == 1  # unknown methods fold into OTHER


def test_registry_validates_names_and_labels() -> None:
    reg = MetricsRegistry()
    counter = reg.counter("ok_total", "x", ("a",))
    assert reg.counter("ok_total", "x", ("a",)) is counter  # idempotent re-registration
    with pytest.raises(ValueError):
        reg.gauge("ok_total", "x", ("a",))  # same name, another type
    with pytest.raises(ValueError):
        reg.counter("bad-name", "x")
    with pytest.raises(ValueError):
        reg.counter("c_total", "x", ("le",))
    with pytest.raises(ValueError):
        counter.inc()  # missing label value
    with pytest.raises(ValueError):
        counter.inc("x", amount=-1)
