"""The official `openai` SDK talks to `/v1/realtime` unchanged apart from its base URL and key (a device token):
in echo mode, and relayed to the project's fake Azure on its GA path and on its preview path (beta translated)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from openai import AsyncOpenAI

from tests.conftest import AppFactory
from tests.fake_realtime import FakeOptions, FakeRealtimeServer, utterance
from tests.test_ws_helpers import Served, serve

MODEL = "gpt-realtime"


@pytest.fixture
async def fake() -> AsyncIterator[FakeRealtimeServer]:
    async with FakeRealtimeServer(FakeOptions(reply_ms=700)) as server:
        yield server


def sdk(served: Served, token: str) -> AsyncOpenAI:
    return AsyncOpenAI(api_key=token, websocket_base_url=f"ws://127.0.0.1:{served.port}/v1")


async def talk(served: Served, key: str | None = None) -> tuple[list[Any], bytes]:
    """Connect with the SDK, say one utterance in 100 ms appends, and return (events up to response.done, audio)."""
    token = key or await served.token()
    events: list[Any] = []
    async with sdk(served, token).realtime.connect(model=MODEL) as connection:
        first = await connection.recv()
        assert first.type == "session.created"
        events.append(first)
        pcm = utterance(800)
        for offset in range(0, len(pcm), 4800):  # 100 ms, as the Realtime docs recommend
            await connection.input_audio_buffer.append(audio=base64.b64encode(pcm[offset:offset + 4800]).decode())
        async for event in connection:
            events.append(event)
            if event.type == "response.done":
                break
    audio = b"".join(base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta")
    return events, audio


def rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


async def test_sdk_in_echo_mode(app_factory: AppFactory) -> None:
    async with serve(await app_factory()) as served:
        events, audio = await talk(served)
    names = [e.type for e in events]
    for kind in ("input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped", "response.created",
                 "response.output_audio.delta", "response.done"):
        assert kind in names, names
    assert names.index("input_audio_buffer.speech_stopped") < names.index("response.output_audio.delta")
    assert rms(audio) > 0.05  # the user's own words came back
    transcript = " ".join(getattr(e, "transcript", "") or "" for e in events
                          if e.type == "response.output_audio_transcript.done")
    assert "echo" in transcript.lower()
    assert events[-1].response.status == "completed"


@pytest.mark.parametrize(("mode", "path"), [("azure", "/openai/v1/realtime"), ("azure-preview", "/openai/realtime")])
async def test_sdk_through_the_fake_azure(app_factory: AppFactory, fake: FakeRealtimeServer, mode: str,
                                          path: str) -> None:
    async with serve(await app_factory(**fake.settings_overrides(mode))) as served:
        events, audio = await talk(served)
    assert [h.path for h in fake.connections] == [path]
    names = [e.type for e in events]
    assert "response.audio.delta" not in names  # beta names were translated to GA
    samples = np.frombuffer(audio, dtype="<i2").astype(np.float64)
    assert len(samples) == 24 * 700
    assert abs(np.argmax(np.abs(np.fft.rfft(samples))) * 24000 / len(samples) - 440) < 3  # the fake's reply tone
    done = next(e for e in events if e.type == "response.output_audio_transcript.done")
    assert done.transcript == fake.options.reply_transcript
    appended = b"".join(base64.b64decode(e["audio"]) for e in fake.received if e["type"] == "input_audio_buffer.append")
    assert appended == utterance(800)  # every byte of the user's audio reached the upstream, in order


async def test_sdk_session_update_and_errors_keep_the_connection(app_factory: AppFactory) -> None:
    async with serve(await app_factory()) as served:
        token = await served.token()
        async with sdk(served, token).realtime.connect(model=MODEL) as connection:
            assert (await connection.recv()).type == "session.created"
            await connection.session.update(session={"type": "realtime", "instructions": "Answer briefly."})
            # GA: the first session.updated is the answer to ours (the relay's own defaults stay internal)
            first = await connection.recv()
            assert first.type == "session.updated" and first.session.instructions == "Answer briefly."
            await connection.send({"type": "conversation.item.delete", "item_id": "item_missing", "event_id": "e1"})
            error = await connection.recv()
            assert error.type == "error" and error.error.event_id == "e1"  # yielded by the SDK, never raised
            await connection.session.update(session={"type": "realtime", "instructions": "Still here."})
            await updated_with(connection, "Still here.")  # the connection stayed usable


async def updated_with(connection: Any, instructions: str) -> Any:
    async with asyncio.timeout(5):
        async for event in connection:
            if event.type == "session.updated" and event.session.instructions == instructions:
                return event
    raise AssertionError("the connection ended")


@pytest.mark.parametrize("mode", ["echo", "azure"])
async def test_sdk_mints_a_client_secret_and_connects_with_it(app_factory: AppFactory, fake: FakeRealtimeServer,
                                                              mode: str) -> None:
    overrides = fake.settings_overrides(mode) if mode != "echo" else {}
    async with serve(await app_factory(**overrides)) as served:
        backend = AsyncOpenAI(api_key=await served.token(), base_url=f"http://127.0.0.1:{served.port}/v1")
        secret = await backend.realtime.client_secrets.create(
            expires_after={"anchor": "created_at", "seconds": 600},
            session={"type": "realtime", "instructions": "Answer briefly."})
        assert secret.value.startswith("ek_") and secret.session is not None
        events, audio = await talk(served, secret.value)
    assert events[-1].type == "response.done" and rms(audio) > 0.05, [e.type for e in events]
