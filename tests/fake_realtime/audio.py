"""Test audio (PCM16 24 kHz mono) and a helper that feeds it to a session like a microphone would."""

from __future__ import annotations

import asyncio
from typing import Protocol

import numpy as np

FRAME_BYTES = 960  # 20 ms, what a WebRTC track delivers


def speech_like(ms: int, *, level: float = 0.2, hz: float = 220.0) -> bytes:
    """A voiced-sounding signal: a harmonic tone with a 3 Hz syllable envelope, ~-17 dBFS RMS at level 0.2."""
    t = np.arange(24 * ms) / 24_000.0
    wave = np.sin(2 * np.pi * hz * t) + 0.5 * np.sin(2 * np.pi * 2 * hz * t)
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)
    return (wave / 1.5 * envelope * level * 32767).astype("<i2").tobytes()


def silence(ms: int) -> bytes:
    return bytes(48 * ms)


def noise(ms: int, *, dbfs: float = -55.0, seed: int = 1) -> bytes:
    rng = np.random.default_rng(seed)
    rms = 10 ** (dbfs / 20) * 32767
    return np.clip(rng.normal(0, rms, 24 * ms), -32768, 32767).astype("<i2").tobytes()


def utterance(speech_ms: int = 800, *, lead_ms: int = 200, tail_ms: int = 900) -> bytes:
    """Silence, speech, then enough silence (> 500 ms) for server VAD to end the turn."""
    return silence(lead_ms) + speech_like(speech_ms) + silence(tail_ms)


class AudioSink(Protocol):
    async def append_audio(self, pcm16_24k_mono: bytes) -> None: ...


async def feed(session: AudioSink, pcm: bytes, *, realtime_factor: float = 0.0) -> None:
    """Append `pcm` in 20 ms frames; `realtime_factor` 1.0 paces like a live microphone, 0 as fast as possible."""
    for offset in range(0, len(pcm), FRAME_BYTES):
        await session.append_audio(pcm[offset : offset + FRAME_BYTES])
        await asyncio.sleep(0.02 * realtime_factor)
