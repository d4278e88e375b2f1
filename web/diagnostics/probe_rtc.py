"""A real WebRTC call from the terminal (`diagnose`): an aiortc client sends a tone to the call endpoint, measures
offer → answer, connection, the echo (or the AI's answer to a request) and 1 s quality samples, and reads the
server's view of the same call. It returns measured values; the verdicts are the shared rules'."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import ipaddress
import json
import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from av import AudioFrame

from web.diagnostics import thresholds as th
from web.diagnostics.rules_path import answer_candidates
from web.diagnostics.server_view import OPUS_CLOCK_HZ, selected_pair
from web.media.rtc.ice import configure_host_addresses

RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms
TONE_HZ = 440.0
TONE_S = 0.8
MAX_EXTRA_SAMPLES = 5
HEARD_RMS = 0.02  # the echo of a 0.3 full-scale tone is far above this; silence padding is 0


class ToneTrack(MediaStreamTrack):
    """20 ms frames in real time: a 440 Hz sine at `gain` of full scale (0 = silence)."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.gain = 0.0
        self._start: float | None = None
        self._pts = 0

    async def recv(self) -> AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._pts += FRAME_SAMPLES
            await asyncio.sleep(max(0.0, self._start + self._pts / RATE - time.monotonic()))
        t = (np.arange(FRAME_SAMPLES) + self._pts) / RATE
        samples = (self.gain * 32767 * np.sin(2 * math.pi * TONE_HZ * t)).astype(np.int16)
        frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = RATE, self._pts, fractions.Fraction(1, RATE)
        return frame


@dataclass
class CallMeasurement:
    signalling: dict[str, Any] = field(default_factory=dict)
    media_path: dict[str, Any] = field(default_factory=lambda: {"state": "skipped"})
    echo: dict[str, Any] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    call_id: str = ""
    browser_view: dict[str, Any] = field(default_factory=dict)
    server_view: dict[str, Any] | None = None  # the server's JSON verdict for server_view


class _Listener:
    """Keeps the loudest recent level of what the server sends back, with the time it was first heard."""

    def __init__(self) -> None:
        self.heard_at: float | None = None
        self.armed_at: float | None = None
        self.level = 0.0
        self.heard = asyncio.Event()

    async def consume(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(Exception):  # the track ends with the call
            while True:
                frame = await track.recv()
                pcm = frame.to_ndarray().astype(np.float32) / 32768.0  # type: ignore[union-attr]
                rms = float(np.sqrt(np.mean(pcm * pcm))) if pcm.size else 0.0
                if self.armed_at is not None and rms > HEARD_RMS and self.heard_at is None:
                    self.heard_at, self.level = time.monotonic(), rms
                    self.heard.set()


def _ice_servers(config: dict[str, Any]) -> list[RTCIceServer]:
    servers = []
    for entry in config.get("iceServers") or []:
        servers.append(RTCIceServer(urls=entry.get("urls"), username=entry.get("username"),
                                    credential=entry.get("credential")))
    return servers


async def _quality_sample(pc: RTCPeerConnection, previous: dict[str, tuple[int, int]]) -> dict[str, Any]:
    sample: dict[str, Any] = {"rtt_ms": None, "jitter_ms": None, "loss_pct": None}
    losses: list[float] = []
    for stat in (await pc.getStats()).values():
        if stat.type == "remote-inbound-rtp":
            if getattr(stat, "roundTripTime", None) is not None:
                sample["rtt_ms"] = round(stat.roundTripTime * 1000, 2)
            losses.append(100 * float(stat.fractionLost or 0) / 256)
            sample["jitter_ms"] = max(sample["jitter_ms"] or 0, 1000 * float(stat.jitter or 0) / OPUS_CLOCK_HZ)
        elif stat.type == "inbound-rtp":
            sample["jitter_ms"] = max(sample["jitter_ms"] or 0, 1000 * float(stat.jitter or 0) / OPUS_CLOCK_HZ)
            lost, got = max(0, int(stat.packetsLost or 0)), int(stat.packetsReceived or 0)
            before = previous.get(stat.id)
            previous[stat.id] = (lost, got)
            if before is not None and (lost - before[0]) + (got - before[1]) > 0:
                losses.append(100 * (lost - before[0]) / ((lost - before[0]) + (got - before[1])))
    if losses:
        sample["loss_pct"] = round(max(losses), 2)
    return sample


def _gather_on_loopback_if_local(base_url: str) -> None:
    """aioice leaves 127.0.0.1 out of its host candidates; a server on this machine is only reachable through it
    when it listens on loopback alone (RTC_HOST_ADDRESSES=127.0.0.1, as in tests and single-host installs)."""
    host = urlsplit(base_url).hostname or ""
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if local:
        configure_host_addresses(["127.0.0.1"])


async def run_call(http: httpx.AsyncClient, csrf: str, *, mode: str, ice: dict[str, Any],
                   quality_seconds: int = th.QUALITY_SECONDS, report_id: str = "") -> CallMeasurement:
    out = CallMeasurement()
    _gather_on_loopback_if_local(str(http.base_url))
    tone, listener, session_created = ToneTrack(), _Listener(), asyncio.Event()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=_ice_servers(ice)))
    channel = pc.createDataChannel("oai-events")

    ended = asyncio.Event()  # the call is known dead: the server relayed an error (an upstream drop) or closed it

    def on_message(raw: Any) -> None:
        kind = _event_type(raw)
        if kind == "session.created":
            session_created.set()
        elif kind == "error":
            ended.set()

    channel.on("message", on_message)
    channel.on("close", ended.set)
    connected = asyncio.Event()

    def on_state() -> None:
        if pc.connectionState == "connected":
            connected.set()
        elif pc.connectionState in ("failed", "closed"):
            ended.set()

    pc.on("connectionstatechange", on_state)
    tasks: list[asyncio.Task[None]] = []
    pc.on("track", lambda track: tasks.append(asyncio.ensure_future(listener.consume(track))))
    pc.addTrack(tone)
    location = ""
    try:
        await pc.setLocalDescription(await pc.createOffer())  # aiortc gathers every candidate here
        started = time.monotonic()
        try:
            response = await http.post("/v1/realtime/calls", content=pc.localDescription.sdp,
                                       headers={"Content-Type": "application/sdp", "X-CSRF-Token": csrf},
                                       timeout=th.SIGNAL_FAIL_MS / 1000)
        except httpx.TimeoutException:
            out.signalling = {"status": 0, "timed_out": True}
            return out
        out.signalling = {"status": response.status_code, "elapsed_ms": (time.monotonic() - started) * 1000}
        if response.status_code != 201:
            with contextlib.suppress(ValueError):
                error = response.json().get("error") or {}
                out.signalling.update(error_code=error.get("code"), error_message=error.get("message"))
            return out
        location = response.headers.get("location", "")
        out.call_id = location.rsplit("/", 1)[-1]
        await pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
        server_candidates = answer_candidates(response.text)
        try:
            await asyncio.wait_for(connected.wait(), th.CONNECT_FAIL_MS / 1000)
        except TimeoutError:
            out.media_path = {"state": pc.connectionState or "timeout", "server_candidates": server_candidates,
                              "page_host": urlsplit(str(http.base_url)).hostname or ""}
            return out
        pair = selected_pair(pc)
        out.media_path = {"state": "connected", "connect_ms": (time.monotonic() - started) * 1000, **pair,
                          "server_candidates": server_candidates}
        sampler = asyncio.ensure_future(_sample(pc, quality_seconds, ended))
        out.echo = await _round_trip(tone, listener, channel, session_created, ended, mode)
        out.samples = await sampler
        rtts = [s["rtt_ms"] for s in out.samples if s["rtt_ms"] is not None]
        losses = [s["loss_pct"] for s in out.samples if s["loss_pct"] is not None]
        out.browser_view = {**pair, "rtt_ms": round(statistics.median(rtts), 1) if rtts else None,
                            "loss_pct": round(statistics.fmean(losses), 2) if losses else None}
        out.server_view = await _server_view(http, csrf, out, report_id)
        return out
    finally:
        if location:
            with contextlib.suppress(httpx.HTTPError):
                await http.delete(location, headers={"X-CSRF-Token": csrf})
        for task in tasks:
            task.cancel()
        await pc.close()


async def _sample(pc: RTCPeerConnection, seconds: int, ended: asyncio.Event) -> list[dict[str, Any]]:
    """One sample a second for `seconds`, and a few more if no RTT came yet: aiortc learns it from RTCP reports,
    which it sends every 0.5–1.5 s, so a short run can end before the first round trip is known. Stops when the
    call ended."""
    previous: dict[str, tuple[int, int]] = {}
    samples: list[dict[str, Any]] = []
    while not ended.is_set() and (len(samples) < seconds or (len(samples) < seconds + MAX_EXTRA_SAMPLES
                                                             and all(s["rtt_ms"] is None for s in samples))):
        await asyncio.sleep(1.0)
        samples.append(await _quality_sample(pc, previous))
    return samples


def _event_type(raw: Any) -> str:
    if not isinstance(raw, str) or '"type"' not in raw:
        return ""
    try:
        event = json.loads(raw)
    except ValueError:
        return ""
    return str(event.get("type") or "") if isinstance(event, dict) else ""


async def _first(*events: asyncio.Event, timeout: float) -> None:
    """Wait until one of `events` is set, at most `timeout` seconds."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def _round_trip(tone: ToneTrack, listener: _Listener, channel: Any, session_created: asyncio.Event,
                      ended: asyncio.Event, mode: str) -> dict[str, Any]:
    await _first(session_created, ended, timeout=3.0)
    if mode == "echo":  # a tone burst; the echo upstream plays it back after its VAD hears the pause
        tone.gain = 0.3
        await asyncio.sleep(TONE_S)
        tone.gain = 0.0
    else:  # a real model answers a request: time to its first audio
        if channel.readyState == "open":
            channel.send(json.dumps({"type": "response.create", "response": {"instructions": "Say OK."}}))
    listener.armed_at = time.monotonic()
    # no use waiting the full time for a call that already ended (its echo row names the drop)
    await _first(listener.heard, ended, timeout=th.ROUND_TRIP_WAIT_MS / 1000)
    if listener.heard_at is None:
        waited_ms = round((time.monotonic() - listener.armed_at) * 1000)
        return {"mode": mode, "heard": False, "ended_early": ended.is_set(), "waited_ms": waited_ms}
    return {"mode": mode, "heard": True, "delay_ms": (listener.heard_at - listener.armed_at) * 1000,
            "level": round(listener.level, 3)}


async def _server_view(http: httpx.AsyncClient, csrf: str, out: CallMeasurement,
                       report_id: str) -> dict[str, Any] | None:
    with contextlib.suppress(httpx.HTTPError, ValueError):
        response = await http.post("/diagnostics/checks/server_view",
                                   json={"report_id": report_id,
                                         "values": {"call_id": out.call_id, "browser": out.browser_view}},
                                   headers={"X-CSRF-Token": csrf, "Accept": "application/json"})
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            return body
    return None
