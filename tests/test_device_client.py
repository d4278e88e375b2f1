"""The reference glasses client (`python -m web device`) end to end, as a separate process: device token, 16 kHz WAV
at real-time pace, a JPEG, the reply saved as a 16 kHz WAV and the transcript printed.

Against the fake Azure upstream, so the test can also check what arrived there: the photo downscaled and decodable,
the audio resampled to 24 kHz with its duration kept."""

from __future__ import annotations

import asyncio
import base64
import sys
import wave
from pathlib import Path

import numpy as np

from tests.conftest import AppFactory
from tests.fake_realtime import FakeOptions, FakeRealtimeServer
from tests.support.images import decode_jpeg, jpeg
from tests.test_ws_helpers import ROOT, serve

RATE = 16_000


def speech_wav(path: Path) -> int:
    """A 1.2 s voiced signal at 16 kHz (with 200 ms of lead silence); returns its sample count."""
    t = np.arange(int(RATE * 1.2)) / RATE
    voice = (np.sin(2 * np.pi * 220 * t) + 0.5 * np.sin(2 * np.pi * 440 * t)) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    samples = np.concatenate([np.zeros(RATE // 5), voice / 1.5 * 0.2 * 32767]).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(samples.tobytes())
    return int(samples.size)


async def test_the_reference_client_talks_and_sends_a_photo(app_factory: AppFactory, tmp_path: Path) -> None:
    sent_samples = speech_wav(tmp_path / "question.wav")
    (tmp_path / "photo.jpg").write_bytes(jpeg(3264, 2448))
    async with FakeRealtimeServer(FakeOptions(reply_transcript="这是一个公交站牌")) as fake:
        async with serve(await app_factory(**fake.settings_overrides("azure"))) as served:
            token = await served.token()
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "web", "device", "--url", f"ws://127.0.0.1:{served.port}",
                "--wav", str(tmp_path / "question.wav"), "--image", str(tmp_path / "photo.jpg"),
                "--question", "这是什么？", "--out", str(tmp_path / "reply.wav"),
                cwd=ROOT, env={"DEVICE_TOKEN": token, "PATH": "/usr/bin:/bin"},
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            try:
                out, err = await asyncio.wait_for(process.communicate(), 60)
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
    assert process.returncode == 0, err.decode()[-2000:]
    assert "assistant: 这是一个公交站牌" in out.decode()
    with wave.open(str(tmp_path / "reply.wav"), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels()) == (RATE, 1)
        reply = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
    assert reply.size > RATE // 10 and np.sqrt(np.mean(reply.astype(np.float64) ** 2)) > 300  # a real tone
    (image,) = [p for e in fake.received if e["type"] == "conversation.item.create" for p in e["item"]["content"]
                if p["type"] == "input_image"]
    frame = decode_jpeg(base64.b64decode(image["image_url"].split(",", 1)[1]))
    assert (frame.width, frame.height) == (1024, 768)
    upstream_bytes = sum(len(base64.b64decode(e["audio"])) for e in fake.received
                         if e["type"] == "input_audio_buffer.append")
    wav_24k_bytes = sent_samples * 3 // 2 * 2  # the WAV at 24 kHz; then up to 1 s of trailing silence, cut short
    assert wav_24k_bytes * 0.98 < upstream_bytes <= wav_24k_bytes + 24_000 * 2 * 1.05, (upstream_bytes, wav_24k_bytes)
