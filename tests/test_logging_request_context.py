"""The request-context middleware: request ids, per-route metrics, one safe access record per request."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from loguru import logger
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, Router, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from web.logs import LogPipeline, request_id_var, setup_logging
from web.middleware.request_context import RequestContextMiddleware
from web.monitor import Monitoring
from web.settings import Settings


async def item(request: Request) -> Response:
    logger.info("looking up item {}", request.path_params["item_id"])
    return JSONResponse({"request_id": request_id_var.get(), "state": request.state.request_id})


async def boom(request: Request) -> Response:
    raise RuntimeError("handler bug")


async def plain(request: Request) -> Response:
    return PlainTextResponse("ok")


async def echo_ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(request_id_var.get() or "")
    await websocket.close()


@pytest.fixture
def pipeline() -> Iterator[tuple[LogPipeline, list[str]]]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    lines: list[str] = []
    pipe = setup_logging(Settings(app_env="test", log_json=True, log_level="DEBUG"), writer=lines.append)
    yield pipe, lines
    pipe.close(1.0)
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def build_app(monitoring: Monitoring, explicit_metrics: bool = True) -> Starlette:
    nested = Router(routes=[Route("/calls/{call_id}", plain)])
    app = Starlette(
        routes=[
            Route("/items/{item_id}", item, methods=["GET"]),
            Route("/boom", boom),
            Route("/health", plain),
            WebSocketRoute("/ws", echo_ws),
            Mount("/v1/realtime", app=nested),
            Mount("/files", app=PlainTextResponse("static file")),
        ],
        middleware=[Middleware(RequestContextMiddleware, metrics=monitoring.http if explicit_metrics else None)],
    )
    app.state.monitoring = monitoring
    return app


@pytest.fixture
async def monitoring() -> Monitoring:
    return Monitoring(Settings(watchdog_timeout_s=0))


@pytest.fixture
async def client(monitoring: Monitoring) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(monitoring), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def _records(lines: list[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in lines]


async def test_request_id_is_generated_exposed_and_on_every_record(
    client: httpx.AsyncClient, pipeline: tuple[LogPipeline, list[str]]
) -> None:
    pipe, lines = pipeline
    first = await client.get("/items/1")
    second = await client.get("/items/2")
    rid = first.headers["x-request-id"]
    assert len(rid) == 32 and rid != second.headers["x-request-id"]
    assert first.json() == {"request_id": rid, "state": rid}
    pipe.close(5.0)
    mine = [r for r in _records(lines) if r["request_id"] == rid]
    assert [r["logger"] for r in mine] == ["tests.test_logging_request_context", "access"]
    assert request_id_var.get() is None  # reset after the request


@pytest.mark.parametrize(
    ("incoming", "accepted"),
    [
        ("abc-123_DEF.456:789", True),
        ("short", False),
        ("x" * 65, False),
        ("has space in it", False),
        ("inject\r\nX-Evil: 1", False),
    ],
)
async def test_incoming_request_id_only_when_sane(client: httpx.AsyncClient, incoming: str, accepted: bool) -> None:
    transport_safe = incoming.replace("\r\n", "")  # httpx itself refuses raw CR/LF in header values
    response = await client.get("/items/1", headers={"X-Request-ID": transport_safe})
    assert (response.headers["x-request-id"] == transport_safe) is accepted


async def test_metrics_use_route_templates_and_unmatched(client: httpx.AsyncClient, monitoring: Monitoring) -> None:
    for i in range(3):
        await client.get(f"/items/{i}")
    await client.get("/v1/realtime/calls/abc")
    await client.get("/files/some/deep/path.txt")
    for i in range(5):
        await client.get(f"/random-scan-{i}")
    await client.post("/items/1")  # 405: still labelled with the route's template
    assert (await client.get("/boom")).status_code == 500
    requests = monitoring.http.requests
    assert requests.value("GET", "/items/{item_id}", "200") == 3
    assert requests.value("GET", "/v1/realtime/calls/{call_id}", "200") == 1
    assert requests.value("GET", "/files/{path}", "200") == 1
    assert requests.value("GET", "unmatched", "404") == 5
    assert requests.value("POST", "/items/{item_id}", "405") == 1
    assert requests.value("GET", "/boom", "500") == 1
    assert monitoring.http.latency.count("GET", "/items/{item_id}") == 3
    assert not any("random-scan" in key[1] for key in requests.values())


async def test_access_record_has_no_query_string_or_headers(
    client: httpx.AsyncClient, pipeline: tuple[LogPipeline, list[str]]
) -> None:
    pipe, lines = pipeline
    await client.get(
        "/items/9?token=SECRET-QUERY&next=/x",
        headers={"Cookie": "session=SECRET-COOKIE", "Authorization": "Bearer SECRET-AUTH"},
    )
    pipe.close(5.0)
    output = "".join(lines)
    assert "SECRET" not in output
    access = [r for r in _records(lines) if r["logger"] == "access"]
    assert len(access) == 1
    extra = access[0]["extra"]
    assert isinstance(extra, dict)
    assert extra["method"] == "GET" and extra["path"] == "/items/9" and extra["status"] == 200
    assert extra["route"] == "/items/{item_id}" and isinstance(extra["duration_ms"], float)
    assert access[0]["level"] == "INFO"


async def test_probe_paths_log_at_debug(client: httpx.AsyncClient, pipeline: tuple[LogPipeline, list[str]]) -> None:
    pipe, lines = pipeline
    await client.get("/health")
    pipe.close(5.0)
    assert [r["level"] for r in _records(lines) if r["logger"] == "access"] == ["DEBUG"]


async def test_metrics_found_on_app_state_when_not_passed(monitoring: Monitoring) -> None:
    transport = httpx.ASGITransport(app=build_app(monitoring, explicit_metrics=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        await c.get("/items/5")
    assert monitoring.http.requests.value("GET", "/items/{item_id}", "200") == 1


def test_websocket_passes_through_with_request_id(monitoring: Monitoring) -> None:
    with TestClient(build_app(monitoring)) as tc, tc.websocket_connect("/ws") as ws:
        assert len(ws.receive_text()) == 32
    assert monitoring.http.requests.values() == {}  # websockets are not timed
