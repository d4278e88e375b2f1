"""/health, /health/ready and /metrics against fake dependencies (the wired app is covered in test_health_app.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.test_monitor_prometheus import parse_exposition
from web.logs import LogPipeline
from web.monitor import Monitoring
from web.routes import health
from web.services import build_services
from web.settings import Settings


class FakeDb:
    kind = "sqlite"

    def __init__(self, behaviour: str = "ok") -> None:
        self.behaviour = behaviour

    async def ping(self, timeout: float = 2.0) -> bool:
        if self.behaviour == "hang":
            await asyncio.sleep(3600)
        if self.behaviour == "error":
            raise ConnectionError("connection refused by 10.0.0.5")
        return True


Build = Callable[..., Any]


@pytest.fixture
async def make_client() -> AsyncIterator[Build]:
    started: list[Monitoring] = []
    pipelines: list[LogPipeline] = []
    clients: list[httpx.AsyncClient] = []

    async def build(
        db: FakeDb | None = None, start_monitoring: bool = True, writer_alive: bool = True, **settings: Any
    ) -> httpx.AsyncClient:
        values: dict[str, Any] = {"monitor_interval_s": 0.02, "watchdog_timeout_s": 0, "realtime_upstream": "echo"}
        cfg = Settings(**{**values, **settings})
        app = Starlette(routes=health.routes)
        pipeline = LogPipeline(capacity=100, writer=lambda line: None, json_lines=True)
        if writer_alive:
            pipeline.start()
        pipelines.append(pipeline)
        monitoring = Monitoring(cfg, log_pipeline=pipeline)
        if start_monitoring:
            await monitoring.start()
            started.append(monitoring)
            assert monitoring.snapshot().seq >= 1  # start() publishes the first snapshot
        app.state.settings = cfg
        app.state.services = build_services(cfg)  # readiness reads the calls' drain state
        app.state.db = db or FakeDb()
        app.state.monitoring = monitoring
        app.state.log_pipeline = pipeline
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        clients.append(client)
        return client

    yield build
    for client in clients:
        await client.aclose()
    for monitoring in started:
        await monitoring.stop()
    for pipeline in pipelines:
        pipeline.close(1.0)


async def test_health_is_exactly_status_ok(make_client: Build) -> None:
    client = await make_client(start_monitoring=False, db=FakeDb("hang"))  # liveness needs no dependency
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["cache-control"] == "no-store"


async def test_ready_when_everything_is_fine(make_client: Build) -> None:
    client = await make_client()
    response = await client.get("/health/ready")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "event_loop", "log_queue", "realtime", "calls"}
    assert body["checks"]["calls"]["draining"] is False
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["log_queue"] == {"ok": True, "depth": 0, "capacity": 100, "dropped": 0, "state": "ok"}
    assert body["checks"]["realtime"]["mode"] == "echo"


async def test_database_timeout_fails_readiness_within_the_deadline(make_client: Build) -> None:
    client = await make_client(db=FakeDb("hang"))
    started = time.monotonic()
    response = await client.get("/health/ready")
    assert 1.9 < time.monotonic() - started < 3.0
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"ok": False, "error": "timeout", "timeout_s": 2.0}


async def test_database_error_fails_readiness_without_leaking_details(make_client: Build) -> None:
    client = await make_client(db=FakeDb("error"))
    response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"ok": False, "error": "ConnectionError"}
    assert "10.0.0.5" not in response.text


async def test_no_monitor_snapshot_fails_readiness(make_client: Build) -> None:
    client = await make_client(start_monitoring=False)
    response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["event_loop"]["ok"] is False


async def test_dead_log_writer_fails_readiness(make_client: Build) -> None:
    client = await make_client(writer_alive=False)
    response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["log_queue"]["error"] == "log writer thread is not running"


async def test_unconfigured_realtime_upstream_fails_readiness(make_client: Build) -> None:
    client = await make_client(realtime_upstream="openai", openai_api_key="")
    response = await client.get("/health/ready")
    check = response.json()["checks"]["realtime"]
    assert response.status_code == 503
    assert check["mode"] == "openai" and check["ok"] is False
    assert "OPENAI_API_KEY" in check["upstream"]["problem"]


async def test_metrics_endpoint_serves_valid_exposition(make_client: Build) -> None:
    client = await make_client()
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = parse_exposition(response.text)
    for name in (
        "event_loop_lag_seconds",
        "process_cpu_percent",
        "process_resident_memory_bytes",
        "log_records_dropped_total",
        "http_requests_total",
        "http_request_duration_seconds",
    ):
        assert name in families, name
