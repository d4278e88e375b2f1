"""The fake Realtime server itself: faithful routes, auth, event shapes (checked against the openai SDK's types),
errors, and the subprocess mode browser tests use."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.fake_realtime import (
    FakeOptions,
    FakeRealtimeServer,
    check_event,
    check_response_lifecycle,
    silence,
    speech_like,
)

ROOT = Path(__file__).resolve().parents[1]
GA_PATH = "/openai/v1/realtime?model=gpt-realtime"
BETA_PATH = "/openai/realtime?api-version=2025-04-01-preview&deployment=gpt-realtime"


@pytest.fixture
async def fake() -> AsyncIterator[FakeRealtimeServer]:
    async with FakeRealtimeServer(FakeOptions(audio_speed=50)) as server:
        yield server


def ws_url(fake: FakeRealtimeServer, path: str) -> str:
    return fake.base_url.replace("http://", "ws://") + path


async def recv_until(ws: ClientConnection, kind: str, protocol: str, timeout: float = 5) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            event = json.loads(await ws.recv())
            check_event(event, protocol)
            events.append(event)
            if event["type"] == kind:
                return events


async def send(ws: ClientConnection, event: dict[str, Any]) -> None:
    await ws.send(json.dumps(event))


async def speak(ws: ClientConnection) -> None:
    pcm = silence(100) + speech_like(400) + silence(600)
    for i in range(0, len(pcm), 4800):
        await send(ws, {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm[i : i + 4800]).decode()})


@pytest.mark.parametrize(("path", "protocol", "audio_delta"), [
    (GA_PATH, "ga", "response.output_audio.delta"),
    ("/v1/realtime?model=gpt-realtime", "ga", "response.output_audio.delta"),
    (BETA_PATH, "beta", "response.audio.delta"),
])
async def test_turn_events_match_the_sdk_types(fake: FakeRealtimeServer, path: str, protocol: str,
                                               audio_delta: str) -> None:
    async with websockets.connect(ws_url(fake, path), additional_headers={"api-key": "test-key"}) as ws:
        first = await recv_until(ws, "session.created", protocol)
        assert len(first) == 1
        assert first[0]["session"]["expires_at"] > 0
        await speak(ws)
        events = await recv_until(ws, "response.done", protocol)
    names = [e["type"] for e in events]
    assert audio_delta in names
    assert names[:4] == ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
                         "input_audio_buffer.committed",
                         "conversation.item.created" if protocol == "beta" else "conversation.item.added"]
    check_response_lifecycle(events)


@pytest.mark.parametrize(("headers", "query"), [
    ({"api-key": "test-key"}, ""), ({"Authorization": "Bearer test-key"}, ""), ({}, "&api-key=test-key")])
async def test_auth_variants(fake: FakeRealtimeServer, headers: dict[str, str], query: str) -> None:
    async with websockets.connect(ws_url(fake, GA_PATH + query), additional_headers=headers) as ws:
        assert json.loads(await ws.recv())["type"] == "session.created"


@pytest.mark.parametrize(("path", "headers", "status"), [
    (GA_PATH, {}, 401),
    (GA_PATH, {"api-key": "wrong"}, 401),
    (GA_PATH + "&api-version=2025-04-01-preview", {"api-key": "test-key"}, 401),
    ("/openai/v1/realtime?model=unknown", {"api-key": "test-key"}, 400),
    ("/openai/realtime?api-version=2025-08-28&deployment=gpt-realtime", {"api-key": "test-key"}, 400),
    ("/openai/v2/realtime?model=gpt-realtime", {"api-key": "test-key"}, 404),
])
async def test_upgrade_refusals_are_json(fake: FakeRealtimeServer, path: str, headers: dict[str, str],
                                         status: int) -> None:
    with pytest.raises(websockets.InvalidStatus) as caught:
        await websockets.connect(ws_url(fake, path), additional_headers=headers)
    response = caught.value.response
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert "message" in json.loads(response.body)["error"]
    assert fake.handshakes[-1].status == status


async def test_client_mistakes_get_error_events_and_the_socket_stays_open(fake: FakeRealtimeServer) -> None:
    async with websockets.connect(ws_url(fake, GA_PATH), additional_headers={"api-key": "test-key"}) as ws:
        await recv_until(ws, "session.created", "ga")
        mistakes: list[tuple[Any, str]] = [
            ({"type": "nope", "event_id": "e1"}, "invalid_value"),
            ({"type": "input_audio_buffer.commit", "event_id": "e2"}, "input_audio_buffer_commit_empty"),
            ({"type": "response.cancel", "event_id": "e3"}, "response_cancel_not_active"),
            ({"type": "session.update", "event_id": "e4", "session": {"instructions": "x"}},
             "missing_required_parameter"),
            ({"type": "session.update", "event_id": "e5", "session": {"type": "realtime", "voicee": "x"}},
             "unknown_parameter"),
        ]
        for event, code in mistakes:
            await send(ws, event)
            error = (await recv_until(ws, "error", "ga"))[-1]["error"]
            assert (error["code"], error["event_id"]) == (code, event["event_id"])
        await ws.send("{not json")
        assert (await recv_until(ws, "error", "ga"))[-1]["error"]["code"] == "invalid_json"
        await send(ws, {"type": "response.create"})
        await send(ws, {"type": "response.create", "event_id": "e6"})
        events = await recv_until(ws, "error", "ga")
        assert events[-1]["error"]["code"] == "conversation_already_has_active_response"


async def test_beta_path_refuses_ga_shapes_like_azure_preview(fake: FakeRealtimeServer) -> None:
    async with websockets.connect(ws_url(fake, BETA_PATH), additional_headers={"api-key": "test-key"}) as ws:
        await recv_until(ws, "session.created", "beta")
        await send(ws, {"type": "session.update", "session": {"type": "realtime", "instructions": "x"}})
        error = (await recv_until(ws, "error", "beta"))[-1]["error"]
        assert (error["code"], error["param"]) == ("unknown_parameter", "session.type")
        await send(ws, {"type": "session.update", "session": {"instructions": "x", "voice": "verse"}})
        updated = (await recv_until(ws, "session.updated", "beta"))[-1]["session"]
        assert (updated["instructions"], updated["voice"]) == ("x", "verse")


async def test_barge_in_cancels_with_turn_detected() -> None:
    async with FakeRealtimeServer(FakeOptions(reply_ms=3000, audio_speed=1)) as fake:
        async with websockets.connect(ws_url(fake, GA_PATH), additional_headers={"api-key": "test-key"}) as ws:
            await recv_until(ws, "session.created", "ga")
            await speak(ws)
            await recv_until(ws, "response.output_audio.delta", "ga")
            await send(ws, {"type": "input_audio_buffer.append",
                            "audio": base64.b64encode(speech_like(100)).decode()})
            events = await recv_until(ws, "response.done", "ga")
    assert "input_audio_buffer.speech_started" in [e["type"] for e in events]
    assert events[-1]["response"]["status_details"]["reason"] == "turn_detected"


async def test_official_sdk_talks_to_the_fake(fake: FakeRealtimeServer) -> None:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(api_key="test-key", websocket_base_url=ws_url(fake, "/openai/v1"))
    async with client.realtime.connect(model="gpt-realtime") as connection:
        assert (await connection.recv()).type == "session.created"
        await connection.session.update(session={"type": "realtime", "instructions": "Hi."})
        updated = await connection.recv()
        assert updated.type == "session.updated"
    assert fake.connections[0].auth == "bearer"


@pytest.mark.slow
async def test_runs_as_a_subprocess() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fake_realtime", "--port", "0", "--mode", "429", cwd=ROOT,
        stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 15)).decode()
        assert line.startswith("FAKE_REALTIME_READY http://127.0.0.1:")
        base = line.split()[1].replace("http://", "ws://")
        with pytest.raises(websockets.InvalidStatus) as caught:
            await websockets.connect(base + GA_PATH, additional_headers={"api-key": "test-key"})
        assert caught.value.response.status_code == 429
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 10) == 0
