"""The log pipeline: never blocks the caller, drops and counts when full, flushes on close, carries request ids."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from loguru import logger

from web.logs import LogPipeline, recent_records, request_id_var, setup_logging, user_id_var
from web.settings import Settings

Setup = Callable[..., LogPipeline]


@pytest.fixture
def logs() -> Iterator[Setup]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    pipelines: list[LogPipeline] = []

    def setup(writer: Callable[[str], None], ring_size: int = 5000, **overrides: Any) -> LogPipeline:
        values: dict[str, Any] = {"app_env": "test", "log_json": True, **overrides}
        pipeline = setup_logging(Settings(**values), writer=writer, ring_size=ring_size)
        pipelines.append(pipeline)
        return pipeline

    yield setup
    for pipeline in pipelines:
        pipeline.close(1.0)
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def test_full_queue_drops_and_counts_without_blocking(logs: Setup) -> None:
    release = threading.Event()
    written: list[str] = []

    def stuck_writer(line: str) -> None:
        release.wait(10)  # a log shipper that has stopped reading
        written.append(line)

    pipeline = logs(stuck_writer, log_queue_size=50)
    slowest = 0.0
    for i in range(500):
        started = time.perf_counter()
        logger.info("record {}", i)
        slowest = max(slowest, time.perf_counter() - started)
    stats = pipeline.stats()
    # A call that waited for the stuck writer would wait the full 10 s; the margin absorbs CPU contention.
    assert slowest < 1.0, f"a logging call waited {slowest * 1000:.0f} ms"
    assert stats.depth == 50
    # 500 records: at most one taken by the stuck writer, 50 queued, the rest dropped and counted.
    assert 449 <= pipeline.dropped <= 450
    release.set()
    assert pipeline.close(5.0)
    assert len(written) + pipeline.dropped == 500


def test_close_flushes_everything_queued(logs: Setup) -> None:
    written: list[str] = []
    pipeline = logs(written.append)
    for i in range(1000):
        logger.info("r{}", i)
    assert pipeline.close(5.0) is True
    assert len(written) == 1000
    assert json.loads(written[-1])["message"] == "r999"
    assert pipeline.stats().writer_alive is False


def test_close_gives_up_after_timeout_on_a_stuck_writer(logs: Setup) -> None:
    gate = threading.Event()
    pipeline = logs(lambda line: gate.wait(30))
    logger.info("one")
    logger.info("two")
    started = time.monotonic()
    assert pipeline.close(0.3) is False
    assert time.monotonic() - started < 2.0
    gate.set()


def test_writer_that_logs_does_not_loop_or_deadlock(logs: Setup) -> None:
    written: list[str] = []
    done = threading.Event()

    def chatty_writer(line: str) -> None:
        logger.warning("writer saw a line")  # reentrant logging (G5): must be contained
        written.append(line)
        done.set()

    pipeline = logs(chatty_writer)
    logger.info("hello")
    assert done.wait(5.0)
    assert pipeline.close(5.0)
    assert len(written) == 1
    assert pipeline.reentrant_dropped == 1


def test_failing_writer_is_counted_and_the_thread_survives(logs: Setup) -> None:
    calls: list[str] = []

    def flaky(line: str) -> None:
        calls.append(line)
        if len(calls) == 1:
            raise OSError("disk full")

    pipeline = logs(flaky)
    logger.info("first")
    logger.info("second")
    assert pipeline.close(5.0)
    assert len(calls) == 2
    assert pipeline.stats().write_errors == 1


def test_records_carry_request_and_user_ids(logs: Setup) -> None:
    written: list[str] = []
    pipeline = logs(written.append)
    token = request_id_var.set("req-abc12345")
    user = user_id_var.set("42")
    try:
        logger.info("inside a request")
        logging.getLogger("uvicorn.error").warning("from a library")
    finally:
        request_id_var.reset(token)
        user_id_var.reset(user)
    logger.info("outside")
    assert pipeline.close(5.0)
    first, second, third = (json.loads(line) for line in written)
    assert first["request_id"] == second["request_id"] == "req-abc12345"
    assert first["user_id"] == "42"
    assert second["logger"] == "uvicorn.error" and second["level"] == "WARNING"
    assert third["request_id"] is None
    assert first["time"].endswith("Z")
    datetime.strptime(first["time"], "%Y-%m-%dT%H:%M:%S.%fZ")


def test_json_in_production_and_human_lines_in_development(logs: Setup) -> None:
    prod: list[str] = []
    pipeline = logs(prod.append, app_env="production", secret_key="k" * 40, log_json=False)
    logger.info("hello")
    pipeline.close(5.0)
    assert json.loads(prod[0])["message"] == "hello"

    dev: list[str] = []
    pipeline = logs(dev.append, app_env="development", log_json=False)
    logger.bind(call_id="c1").info("hello")
    pipeline.close(5.0)
    assert " | INFO     | - | " in dev[0] and 'call_id="c1"' in dev[0]
    with pytest.raises(json.JSONDecodeError):
        json.loads(dev[0])


def test_log_level_filters_and_invalid_level_is_rejected(logs: Setup) -> None:
    written: list[str] = []
    pipeline = logs(written.append, log_level="WARNING")
    logger.info("hidden")
    logging.getLogger("uvicorn.error").info("hidden too")
    logger.warning("shown")
    pipeline.close(5.0)
    assert [json.loads(line)["message"] for line in written] == ["shown"]
    with pytest.raises(ValueError, match="LOG_LEVEL"):
        setup_logging(Settings(log_level="LOUD"), writer=written.append)


def test_setting_up_twice_replaces_the_previous_pipeline(logs: Setup) -> None:
    first: list[str] = []
    second: list[str] = []
    one = logs(first.append)
    two = logs(second.append)
    logger.info("only once")
    two.close(5.0)
    assert one.stats().writer_alive is False
    assert len(first) == 0 and len(second) == 1


def test_ring_keeps_recent_redacted_records_and_filters(logs: Setup) -> None:
    pipeline = logs(lambda line: None, ring_size=100)
    before = datetime.now(UTC) - timedelta(seconds=1)
    for i in range(150):
        logger.bind(user_id="7" if i % 2 else "8").info("event {} password=s3cret", i)
    after = datetime.now(UTC) + timedelta(seconds=1)
    everything = recent_records(since=before, until=after)
    assert len(everything) == 100  # bounded
    assert everything[0]["message"].startswith("event 50 ")
    assert all("s3cret" not in r["message"] for r in everything)
    mine = recent_records(since=before, until=after, user_id="7")
    assert len(mine) == 50 and all(r["user_id"] == "7" for r in mine)
    assert recent_records(since=after) == []
    assert recent_records(until=before) == []
    assert pipeline.recent_records(limit=5)[-1]["message"].startswith("event 149 ")


def test_stdlib_routing_keeps_capture_handlers_and_drops_blocking_console_ones(logs: Setup) -> None:
    root = logging.getLogger()
    console = logging.StreamHandler(sys.stderr)  # synchronous: would block on a stalled stderr
    capture = logging.StreamHandler(io.StringIO())  # like pytest's caplog: must keep working
    root.addHandler(console)
    root.addHandler(capture)
    written: list[str] = []
    pipeline = logs(written.append)
    assert console not in root.handlers and capture in root.handlers
    logging.getLogger("aiortc.rtcpeerconnection").warning("ice failed")
    pipeline.close(5.0)
    assert "ice failed" in capture.stream.getvalue()
    assert [json.loads(line)["logger"] for line in written] == ["aiortc.rtcpeerconnection"]
