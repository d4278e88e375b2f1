"""Bad input on the WebSocket gets a GA `error` event and the connection stays usable where the protocol allows;
upstream failures reach the client as the Realtime `error` shape, then a close code that says why; nothing leaks
(no stack traces, no upstream key) and every call's resources come back."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import AppFactory
from tests.fake_realtime import FakeOptions, FakeRealtimeServer, speech_like
from tests.test_ws_helpers import Served, next_event, serve, wait_for
from web.media.ws.protocol import MAX_FRAME_CHARS


@pytest.fixture
async def served(app_factory: AppFactory) -> AsyncIterator[Served]:
    async with serve(await app_factory()) as running:
        yield running


async def opened(served: Served) -> ClientConnection:
    ws = await connect(served.ws_url, additional_headers=served.bearer(await served.token()),
                       max_size=None)
    assert (await next_event(ws))["type"] == "session.created"
    return ws


async def still_usable(ws: ClientConnection, marker: str) -> None:
    await ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime", "instructions": marker}}))
    async with asyncio.timeout(5):
        while True:
            event = json.loads(await ws.recv())
            if event["type"] == "session.updated" and event["session"]["instructions"] == marker:
                return


def assert_ga_error(event: dict[str, Any], code: str) -> None:
    assert event["type"] == "error" and event["event_id"].startswith("event_"), event
    error = event["error"]
    assert set(error) == {"type", "code", "message", "param", "event_id"}, error
    assert error["type"] == "invalid_request_error" and error["code"] == code, error
    assert "Traceback" not in error["message"] and len(error["message"]) < 300


async def until_closed(ws: ClientConnection, timeout: float = 10) -> list[dict[str, Any]]:
    """Every event until the server closes the socket (with any code)."""
    frames: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        try:
            async for message in ws:
                frames.append(json.loads(message))
        except websockets.ConnectionClosedError:
            pass
    return frames


BIG_APPEND = json.dumps({"type": "input_audio_buffer.append", "audio": "A" * (MAX_FRAME_CHARS + 8)})


@pytest.mark.parametrize(("frame", "code"), [
    ("this is not json", "invalid_json"),
    ("{\"type\": \"session.update\"", "invalid_json"),
    ("[" * 100_000 + "]" * 100_000, "invalid_json"),  # nesting deep enough to overflow the parser's recursion
    (b"\x00\x01binary", "invalid_frame"),
    (BIG_APPEND, "message_too_large"),
    ("[]", "invalid_event"),
    ("{\"event_id\": \"e1\"}", "invalid_event"),
    ("{\"type\": \"made.up\", \"event_id\": \"e2\"}", "invalid_value"),
    ("{\"type\": \"output_audio_buffer.clear\"}", "invalid_value"),  # WebRTC only
    ("{\"type\": \"input_audio_buffer.append\", \"audio\": \"%%%not base64%%%\"}", "invalid_value"),
    ("{\"type\": \"input_audio_buffer.append\", \"audio\": \"AAEC\"}", "invalid_value"),  # 3 bytes: not PCM16
    ("{\"type\": \"input_audio_buffer.append\", \"audio\": 42}", "invalid_value"),
])
async def test_bad_frames_get_an_error_event_and_the_connection_stays_usable(served: Served, frame: str | bytes,
                                                                             code: str) -> None:
    ws = await opened(served)
    try:
        await ws.send(frame)
        event = await next_event(ws, "error")
        assert_ga_error(event, code)
        assert frame[:200] not in event["error"]["message"] if isinstance(frame, str) and len(frame) > 100 else True
        await still_usable(ws, "still here")
    finally:
        await ws.close()


async def test_frames_beyond_the_servers_limit_close_with_1009_and_free_the_call(served: Served) -> None:
    ws = await opened(served)
    await ws.send("x" * (16 * 1024 * 1024 + 1))
    with pytest.raises(websockets.ConnectionClosedError):
        async with asyncio.timeout(5):
            async for _event in ws:  # whatever was on its way, then the close
                pass
    assert ws.close_code == 1009
    await wait_for(lambda: served.registry.stats()["reserved"] == 0)


async def test_audio_flows_after_bad_input_and_a_vanished_client_frees_everything(served: Served) -> None:
    realtime_stats = served.app.state.services.realtime_stats.snapshot
    before = realtime_stats()
    ws = await opened(served)
    await ws.send("garbage")
    assert_ga_error(await next_event(ws, "error"), "invalid_json")
    pcm = bytes(48 * 200) + speech_like(600) + bytes(48 * 700)
    for offset in range(0, len(pcm), 960):
        await ws.send(json.dumps({"type": "input_audio_buffer.append",
                                  "audio": base64.b64encode(pcm[offset:offset + 960]).decode()}))
    delta = await next_event(ws, "response.output_audio.delta", timeout=10)
    assert base64.b64decode(delta["delta"])  # echo mode plays the words back
    ws.transport.abort()  # the client vanishes mid-reply, without a close frame
    await wait_for(lambda: served.registry.stats()["reserved"] == 0)
    await wait_for(lambda: realtime_stats()["sessions_active"] == before.get("sessions_active", 0))
    assert served.registry.stats()["closed_reasons"].get("client_closed", 0) >= 1


@pytest.mark.parametrize(("status", "code", "close"), [(401, "upstream_key_rejected", 1011),
                                                        (429, "upstream_throttled", 1013)])
async def test_an_upstream_that_refuses_is_an_error_event_then_a_close(app_factory: AppFactory, status: int,
                                                                      code: str, close: int) -> None:
    async with FakeRealtimeServer(FakeOptions(reject_status=status)) as fake:
        async with serve(await app_factory(**fake.settings_overrides("azure"))) as served:
            async with connect(served.ws_url, additional_headers=served.bearer(await served.token())) as ws:
                frames = await until_closed(ws)
                assert ws.close_code == close
            await wait_for(lambda: served.registry.stats()["reserved"] == 0)
    assert len(frames) == 1, frames
    error = frames[0]["error"]
    assert error["type"] == "server_error" and error["code"] == code
    assert "语音服务" in error["message"]  # the user message, zh-CN first
    assert fake.options.api_key not in json.dumps(frames)


async def test_an_upstream_lost_mid_call_ends_the_socket_after_one_reconnect(app_factory: AppFactory) -> None:
    async with FakeRealtimeServer(FakeOptions(close_after_s=0.3)) as fake:
        async with serve(await app_factory(**fake.settings_overrides("azure"))) as served:
            async with connect(served.ws_url, additional_headers=served.bearer(await served.token())) as ws:
                frames = await until_closed(ws)
                assert ws.close_code == 1011
    assert frames[0]["type"] == "session.created"
    last = frames[-1]
    assert last["type"] == "error" and last["error"]["code"].startswith("upstream_"), last
    notices = [f["error"]["code"] for f in frames if f["type"] == "error" and f["error"]["type"] == "gateway_notice"]
    assert notices == ["upstream_reconnected"]  # the client was told its context was lost at the reconnect
    assert len(fake.connections) == 2  # one transparent reconnect, then the call ended with the reason
    assert fake.options.api_key not in json.dumps(frames)


async def test_100_calls_opened_and_closed_leave_no_trace(served: Served) -> None:
    token = await served.token()

    async def cycle() -> None:
        async with connect(served.ws_url, additional_headers=served.bearer(token)) as ws:
            assert (await next_event(ws))["type"] == "session.created"

    await cycle()  # warm-up: lazily created objects are not leaks
    await wait_for(lambda: served.registry.stats()["reserved"] == 0)
    fds, tasks = len(os.listdir("/proc/self/fd")), len(asyncio.all_tasks())
    for _ in range(100):
        await cycle()
    await wait_for(lambda: served.registry.stats()["reserved"] == 0)
    await wait_for(lambda: len(asyncio.all_tasks()) <= tasks)
    assert len(os.listdir("/proc/self/fd")) <= fds + 2  # (a socket may still be in the kernel's close path)
    assert served.registry.stats()["by_transport"].get("websocket", 0) == 0


async def test_barge_in_truncation_reaches_the_upstream(app_factory: AppFactory) -> None:
    """What the page sends on `speech_started` during a reply: the upstream gets the truncate as sent."""
    async with FakeRealtimeServer(FakeOptions(reply_ms=2000, audio_speed=1.0)) as fake:
        async with serve(await app_factory(**fake.settings_overrides("azure"))) as served:
            ws = await opened(served)
            try:
                pcm = bytes(48 * 200) + speech_like(600) + bytes(48 * 700)
                for offset in range(0, len(pcm), 960):
                    await ws.send(json.dumps({"type": "input_audio_buffer.append",
                                              "audio": base64.b64encode(pcm[offset:offset + 960]).decode()}))
                delta = await next_event(ws, "response.output_audio.delta", timeout=10)
                await ws.send(json.dumps({"type": "conversation.item.truncate", "item_id": delta["item_id"],
                                          "content_index": 0, "audio_end_ms": 120}))
                await wait_for(lambda: "conversation.item.truncate" in fake.received_types())
            finally:
                await ws.close()
    truncate = next(e for e in fake.received if e["type"] == "conversation.item.truncate")
    assert (truncate["item_id"], truncate["content_index"], truncate["audio_end_ms"]) == (delta["item_id"], 0, 120)
