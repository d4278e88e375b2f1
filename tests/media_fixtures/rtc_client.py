"""An aiortc client that behaves like the voice page: microphone track, `oai-events` data channel, remote audio.

    client = RtcClient(voice=tone_bursts([(1.0, 0.3), (1.5, 0.0)]))
    response = await client.call(http, token)          # POST /v1/realtime/calls
    await client.wait_connected()
    event = await client.wait_event("response.done")
    assert client.audio.peak_level > 0.05              # the reply was heard

The microphone is a paced `MediaStreamTrack` playing a PCM script (48 kHz mono s16); after the script it sends
silence, like an idle mic. Received audio is decoded by aiortc and summarised per 20 ms frame (RMS level).
"""

from __future__ import annotations

import asyncio
import fractions
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

RATE = 48_000
FRAME = 960
PTIME = 0.02


def tone_bursts(script: list[tuple[float, float]], freq: float = 330.0) -> np.ndarray:
    """[(seconds, amplitude 0..1), …] → int16 samples: a tone where amplitude > 0, silence where it is 0."""
    parts = []
    for seconds, amplitude in script:
        n = int(seconds * RATE)
        t = np.arange(n) / RATE
        # a little vibrato so it is not a pure tone (energy VADs with a noise floor may adapt to a steady sine)
        parts.append(amplitude * 32767 * np.sin(2 * np.pi * freq * t + 3 * np.sin(2 * np.pi * 4 * t)))
    return np.concatenate(parts).astype(np.int16) if parts else np.zeros(0, dtype=np.int16)


class MicTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self, samples: np.ndarray | None = None, loop: bool = False) -> None:
        super().__init__()
        self._samples = samples if samples is not None else np.zeros(0, dtype=np.int16)
        self._repeat = loop
        self._pos = 0
        self._n = 0
        self._start: float | None = None
        self.sent_frames = 0

    def play(self, samples: np.ndarray) -> None:
        """Replace what the mic plays from now on."""
        self._samples, self._pos = samples, 0

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            delay = self._start + self._n * PTIME - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        chunk = self._samples[self._pos : self._pos + FRAME]
        self._pos += FRAME
        if self._repeat and self._pos >= len(self._samples):
            self._pos = 0
        if len(chunk) < FRAME:
            chunk = np.concatenate([chunk, np.zeros(FRAME - len(chunk), dtype=np.int16)])
        frame = AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._n * FRAME
        frame.time_base = fractions.Fraction(1, RATE)
        self._n += 1
        self.sent_frames += 1
        return frame


@dataclass
class ReceivedAudio:
    frames: int = 0
    samples: int = 0
    peak_level: float = 0.0
    loud_frames: int = 0
    first_loud_at: float | None = None
    levels: list[float] = field(default_factory=list)


class RtcClient:
    def __init__(self, voice: np.ndarray | None = None, *, loop_voice: bool = False, datachannel: bool = True) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.mic = MicTrack(voice, loop=loop_voice)
        self.pc.addTrack(self.mic)
        self.events: list[dict[str, Any]] = []
        self._event_arrived = asyncio.Event()
        self.audio = ReceivedAudio()
        self.location: str | None = None
        self.connected = asyncio.Event()
        self.ended = asyncio.Event()  # our peer connection reached closed or failed (the server hung up)
        self._reader: asyncio.Task[None] | None = None
        self.dc = self.pc.createDataChannel("oai-events") if datachannel else None
        if self.dc is not None:
            self.dc.on("message", self._on_message)
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_state)

    # --- signalling ------------------------------------------------------------------------------------------------
    async def offer_sdp(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        assert self.pc.localDescription is not None
        return self.pc.localDescription.sdp

    async def call(self, http: httpx.AsyncClient, token: str, *, path: str = "/v1/realtime/calls",
                   sdp: str | None = None, apply_answer: bool = True) -> httpx.Response:
        offer = sdp if sdp is not None else await self.offer_sdp()
        response = await http.post(path, content=offer.encode(),
                                   headers={"Content-Type": "application/sdp", "X-CSRF-Token": token})
        if response.status_code == 201 and apply_answer:
            self.location = response.headers["location"]
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
        return response

    async def wait_connected(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self.connected.wait(), timeout)

    def _on_state(self) -> None:
        if self.pc.connectionState == "connected":
            self.connected.set()
        elif self.pc.connectionState in ("closed", "failed"):
            self.ended.set()

    async def wait_ended(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self.ended.wait(), timeout)

    # --- events ----------------------------------------------------------------------------------------------------
    def _on_message(self, data: str | bytes) -> None:
        self.events.append(json.loads(data))
        self._event_arrived.set()

    def send(self, event: dict[str, Any]) -> None:
        assert self.dc is not None
        self.dc.send(json.dumps(event))

    async def wait_event(self, kind: str, timeout: float = 10.0,
                         match: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
        async def scan() -> dict[str, Any]:
            seen = 0
            while True:
                for event in self.events[seen:]:
                    if event.get("type") == kind and (match is None or match(event)):
                        return event
                seen = len(self.events)
                self._event_arrived.clear()
                await self._event_arrived.wait()

        return await asyncio.wait_for(scan(), timeout)

    def types(self) -> list[str]:
        return [str(e.get("type")) for e in self.events]

    # --- received audio --------------------------------------------------------------------------------------------
    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._reader = asyncio.ensure_future(self._read(track))

    async def _read(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                assert isinstance(frame, AudioFrame)
                samples = frame.to_ndarray().astype(np.float32) / 32768.0
                level = float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0
                self.audio.frames += 1
                self.audio.samples += frame.samples
                self.audio.levels.append(level)
                self.audio.peak_level = max(self.audio.peak_level, level)
                if level > 0.01:
                    self.audio.loud_frames += 1
                    if self.audio.first_loud_at is None:
                        self.audio.first_loud_at = time.monotonic()
        except MediaStreamError:
            return

    async def close(self) -> None:
        await self.pc.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
