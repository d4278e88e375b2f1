"""Device audio formats on the WebSocket: 16 kHz PCM16 and G.711 in and out, round-tripped through echo mode with
the audio intact (level and waveform correlation), the G.711 tables bit-exact, and invalid formats refused."""

from __future__ import annotations

import base64
import importlib
import json
import warnings
from typing import Any

import numpy as np
import pytest

from tests.conftest import AppFactory
from tests.test_ws_helpers import next_event, serve
from tests.test_ws_protocol import assert_ga_error, opened, still_usable
from web.media.audio import g711


def utterance(rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(whole signal, the voiced part): 300 ms silence, 900 ms of a gliding two-tone 'voice', 1 s silence."""
    t = np.arange(int(rate * 0.9)) / rate
    voice = (np.sin(2 * np.pi * (300 + 200 * t) * t) + 0.5 * np.sin(2 * np.pi * 1100 * t)) * np.hanning(t.size)
    voice = (voice / np.max(np.abs(voice)) * 12000).astype(np.int16)
    silence = np.zeros(int(rate * 0.3), np.int16), np.zeros(rate, np.int16)
    return np.concatenate([silence[0], voice, silence[1]]), voice


def to_wire(samples: np.ndarray, fmt: dict[str, Any]) -> bytes:
    pcm = samples.astype("<i2").tobytes()
    return g711.encode(pcm, {"audio/pcmu": "ulaw", "audio/pcma": "alaw"}[fmt["type"]]) \
        if fmt["type"] != "audio/pcm" else pcm


def from_wire(data: bytes, fmt: dict[str, Any]) -> np.ndarray:
    if fmt["type"] != "audio/pcm":
        data = g711.decode(data, {"audio/pcmu": "ulaw", "audio/pcma": "alaw"}[fmt["type"]])
    return np.frombuffer(data, dtype="<i2").astype(np.float64)


def best_correlation(reply: np.ndarray, voice: np.ndarray) -> float:
    """Peak normalised cross-correlation of the voice inside the reply (any lag)."""
    reply = np.concatenate([np.zeros(voice.size), reply, np.zeros(voice.size)])  # any overlap is a full window
    n = reply.size + voice.size
    spectrum = np.fft.rfft(reply, n) * np.conj(np.fft.rfft(voice, n))
    corr = np.fft.irfft(spectrum, n)
    lag = int(np.argmax(corr))
    window = reply[lag : lag + voice.size]
    if window.size < voice.size:
        return 0.0
    return float(np.dot(window, voice) / (np.linalg.norm(window) * np.linalg.norm(voice) + 1e-9))


def rms_db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x * x)) + 1e-9))


@pytest.mark.parametrize("fmt", [{"type": "audio/pcm", "rate": 16000}, {"type": "audio/pcmu"},
                                 {"type": "audio/pcma"}])
async def test_device_formats_round_trip_through_echo_intact(app_factory: AppFactory, fmt: dict[str, Any]) -> None:
    rate = int(fmt.get("rate", 8000))
    signal, voice = utterance(rate)
    async with serve(await app_factory()) as served:
        ws = await opened(served)
        try:
            await ws.send(json.dumps({"type": "session.update", "session": {
                "type": "realtime", "audio": {"input": {"format": fmt}, "output": {"format": fmt}}}}))
            expected = fmt if fmt["type"] != "audio/pcm" else {"type": "audio/pcm", "rate": 16000}
            while True:  # the relay's own session.update at start may be answered first
                updated = (await next_event(ws, "session.updated"))["session"]["audio"]
                if updated["input"]["format"] == expected:
                    break
            assert updated["output"]["format"] == expected
            wire = to_wire(signal, fmt)
            step = len(to_wire(signal[: rate // 50], fmt))  # 20 ms appends, as a device sends them
            for offset in range(0, len(wire), step):
                await ws.send(json.dumps({"type": "input_audio_buffer.append",
                                          "audio": base64.b64encode(wire[offset:offset + step]).decode()}))
            chunks: list[bytes] = []
            while True:
                event = await next_event(ws, timeout=15)
                if event["type"] == "response.output_audio.delta":
                    chunks.append(base64.b64decode(event["delta"]))
                elif event["type"] == "response.done":
                    break
            await still_usable(ws, "after-audio")
        finally:
            await ws.close()
    reply = from_wire(b"".join(chunks), fmt)
    voiced = reply[np.abs(reply) > 500]
    assert reply.size >= voice.size * 0.9, (reply.size, voice.size)  # the reply is at the device's rate
    assert best_correlation(reply, voice.astype(np.float64)) > 0.9
    assert abs(rms_db(voiced) - rms_db(voice[np.abs(voice) > 500].astype(np.float64))) < 1.5


@pytest.mark.parametrize(("audio", "param"), [
    ({"input": {"format": {"type": "audio/pcm", "rate": 44100}}}, "session.audio.input.format"),
    ({"input": {"format": {"type": "audio/pcmu", "rate": 16000}}}, "session.audio.input.format"),
    ({"output": {"format": {"type": "audio/opus"}}}, "session.audio.output.format"),
    ({"input": {"format": "pcm16"}}, "session.audio.input.format"),
])
async def test_invalid_formats_are_refused_and_the_call_goes_on(app_factory: AppFactory, audio: dict[str, Any],
                                                                param: str) -> None:
    async with serve(await app_factory()) as served:
        ws = await opened(served)
        try:
            await ws.send(json.dumps({"type": "session.update", "event_id": "evt_fmt",
                                      "session": {"type": "realtime", "audio": audio}}))
            error = await next_event(ws, "error")
            assert_ga_error(error, "invalid_value")
            assert error["error"]["param"] == param and error["error"]["event_id"] == "evt_fmt"
            await still_usable(ws, "after-format")
        finally:
            await ws.close()


def test_g711_tables_round_trip_within_the_standard_step() -> None:
    pcm = np.arange(-32768, 32768, 7, dtype=np.int16)
    for law in ("ulaw", "alaw"):
        back = np.frombuffer(g711.decode(g711.encode(pcm.astype("<i2").tobytes(), law), law), "<i2")
        error = np.abs(back.astype(np.int32) - pcm)
        assert np.all(error <= np.maximum(np.abs(pcm.astype(np.int32)) // 16, 16) + 8), law  # log step: ~1/16
    assert g711.encode(np.zeros(4, "<i2").tobytes(), "ulaw") == b"\xff" * 4  # μ-law silence is 0xFF
    assert g711.encode(np.zeros(4, "<i2").tobytes(), "alaw") == b"\xd5" * 4  # A-law silence is 0xD5


def test_g711_tables_are_bit_exact_with_the_reference_coder() -> None:
    """Against the stdlib's `audioop` (the classic Sun/CCITT g711.c), on every 16-bit value and every code."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = importlib.import_module("audioop")  # in Python up to 3.12, which CI's Debian 12 has
    every_sample = np.arange(65536, dtype=np.uint16).view(np.int16).astype("<i2").tobytes()
    assert g711.encode(every_sample, "ulaw") == audioop.lin2ulaw(every_sample, 2)
    assert g711.encode(every_sample, "alaw") == audioop.lin2alaw(every_sample, 2)
    assert g711.decode(bytes(range(256)), "ulaw") == audioop.ulaw2lin(bytes(range(256)), 2)
    assert g711.decode(bytes(range(256)), "alaw") == audioop.alaw2lin(bytes(range(256)), 2)
