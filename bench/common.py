"""Shared benchmark pieces: statistics, the machine description, packet-level taps, and light aiortc clients.

The clients are deliberately cheap (pre-encoded Opus out, packets counted but not decoded in), so on a 2-core machine
the load they add stays small next to the server they measure.
"""

from __future__ import annotations

import asyncio
import fractions
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiortc
import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

RATE = 48_000
FRAME = 960
PTIME = 0.02


def median(values: list[float]) -> float:
    return round(statistics.median(values), 2) if values else float("nan")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 2)


def machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")), "")
    except OSError:
        pass
    mem_gb = 0.0
    try:
        with open("/proc/meminfo", encoding="utf-8") as info:
            kb = int(next(ln.split()[1] for ln in info if ln.startswith("MemTotal")))
            mem_gb = round(kb / 1024 / 1024, 1)
    except (OSError, StopIteration, ValueError):
        pass
    return {
        "cpu": model or platform.processor(), "cpus": os.cpu_count(), "memory_gb": mem_gb,
        "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
        "aiortc": aiortc.__version__, "av": av.__version__,
    }


def tone(seconds: float, amplitude: float = 0.3, freq: float = 330.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * 32767 * np.sin(2 * np.pi * freq * t + 3 * np.sin(2 * np.pi * 4 * t))).astype(np.int16)


def script(parts: list[tuple[float, float]]) -> np.ndarray:
    """[(seconds, amplitude)] → samples; amplitude 0 is silence."""
    return np.concatenate([tone(s, a) if a > 0 else np.zeros(int(s * RATE), dtype=np.int16) for s, a in parts])


class PacedFrames(MediaStreamTrack):
    """A microphone: plays `samples` (looping if asked) as paced 20 ms AudioFrames; aiortc encodes them."""

    kind = "audio"

    def __init__(self, samples: np.ndarray, loop: bool = True) -> None:
        super().__init__()
        self.samples, self.repeat, self.n, self.start = samples, loop, 0, 0.0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self.n == 0:
            self.start = time.monotonic()
        else:
            await asyncio.sleep(max(0.0, self.start + self.n * PTIME - time.monotonic()))
        pos = (self.n * FRAME) % len(self.samples) if self.repeat else self.n * FRAME
        chunk = self.samples[pos : pos + FRAME]
        chunk = np.pad(chunk, (0, FRAME - len(chunk)))
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = RATE, self.n * FRAME, fractions.Fraction(1, RATE)
        self.n += 1
        return frame


class PacedPackets(MediaStreamTrack):
    """A cheap microphone for load tests: a loop of pre-encoded Opus packets, paced, no encoding at send time."""

    kind = "audio"

    def __init__(self, payloads: list[bytes]) -> None:
        super().__init__()
        self.payloads, self.n, self.start = payloads, 0, 0.0

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        if self.n == 0:
            self.start = time.monotonic()
        else:
            await asyncio.sleep(max(0.0, self.start + self.n * PTIME - time.monotonic()))
        packet = av.Packet(self.payloads[self.n % len(self.payloads)])
        packet.pts, packet.time_base = self.n * FRAME, fractions.Fraction(1, RATE)
        self.n += 1
        return packet


def opus_payloads(samples: np.ndarray) -> list[bytes]:
    from web.media.audio.opus import OpusMonoEncoder

    encoder = OpusMonoEncoder()
    return [encoder.encode(samples[i : i + FRAME].tobytes()) for i in range(0, len(samples) - FRAME + 1, FRAME)]


class CountingPath:
    """Replaces a client receiver's jitter buffer: counts packets per second, decodes nothing."""

    capacity = 16

    def __init__(self) -> None:
        self.packets = 0

    def add(self, packet: Any) -> tuple[bool, None]:
        self.packets += 1
        return False, None


def counting_client(track: MediaStreamTrack) -> tuple[RTCPeerConnection, CountingPath]:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    counter = CountingPath()
    transceiver = pc.addTransceiver(track, direction="sendrecv")
    transceiver.receiver._RTCRtpReceiver__jitter_buffer = counter  # type: ignore[attr-defined]
    return pc, counter


@dataclass
class ArrivalTap:
    """Wraps a server receiver's `_handle_rtp_packet`: records when each RTP timestamp arrived, and drops packets
    (as the network would) when `drop` says so. Timestamps are relative to the first packet's, as aiortc maps them."""

    drop: Callable[[int], bool] = lambda index: False
    arrivals: dict[int, float] = field(default_factory=dict)
    first_ts: int | None = None
    index: int = 0
    dropped: int = 0

    def install(self, receiver: Any) -> None:
        original = receiver._handle_rtp_packet

        async def handle(packet: Any, arrival_time_ms: int) -> None:
            index = self.index
            self.index += 1
            if self.first_ts is None:
                self.first_ts = packet.timestamp
            if self.drop(index):
                self.dropped += 1
                return
            self.arrivals[(packet.timestamp - self.first_ts) & 0xFFFFFFFF] = time.monotonic()
            await original(packet, arrival_time_ms)

        receiver._handle_rtp_packet = handle


def random_loss(rate: float, seed: int = 7) -> Callable[[int], bool]:
    rng = random.Random(seed)
    return lambda index: index > 50 and rng.random() < rate


def burst_loss(start: int, length: int) -> Callable[[int], bool]:
    return lambda index: start <= index < start + length
