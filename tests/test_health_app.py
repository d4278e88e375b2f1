"""Health, readiness, metrics and request ids on the wired app (create_app + lifespan, httpx over ASGI)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from loguru import logger

from tests.test_monitor_prometheus import parse_exposition

REQUIRED_FAMILIES = (
    "http_requests_total",
    "http_request_duration_seconds",
    "event_loop_lag_seconds",
    "log_records_dropped_total",
    "login_failures_total",
    "active_sessions",
    "process_cpu_percent",
    "process_resident_memory_bytes",
)


@pytest.fixture
def records() -> Iterator[list[dict[str, Any]]]:
    captured: list[dict[str, Any]] = []
    handler = logger.add(lambda message: captured.append(dict(message.record)), level="DEBUG")
    yield captured
    logger.remove(handler)


async def test_health_is_exactly_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_reports_every_dependency(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    body = response.json()
    assert response.status_code == 200, body
    assert set(body["checks"]) == {"database", "event_loop", "log_queue", "realtime", "calls"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["realtime"]["mode"] == "echo"


async def test_metrics_expose_every_required_family(client: httpx.AsyncClient) -> None:
    await client.get("/login")
    await client.get("/no-such-page-123")
    response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = parse_exposition(response.text)
    missing = [name for name in REQUIRED_FAMILIES if name not in families]
    assert not missing, missing
    routes = {labels["route"] for _, labels, _ in families["http_requests_total"].samples}
    assert {"/login", "unmatched"} <= routes
    assert not any("no-such-page" in route for route in routes)


async def test_every_response_has_a_request_id_and_it_tags_the_logs(
    client: httpx.AsyncClient, records: list[dict[str, Any]]
) -> None:
    for path in ("/health", "/login", "/no-such-page"):
        response = await client.get(path)
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"]), path
    rid = response.headers["x-request-id"]
    tagged = [r for r in records if r["extra"].get("request_id") == rid]
    assert any(r["extra"].get("logger") == "access" and r["extra"].get("status") == 404 for r in tagged)


async def test_rejected_host_still_gets_a_request_id_and_is_counted(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert "x-request-id" in response.headers
    metrics = (await client.get("/metrics")).text
    assert 'http_requests_total{method="GET",route="/health",status="400"} 1' in metrics
