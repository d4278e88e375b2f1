"""End of user speech → first reply audio leaving the server, against the project's fake Realtime server (Azure GA)
answering at once (no added delay, audio streamed at 10× real time).

"End of speech" is the arrival at the server of the last voiced 20 ms frame of a turn; "first reply audio leaving"
is the moment the outbound track hands the first reply frame to aiortc's sender. The fake's server VAD ends a turn
after 500 ms of silence, like the real service's default, so ~500 ms of every number is that wait by design; the
breakdown separates it. Ours (production `Call` + `RealtimeSession`) and the stock relay run in the same process.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bench.common import ArrivalTap, PacedFrames, median, pct, script
from bench.stock import StockRelay
from tests.fake_realtime import FakeOptions, FakeRealtimeServer
from web.media.realtime import create_realtime_session
from web.media.rtc.call import Call
from web.settings import Settings

VOICED_S, SILENT_S = 1.0, 2.5
CYCLE_FRAMES = int((VOICED_S + SILENT_S) * 50)
VOICED_FRAMES = int(VOICED_S * 50)


def _settings(fake: FakeRealtimeServer) -> Settings:
    return Settings(app_env="test", secret_key="x" * 40, **fake.settings_overrides("azure"))


async def _client(answer_for: Any) -> RTCPeerConnection:
    client = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    client.addTrack(PacedFrames(script([(VOICED_S, 0.3), (SILENT_S, 0.0)])))
    await client.setLocalDescription(await client.createOffer())
    assert client.localDescription is not None
    await client.setRemoteDescription(RTCSessionDescription(sdp=await answer_for(client.localDescription.sdp),
                                                            type="answer"))
    return client


def _speech_ends(tap: ArrivalTap) -> list[float]:
    ends = []
    for cycle in range(1000):
        ts = (cycle * CYCLE_FRAMES + VOICED_FRAMES - 1) * 960
        if ts not in tap.arrivals:
            break
        ends.append(tap.arrivals[ts])
    return ends


def _pair(ends: list[float], starts: list[float]) -> list[float]:
    """For each speech end, the first reply start after it (ms)."""
    out = []
    for end in ends:
        later = [s for s in starts if s > end]
        if later and later[0] - end < SILENT_S + VOICED_S:
            out.append((later[0] - end) * 1000)
    return out


async def run_ours(fake: FakeRealtimeServer, seconds: float) -> dict[str, Any]:
    session = create_realtime_session(_settings(fake), user_id=0, log_context={"bench": "turn"})
    call = Call(call_id="bench", user_id=0, credential=None, session=session,
                rtc_config=RTCConfiguration(iceServers=[]), on_closed=lambda _c: None)
    tap = ArrivalTap()
    starts: list[float] = []
    stopped: list[float] = []
    deltas: list[float] = []
    original_started, original_handle = call.playout._on_started, call.downlink.handle

    def started(item_id: str) -> None:
        starts.append(time.monotonic())
        if original_started is not None:
            original_started(item_id)

    async def handle(event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "input_audio_buffer.speech_stopped":
            stopped.append(time.monotonic())
        elif kind == "response.output_audio.delta" and len(deltas) < len(stopped):
            deltas.append(time.monotonic())
        await original_handle(event)

    call.playout._on_started = started
    call.downlink.handle = handle  # type: ignore[method-assign]

    async def answer(offer: str) -> str:
        sdp = await call.open(offer, None, "")
        tap.install(call.pc.getTransceivers()[0].receiver)
        return sdp

    client = await _client(answer)
    await asyncio.sleep(seconds)
    await call.close("bench")
    await client.close()
    ends = _speech_ends(tap)
    totals = _pair(ends, starts)
    return {
        "turns": len(totals), "median_ms": median(totals), "p95_ms": pct(totals, 0.95),
        "speech_end_to_speech_stopped_ms": median(_pair(ends, stopped)),
        "speech_stopped_to_first_delta_ms": median(_pair(stopped, deltas)),
        "first_delta_to_audio_out_ms": median(_pair(deltas, starts)),
    }


async def run_stock(fake: FakeRealtimeServer, seconds: float) -> dict[str, Any]:
    session = create_realtime_session(_settings(fake), user_id=0, log_context={"bench": "turn-stock"})
    relay = StockRelay(session)
    tap = ArrivalTap()

    async def answer(offer: str) -> str:
        sdp = await relay.answer(offer)
        tap.install(relay.transceiver.receiver)
        return sdp

    client = await _client(answer)
    await asyncio.sleep(seconds)
    await relay.close()
    await client.close()
    totals = _pair(_speech_ends(tap), relay.out.starts)
    return {"turns": len(totals), "median_ms": median(totals), "p95_ms": pct(totals, 0.95)}


async def end_of_speech_to_reply(seconds: float = 40.0) -> dict[str, Any]:
    options = FakeOptions(first_audio_delay_s=0.0, audio_speed=10.0, reply_ms=600)
    async with FakeRealtimeServer(options) as fake:
        ours = await run_ours(fake, seconds)
        print(f"  end of speech → reply, ours: {ours}", flush=True)
    async with FakeRealtimeServer(options) as fake:
        stock = await run_stock(fake, seconds)
        print(f"  end of speech → reply, stock aiortc: {stock}", flush=True)
    return {"ours": ours, "stock aiortc": stock, "vad_silence_ms": 500}
