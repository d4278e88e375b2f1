"""Server receive latency: RTP packet arrives (after SRTP) → its audio is handed to the upstream session.

Ours is the production `Call` (DirectAudioPath → bounded queue → pump task → `append_audio`); the baseline is
`StockRelay` (aiortc jitter buffer → decoder thread → `track.recv()` → PyAV resampler → `append_audio`). Both get the
same aiortc client on loopback, the same `ArrivalTap` (which also drops packets to simulate loss), and the same
recording session. Latency is measured per 20 ms frame that arrived; frames that were lost have no latency.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bench.common import ArrivalTap, PacedFrames, burst_loss, median, pct, random_loss, script
from bench.sessions import RecordingSession
from bench.stock import StockRelay
from web.media.rtc.call import Call

TARGET_MS = 40.0
WARMUP_S = 1.0


def _scenario_drop(name: str) -> Any:
    if name == "2% loss":
        return random_loss(0.02)
    if name == "burst":
        return burst_loss(250, 5)  # 100 ms lost, 5 s in
    return lambda index: False


async def _client(offer_to_answer: Any) -> RTCPeerConnection:
    client = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    client.addTrack(PacedFrames(script([(1.0, 0.3), (0.2, 0.0)])))
    await client.setLocalDescription(await client.createOffer())
    assert client.localDescription is not None
    answer = await offer_to_answer(client.localDescription.sdp)
    await client.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return client


async def run_ours(scenario: str, seconds: float) -> list[tuple[float, float]]:
    """[(arrival time, latency ms)] for every frame that arrived."""
    session = RecordingSession()
    call = Call(call_id="bench", user_id=0, credential=None, session=session,
                rtc_config=RTCConfiguration(iceServers=[]), on_closed=lambda _c: None)
    tap = ArrivalTap(drop=_scenario_drop(scenario))

    async def answer(offer: str) -> str:
        sdp = await call.open(offer, None, "")
        tap.install(call.pc.getTransceivers()[0].receiver)
        return sdp

    client = await _client(answer)
    await asyncio.sleep(seconds)
    appends = list(session.appends)
    await call.close("bench")
    await client.close()
    out = []
    for k, (at, _size) in enumerate(appends):  # chunk k carries frame k (fills keep the timeline aligned)
        arrived = tap.arrivals.get(k * 960)
        if arrived is not None:
            out.append((arrived, (at - arrived) * 1000))
    return out


async def run_stock(scenario: str, seconds: float) -> list[tuple[float, float]]:
    done: list[tuple[int, float]] = []
    relay = StockRelay(RecordingSession(), on_chunk=lambda pts: done.append((pts, time.monotonic())))
    tap = ArrivalTap(drop=_scenario_drop(scenario))

    async def answer(offer: str) -> str:
        sdp = await relay.answer(offer)
        tap.install(relay.transceiver.receiver)
        return sdp

    client = await _client(answer)
    await asyncio.sleep(seconds)
    await relay.close()
    await client.close()
    return [(tap.arrivals[pts], (at - tap.arrivals[pts]) * 1000) for pts, at in done if pts in tap.arrivals]


def summarise(samples: list[tuple[float, float]], scenario: str) -> dict[str, Any]:
    if not samples:
        return {"frames": 0}
    t0 = samples[0][0]
    steady = [ms for at, ms in samples if at - t0 >= WARMUP_S]
    out: dict[str, Any] = {"frames": len(steady), "median_ms": median(steady), "p99_ms": pct(steady, 0.99),
                           "over_target_pct": round(100 * sum(ms > TARGET_MS for ms in steady) / len(steady), 2)}
    if scenario == "burst":
        burst_at = t0 + 5.0  # the burst starts at packet 250 (5 s); find the first frame after it
        after = [(at, ms) for at, ms in samples if at > burst_at]
        before = [ms for at, ms in samples if t0 + WARMUP_S <= at < burst_at]
        recovered = None
        for i, (at, _ms) in enumerate(after):
            if all(later <= TARGET_MS for _a, later in after[i:]):
                recovered = round((at - after[0][0]) * 1000) if after else None
                break
        out.update(before_median_ms=median(before), after_median_ms=median([ms for _a, ms in after]),
                   recovery_ms=recovered)
    return out


async def receive_latency(seconds: float = 15.0) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for scenario in ("0% loss", "2% loss", "burst"):
        for name, runner in (("ours", run_ours), ("stock aiortc", run_stock)):
            results.setdefault(scenario, {})[name] = summarise(await runner(scenario, seconds), scenario)
            print(f"  receive latency, {scenario}, {name}: {results[scenario][name]}", flush=True)
    return results
