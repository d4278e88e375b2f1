"""End of user speech → first reply audio at the client, over WebSocket and over WebRTC, in the same run.

Both clients speak the same utterance (200 ms silence, 800 ms speech, then silence) paced like a microphone in
20 ms frames, to the same app process relaying to the same fake Azure (server VAD: 500 ms of silence ends the turn;
the reply starts at once). "End of speech" is when the last speech frame leaves the client's microphone; "first
reply audio" is when the first non-silent audio arrives: the first loud `response.output_audio.delta` on the socket,
or the first loud RTP packet (decoded on arrival, before any jitter buffer) on the peer connection. Neither includes
a playout buffer: the page adds 80 ms (pcm-playback's prebuffer) over WebSocket, the browser's adaptive jitter
buffer (typically 20-60 ms on a clean network) over WebRTC. Trials alternate between the transports.

    .venv/bin/python -m bench.ws_latency [--trials 10]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import fractions
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame
from websockets.asyncio.client import connect

from bench.ws_common import device_token, machine, rms, speech, stack

LEAD_MS, SPEECH_MS, TAIL_MS = 200, 800, 3000
VAD_SILENCE_MS = 500
LOUD = 0.01


def utterance(rate: int) -> tuple[np.ndarray, int]:
    """(samples, index of the first sample after the speech)."""
    lead, tail = np.zeros(rate * LEAD_MS // 1000, np.int16), np.zeros(rate * TAIL_MS // 1000, np.int16)
    return np.concatenate([lead, speech(rate, SPEECH_MS), tail]), len(lead) + rate * SPEECH_MS // 1000


async def ws_trial(ws_url: str, token: str) -> float:
    samples, speech_end = utterance(24_000)
    frame = 480
    heard = asyncio.get_running_loop().create_future()
    async with connect(ws_url, additional_headers={"Authorization": f"Bearer {token}"}, max_size=None) as ws:
        while json.loads(await ws.recv())["type"] != "session.created":
            pass

        async def listen() -> None:
            async for message in ws:
                event = json.loads(message)
                if event["type"] == "response.output_audio.delta" and rms(base64.b64decode(event["delta"])) > LOUD:
                    heard.set_result(time.monotonic())
                    return

        listener = asyncio.create_task(listen())
        start, ended = time.monotonic(), 0.0
        for index, offset in enumerate(range(0, len(samples), frame)):
            await asyncio.sleep(max(0.0, start + (index + 1) * 0.02 - time.monotonic()))  # the frame was captured
            await ws.send(json.dumps({"type": "input_audio_buffer.append",
                                      "audio": base64.b64encode(samples[offset:offset + frame].tobytes()).decode()}))
            if offset < speech_end <= offset + frame:
                ended = time.monotonic()
            if heard.done():
                break
        first = await asyncio.wait_for(heard, 5)
        listener.cancel()
    return (first - ended) * 1000


class Mic(MediaStreamTrack):
    kind = "audio"

    def __init__(self, samples: np.ndarray, speech_end: int) -> None:
        super().__init__()
        self.samples, self.speech_end, self.n, self.start, self.ended = samples, speech_end, 0, 0.0, 0.0

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self.n == 0:
            self.start = time.monotonic()
        await asyncio.sleep(max(0.0, self.start + (self.n + 1) * 0.02 - time.monotonic()))
        pos = self.n * 960
        chunk = self.samples[pos:pos + 960]
        chunk = np.pad(chunk, (0, 960 - len(chunk)))
        if pos < self.speech_end <= pos + 960:
            self.ended = time.monotonic()
        frame = AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = 48_000, self.n * 960, fractions.Fraction(1, 48_000)
        self.n += 1
        return frame


async def rtc_trial(http_url: str, token: str) -> float:
    from web.media.audio.opus import OpusMonoDecoder

    samples, speech_end = utterance(48_000)
    mic = Mic(samples, speech_end)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(mic)
    pc.createDataChannel("oai-events")
    heard = asyncio.get_running_loop().create_future()
    decoder = OpusMonoDecoder()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"}
    async with httpx.AsyncClient(base_url=http_url) as http:
        await pc.setLocalDescription(await pc.createOffer())
        response = await http.post("/v1/realtime/calls", content=pc.localDescription.sdp.encode(), headers=headers)
        assert response.status_code == 201, response.text
        receiver = pc.getTransceivers()[0].receiver
        original = receiver._handle_rtp_packet

        async def tap(packet: Any, arrival_time_ms: int) -> None:
            if not heard.done() and packet.payload:
                pcm = decoder.decode(packet.payload)
                if rms(pcm) > LOUD:
                    heard.set_result(time.monotonic())
            await original(packet, arrival_time_ms)

        receiver._handle_rtp_packet = tap  # type: ignore[method-assign]  # a tap at packet arrival
        await pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
        try:
            first = await asyncio.wait_for(heard, 10)
        finally:
            await http.delete(response.headers["location"], headers={"Authorization": f"Bearer {token}"})
            await pc.close()
    return (first - mic.ended) * 1000


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"median": round(statistics.median(ordered), 1), "min": round(ordered[0], 1),
            "max": round(ordered[-1], 1), "n": len(ordered)}


async def measure(trials: int) -> dict[str, Any]:
    from web.media.rtc.ice import configure_host_addresses

    configure_host_addresses(["127.0.0.1"])  # our aiortc client, like the server, stays on loopback
    with tempfile.TemporaryDirectory() as tmp, stack(Path(tmp)) as running:
        token = await device_token(running.http_url)
        await ws_trial(running.ws_url, token)  # warm-up: imports, first connections
        await rtc_trial(running.http_url, token)
        results: dict[str, list[float]] = {"websocket": [], "webrtc": []}
        for _ in range(trials):
            results["websocket"].append(await ws_trial(running.ws_url, token))
            results["webrtc"].append(await rtc_trial(running.http_url, token))
    out: dict[str, Any] = {"machine": machine(), "vad_silence_ms": VAD_SILENCE_MS}
    for name, values in results.items():
        out[name] = summary(values)
        out[name]["median_after_vad"] = round(out[name]["median"] - VAD_SILENCE_MS, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10)
    print(json.dumps(asyncio.run(measure(parser.parse_args().trials)), indent=2))


if __name__ == "__main__":
    main()
