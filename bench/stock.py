"""The baseline: the same relay built the way aiortc's examples and most projects do it.

Receive with `track.recv()` (aiortc's jitter buffer, prefetch 4, and its decoder thread), resample with PyAV's stock
`AudioResampler`, and send `AudioFrame`s that aiortc resamples and encodes itself (in the default thread pool). It is
measured with the same taps and the same sessions as our path, in the same run.
"""

from __future__ import annotations

import asyncio
import base64
import fractions
import time
from collections.abc import Callable
from typing import Any

import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

OUT_RATE = 24_000
FRAME_BYTES = 960  # 20 ms at 24 kHz mono s16


class StockOutTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.buf = bytearray()
        self.n = 0
        self.start = 0.0
        self.first_audio_at: float | None = None
        self.starts: list[float] = []  # when each stretch of reply audio began (silence → audio)
        self.playing = False
        self.frames = 0
        self.late_frames = 0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self.n == 0:
            self.start = time.monotonic()
        else:
            delay = self.start + self.n * 0.02 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.02:
                self.late_frames += 1
        if len(self.buf) >= FRAME_BYTES:
            pcm = bytes(self.buf[:FRAME_BYTES])
            del self.buf[:FRAME_BYTES]
            if self.first_audio_at is None:
                self.first_audio_at = time.monotonic()
            if not self.playing:
                self.starts.append(time.monotonic())
            self.playing = True
        else:
            pcm = bytes(FRAME_BYTES)
            self.playing = False
        frame = av.AudioFrame.from_ndarray(np.frombuffer(pcm, np.int16).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = OUT_RATE, self.n * 480, fractions.Fraction(1, OUT_RATE)
        self.n += 1
        self.frames += 1
        return frame


class StockRelay:
    def __init__(self, session: Any, on_chunk: Callable[[int], None] | None = None) -> None:
        self.session = session
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.out = StockOutTrack()
        self.transceiver = self.pc.addTransceiver(self.out, direction="sendrecv")
        self.on_chunk = on_chunk  # called with each decoded frame's pts (48 kHz units) when its audio was appended
        self.tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)

    async def answer(self, offer: str) -> str:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await self.session.start()
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        self.tasks.append(asyncio.ensure_future(self._downlink()))
        assert self.pc.localDescription is not None
        return self.pc.localDescription.sdp

    def _on_track(self, track: MediaStreamTrack) -> None:
        self.tasks.append(asyncio.ensure_future(self._uplink(track)))

    async def _uplink(self, track: MediaStreamTrack) -> None:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=OUT_RATE)
        try:
            while True:
                frame = await track.recv()
                assert isinstance(frame, av.AudioFrame)
                pcm = b"".join(bytes(f.to_ndarray().tobytes()) for f in resampler.resample(frame))
                await self.session.append_audio(pcm)
                if self.on_chunk is not None and frame.pts is not None:
                    self.on_chunk(int(frame.pts))
        except MediaStreamError:
            return

    async def _downlink(self) -> None:
        async for event in self.session.events():
            if event.get("type") == "response.output_audio.delta":
                self.out.buf += base64.b64decode(event["delta"])

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.session.close("bench")
        await self.pc.close()
