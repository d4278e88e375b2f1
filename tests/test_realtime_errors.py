"""Handshake failures map to clear codes and messages; the API key never reaches a log line, repr, error or event."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from loguru import logger

from tests.fake_realtime import FakeOptions, FakeRealtimeServer
from web.media.realtime import (
    RealtimeStats,
    UpstreamError,
    create_realtime_session,
    probe_upstream,
)
from web.settings import Settings

STATS = RealtimeStats()  # the counters these tests' sessions record into
realtime_stats, recent_upstream_errors = STATS.snapshot, STATS.recent_upstream_errors
KEY = "sk-secret-0123456789abcdefABCDEF0123456789"


@pytest.fixture
def log_lines(caplog: pytest.LogCaptureFixture) -> Iterator[list[str]]:
    """Everything loguru and the stdlib (websockets included) log at DEBUG while the test runs."""
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="DEBUG", format="{message} {extra}")
    caplog.set_level(logging.DEBUG)
    yield lines
    logger.remove(sink)
    lines.extend(record.getMessage() for record in caplog.records)


@pytest.fixture
async def fake() -> AsyncIterator[FakeRealtimeServer]:
    async with FakeRealtimeServer(FakeOptions(api_key=KEY)) as server:
        yield server


def settings_for(fake: FakeRealtimeServer, mode: str = "azure", **overrides: Any) -> Settings:
    values = fake.settings_overrides(mode)
    values.update(realtime_connect_timeout_s=2.0, **overrides)
    return Settings(**values)


async def start_error(settings: Settings) -> UpstreamError:
    session = create_realtime_session(settings, user_id=7, log_context={"call": "t"}, stats=STATS)
    with pytest.raises(UpstreamError) as caught:
        await session.start()
    assert session.closed.is_set()
    assert session.close_reason == f"upstream_{caught.value.code}"
    return caught.value


@pytest.mark.parametrize(
    ("overrides", "code", "status"),
    [
        ({"azure_openai_realtime_api_key": "wrong-key"}, "key_rejected", 401),
        ({"azure_openai_realtime_deployment_name": "no-such-deployment"}, "bad_deployment", 400),
        ({"azure_openai_realtime_api_version": "2099-01-01-preview"}, "bad_deployment", 400),
    ],
)
async def test_handshake_refusals(fake: FakeRealtimeServer, log_lines: list[str], overrides: dict[str, Any],
                                  code: str, status: int) -> None:
    error = await start_error(settings_for(fake, **overrides))
    assert (error.code, error.status) == (code, status)
    assert error.user_message.startswith(("语音", "无法")) and "(" in error.user_message
    assert f"HTTP {status}" in error.operator_message


async def test_unknown_path_is_not_found(fake: FakeRealtimeServer) -> None:
    error = await start_error(settings_for(fake, azure_openai_realtime_endpoint=fake.base_url + "/wrong"))
    assert (error.code, error.status) == ("not_found", 404)


async def test_ga_url_with_api_version_is_401_like_azure(fake: FakeRealtimeServer) -> None:
    import websockets

    url = fake.base_url.replace("http", "ws") + "/openai/v1/realtime?model=gpt-realtime&api-version=2025-08-28"
    with pytest.raises(websockets.InvalidStatus) as caught:
        await websockets.connect(url, additional_headers={"api-key": KEY})
    assert caught.value.response.status_code == 401


async def test_throttled() -> None:
    async with FakeRealtimeServer(FakeOptions(api_key=KEY, reject_status=429)) as fake:
        error = await start_error(settings_for(fake))
    assert (error.code, error.status) == ("throttled", 429)
    assert "稍后再试" in error.user_message


async def test_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(realtime_upstream="azure", azure_openai_realtime_endpoint=f"http://127.0.0.1:{port}",
                        azure_openai_realtime_api_key=KEY, azure_openai_realtime_deployment_name="gpt-realtime")
    error = await start_error(settings)
    assert error.code == "unreachable"


async def test_connect_timeout_leaves_nothing_behind(log_lines: list[str]) -> None:
    """A server that accepts TCP and never answers: the start fails within its budget, no task left (C6)."""
    writers: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = Settings(realtime_upstream="azure", azure_openai_realtime_endpoint=f"http://127.0.0.1:{port}",
                        azure_openai_realtime_api_key=KEY, azure_openai_realtime_deployment_name="gpt-realtime",
                        realtime_connect_timeout_s=0.3)
    before = asyncio.all_tasks()
    loop = asyncio.get_running_loop()
    began = loop.time()
    error = await start_error(settings)
    elapsed = loop.time() - began
    assert error.code == "timeout"
    assert 0.25 <= elapsed < 0.6
    await asyncio.sleep(0)
    assert asyncio.all_tasks() - before == set()
    for writer in writers:
        writer.close()
    server.close()
    await server.wait_closed()
    assert not any(KEY in line for line in log_lines)


async def test_key_never_in_logs_errors_events_or_reprs(fake: FakeRealtimeServer, log_lines: list[str]) -> None:
    # a working session: connect, events, close
    session = create_realtime_session(settings_for(fake), user_id=1, log_context={"call": "c1"}, stats=STATS)
    await session.start()
    first = await anext(aiter(session.events()))
    await session.close()
    seen: list[str] = [repr(session), str(first), str(session.stats())]
    assert fake.connections[0].auth == "api-key"  # the key did reach the service, in its header
    # failures that carry details from the other side
    for overrides in ({"azure_openai_realtime_deployment_name": KEY}, {"azure_openai_realtime_api_key": "x"}):
        error = await start_error(settings_for(fake, **overrides))
        seen += [str(error), repr(error), error.operator_message, error.user_message, error.detail]
    probe = await probe_upstream(settings_for(fake, azure_openai_realtime_api_key="x"))
    seen += [str(probe), str(recent_upstream_errors()), str(realtime_stats())]
    assert log_lines, "the capture fixture saw nothing; the test would prove nothing"
    for text in seen + log_lines:
        assert KEY not in text


async def test_errors_are_counted_and_remembered(fake: FakeRealtimeServer) -> None:
    before = realtime_stats().get("upstream_errors.key_rejected", 0)
    await start_error(settings_for(fake, azure_openai_realtime_api_key="bad"))
    assert realtime_stats()["upstream_errors.key_rejected"] == before + 1
    last = recent_upstream_errors()[-1]
    assert (last["code"], last["user_id"]) == ("key_rejected", 7)
    assert "401" in last["operator_message"]


async def test_probe_reports_ok_and_failure(fake: FakeRealtimeServer) -> None:
    ok = await probe_upstream(settings_for(fake))
    assert ok["ok"] is True and ok["code"] is None and ok["connect_ms"] is not None
    bad = await probe_upstream(settings_for(fake, azure_openai_realtime_api_key="nope"))
    assert (bad["ok"], bad["code"]) == (False, "key_rejected")
    assert (await probe_upstream(Settings()))["ok"] is True  # echo
