"""The server side of the capacity benchmark, run in its own process:

    BENCH_IMPL=ours|stock python -m uvicorn bench.server:create_bench_app --factory --port N

`ours` opens calls through the production `CallRegistry` (so every call is a real `Call`); `stock` through the
baseline `StockRelay`. Both talk to a `ToneSession` (audio both ways, all the time). No auth: this measures media.
The stock process never touches our audio helpers, so it keeps FFmpeg's default threading.
"""

from __future__ import annotations

import os
import resource
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bench.common import ArrivalTap
from bench.sessions import ToneSession
from bench.stock import StockRelay
from web.media.calls import CallRegistry
from web.media.rtc.call import Call
from web.media.rtc.ice import configure_host_addresses
from web.media.rtc.transport import RtcTransport
from web.settings import Settings

LATE_UPLINK_MS = 40.0


class StockCounters:
    def __init__(self) -> None:
        self.relays: list[tuple[StockRelay, ArrivalTap]] = []
        self.uplink_chunks = 0
        self.uplink_late = 0

    def chunk_done(self, tap: ArrivalTap, pts: int) -> None:
        import time

        arrived = tap.arrivals.pop(pts, None)
        if arrived is not None:
            self.uplink_chunks += 1
            self.uplink_late += (time.monotonic() - arrived) * 1000 > LATE_UPLINK_MS


def create_bench_app() -> Starlette:
    impl = os.environ.get("BENCH_IMPL", "ours")
    settings = Settings(app_env="test", secret_key="b" * 40, max_calls_per_user=10_000,
                        max_calls_per_process=10_000, rtc_host_addresses=("127.0.0.1",))
    registry = CallRegistry(settings, session_factory=ToneSession)
    rtc = RtcTransport(settings, registry)
    stock = StockCounters()

    async def offer(request: Request) -> Response:
        sdp = (await request.body()).decode()
        if impl == "ours":
            _call, answer = await rtc.open_call(await registry.admit(0, "webrtc"), credential=None, offer_sdp=sdp)
            return PlainTextResponse(answer, status_code=201)
        tap = ArrivalTap()
        relay = StockRelay(ToneSession(), on_chunk=lambda pts: stock.chunk_done(tap, pts))
        answer = await relay.answer(sdp)
        tap.install(relay.transceiver.receiver)
        stock.relays.append((relay, tap))
        return PlainTextResponse(answer, status_code=201)

    async def stats(_request: Request) -> Response:
        ticks = sorted(lag_samples)
        out: dict[str, Any] = {"impl": impl, "threads": len(os.listdir("/proc/self/task")),
                               "max_loop_lag_ms": round(lag["max_ms"], 1),
                               "loop_lag_p99_ms": round(ticks[int(0.99 * (len(ticks) - 1))], 2) if ticks else None,
                               "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
        if impl == "ours":
            calls = [c for c in registry.live_calls() if isinstance(c, Call)]
            out.update(calls=len(calls), frames=sum(c.playout.frames for c in calls),
                       late_frames=sum(c.playout.late_frames for c in calls),
                       uplink_chunks=sum(c.uplink_chunks for c in calls),
                       uplink_late=sum(c.uplink_late for c in calls))
        else:
            outs = [relay.out for relay, _tap in stock.relays]
            out.update(calls=len(outs), frames=sum(o.frames for o in outs),
                       late_frames=sum(o.late_frames for o in outs),
                       uplink_chunks=stock.uplink_chunks, uplink_late=stock.uplink_late)
        lag["max_ms"] = 0.0
        lag_samples.clear()
        return JSONResponse(out)

    async def close_all(_request: Request) -> Response:
        await registry.close_all("bench")
        for relay, _tap in stock.relays:
            await relay.close()
        stock.relays.clear()
        return PlainTextResponse("ok")

    lag = {"max_ms": 0.0}
    lag_samples: list[float] = []  # every 10 ms tick's lateness since the last /stats

    async def watch_lag() -> None:
        import asyncio
        import time

        while True:
            began = time.monotonic()
            await asyncio.sleep(0.01)
            late = (time.monotonic() - began - 0.01) * 1000
            lag["max_ms"] = max(lag["max_ms"], late)
            if len(lag_samples) < 100_000:
                lag_samples.append(late)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        import asyncio

        if impl == "ours":
            registry.start()
            rtc.start()
        else:
            configure_host_addresses(settings.rtc_host_addresses)
        task = asyncio.create_task(watch_lag())
        yield
        task.cancel()

    return Starlette(routes=[Route("/offer", offer, methods=["POST"]), Route("/stats", stats),
                             Route("/close-all", close_all, methods=["POST"])], lifespan=lifespan)
