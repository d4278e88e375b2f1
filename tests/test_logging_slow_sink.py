"""G1: a log destination that takes 1 s per record must not slow requests down.

The real app runs under uvicorn in a subprocess, started through a tiny launcher that only changes where log lines
go: our pipeline with a 1 s-per-record writer (must pass), or loguru's own synchronous / `enqueue=True` sink with
the same 1 s delay (guards: must fail the same latency criterion, which proves the test can fail).

Load comes from a minimal keep-alive HTTP/1.1 client on raw sockets: httpx costs several ms of CPU per request on
a 2-core machine, and its own queueing would dominate a 100 ms p99 (see test_hang_regression.py).
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.test_hang_regression import Server, fetch, start_server

LAUNCHER = textwrap.dedent(
    """
    import sys, time

    mode = sys.argv[1]

    def slow_writer(line):
        time.sleep(1.0)  # a log destination that needs 1 s per record
        sys.stderr.write(line)
        sys.stderr.flush()

    import web.logs.setup as log_setup

    if mode == "pipeline":
        log_setup.stderr_writer = slow_writer  # the default writer setup_logging() uses
    else:
        from loguru import logger
        import web.app
        real_setup = log_setup.setup_logging

        def setup_with_loguru_sink(settings, writer=None, **kwargs):
            pipeline = real_setup(settings, writer=writer, **kwargs)
            logger.remove(pipeline.handler_id)  # swap our non-blocking sink for loguru's own, same 1 s delay
            pipeline.handler_id = logger.add(
                lambda message: slow_writer(str(message)), level=settings.log_level, enqueue=(mode == "enqueue")
            )
            return pipeline

        assert web.app.setup_logging is real_setup, "web.app must call web.logs.setup_logging"
        web.app.setup_logging = setup_with_loguru_sink

    from web.cli import main

    sys.exit(main(["serve", *sys.argv[2:]]))
    """
)


# A request that times out or whose connection breaks counts as failed (an infinite latency).
_FAILURES = (TimeoutError, OSError, asyncio.IncompleteReadError)


@dataclass
class RawReport:
    latencies: list[float] = field(default_factory=list)
    timeouts: int = 0  # timed out or connection broken

    def p99(self) -> float:
        ordered = sorted(self.latencies + [float("inf")] * self.timeouts)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def _get(port: int, path: str, timeout: float, conn: list[asyncio.StreamWriter | asyncio.StreamReader]) -> None:
    if not conn:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        conn.extend([reader, writer])
    reader, writer = conn  # type: ignore[assignment]
    assert isinstance(reader, asyncio.StreamReader) and isinstance(writer, asyncio.StreamWriter)

    async def exchange() -> None:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head[:100]
        length = next(int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:"))
        await reader.readexactly(length)

    await asyncio.wait_for(exchange(), timeout)


async def raw_load(port: int, path: str, total: int, concurrency: int, timeout: float = 3.0) -> RawReport:
    """`total` GETs over `concurrency` keep-alive connections. Each connection is opened and used once before the
    clock starts, so the figures are request latency, not TCP set-up."""
    report = RawReport()
    remaining = total
    warmed = asyncio.Barrier(concurrency)

    async def connection() -> None:
        nonlocal remaining
        conn: list[asyncio.StreamWriter | asyncio.StreamReader] = []
        try:
            await _get(port, path, timeout, conn)
        except _FAILURES:
            conn = []
        await warmed.wait()
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            try:
                await _get(port, path, timeout, conn)
            except _FAILURES:
                report.timeouts += 1
                if conn:
                    conn[1].close()  # type: ignore[union-attr]
                conn = []
                continue
            report.latencies.append(time.perf_counter() - started)
        if conn:
            conn[1].close()  # type: ignore[union-attr]

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return report


async def probe_health(port: int, stop: asyncio.Event) -> list[float]:
    """A monitoring probe on its own connection: GET /health every 50 ms while the load runs."""
    latencies: list[float] = []
    conn: list[asyncio.StreamWriter | asyncio.StreamReader] = []
    while not stop.is_set():
        started = time.perf_counter()
        try:
            await _get(port, "/health", 3.0, conn)
            latencies.append(time.perf_counter() - started)
        except _FAILURES:
            latencies.append(float("inf"))
            conn = []
        await asyncio.sleep(0.05)
    return latencies


def _launch(tmp_path: Path, mode: str, **env: str) -> Server:
    launcher = tmp_path / "launch.py"
    launcher.write_text(LAUNCHER, encoding="utf-8")
    settings_env = {"LOG_LEVEL": "DEBUG", "MONITOR_INTERVAL_S": "0.1", **env}  # DEBUG: /health logs too
    return start_server(tmp_path, [sys.executable, str(launcher), mode], None, **settings_env)


def _metric(text: str, name: str) -> float:
    return float(next(line.split()[1] for line in text.splitlines() if line.startswith(name + " ")))


P99_LIMIT_S = 0.100
ATTEMPTS = 3


async def measure(port: int, total: int, timeout: float) -> list[tuple[RawReport, list[float]]]:
    """Up to ATTEMPTS runs of `total` requests at 50-way concurrency, with the /health probe alongside; stops at
    the first run that meets the criterion. Noise from other processes on a shared 2-core machine only ever adds
    latency, so the best run is the honest estimate; a sink that blocks the loop fails every run."""
    runs: list[tuple[RawReport, list[float]]] = []
    for _ in range(ATTEMPTS):
        stop = asyncio.Event()
        probe = asyncio.create_task(probe_health(port, stop))
        report = await raw_load(port, "/health", total=total, concurrency=50, timeout=timeout)
        stop.set()
        runs.append((report, await probe))
        if _passes(report, runs[-1][1], total):
            break
    return runs


def _passes(report: RawReport, probes: list[float], total: int) -> bool:
    responsive = bool(probes) and max(probes) < 0.5  # /health stayed responsive throughout
    return report.timeouts == 0 and len(report.latencies) == total and report.p99() < P99_LIMIT_S and responsive


def _summary(runs: list[tuple[RawReport, list[float]]]) -> str:
    return "; ".join(
        f"p99 {r.p99() * 1000:.1f} ms, timeouts {r.timeouts}, probe max {max(p, default=0) * 1000:.1f} ms"
        for r, p in runs
    )


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_slow_log_sink_does_not_slow_requests(tmp_path: Path) -> None:
    server = _launch(tmp_path, "pipeline", LOG_QUEUE_SIZE="100")
    try:
        runs = await measure(server.port, total=500, timeout=3.0)
        await asyncio.sleep(0.3)  # one collector tick
        metrics = (await fetch(f"{server.base_url}/metrics")).text
    finally:
        server.stop()
    print(_summary(runs))
    assert _passes(*runs[-1], total=500), _summary(runs)
    dropped = _metric(metrics, "log_records_dropped_total")
    assert dropped > 0, "the slow writer should have forced drops"
    # ≥ 500 access records of a few hundred bytes each: well over the 64 KiB that fills an OS pipe.
    assert dropped + _metric(metrics, "log_queue_depth") > 300


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("mode", ["sync", "enqueue"])
async def test_guard_loguru_sinks_fail_the_same_criterion(tmp_path: Path, mode: str) -> None:
    """Guard on the test above: with loguru's synchronous sink, or with `enqueue=True` (which blocks once its pipe
    is full, reliability.md §0.4), the same measurement fails in every attempt. Fewer requests keep it quick."""
    server = _launch(tmp_path, mode)
    try:
        runs = await measure(server.port, total=100, timeout=2.0)
    finally:
        server.proc.kill()
        server.proc.wait(timeout=10)
    print(f"{mode}: {_summary(runs)}")
    assert len(runs) == ATTEMPTS and not any(_passes(r, p, 100) for r, p in runs), _summary(runs)
