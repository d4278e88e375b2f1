"""Do usage metering and its database writes add anything measurable to the audio path?

Two measurements, in one process, as the gateway runs them:

A. The meter's own cost per relayed upstream event (it runs on the session's reader task, synchronously): a 100 ms
   `response.output_audio.delta` (6,400 base64 characters) and a full `response.done` with usage.
B. The audio path's pacing while records are written: a task that wakes every 20 ms (like the uplink's 20 ms chunks)
   measures how late each wake-up is, (1) idle, (2) while the recorder writes conversation records to SQLite as fast
   as its queue gives them (a burst far above any real rate: a record is written once per conversation), (3) at
   10 records a second (still above a team's rate: ten conversations ending every second). Phases alternate in
   rounds; p50/p99/max lateness are reported per phase.

    .venv/bin/python -m bench.usage_overhead [--rounds 6] [--seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.ws_common import machine
from tests.conftest import make_settings
from tests.fake_realtime import FakeOptions
from tests.fake_realtime.reply import realistic_usage
from web.db import Database
from web.usage.meter import ConversationMeter
from web.usage.recorder import UsageRecorder
from web.usage.tokens import PriceTable

TICK_S = 0.020


def meter_cost_us(settings: Any) -> dict[str, float]:
    meter = ConversationMeter({"call_id": "rtc_bench", "user_id": 1, "transport": "webrtc"}, upstream="bench",
                              prices=PriceTable.from_settings(settings), on_end=lambda _m: None)
    delta = {"type": "response.output_audio.delta", "delta": base64.b64encode(bytes(4800)).decode()}
    done = {"type": "response.done", "response": {"id": "resp", "usage": realistic_usage(FakeOptions())}}
    out = {}
    for name, event in (("audio_delta", delta), ("response_done", done)):
        n = 200_000
        began = time.perf_counter()
        for _ in range(n):
            meter.upstream_event(event)
        out[name] = round((time.perf_counter() - began) / n * 1e6, 3)
    return out


async def lateness(seconds: float) -> list[float]:
    late = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        began = time.perf_counter()
        await asyncio.sleep(TICK_S)
        late.append((time.perf_counter() - began - TICK_S) * 1000)
    return late


def record(i: int) -> dict[str, Any]:
    meter = ConversationMeter({"call_id": f"rtc_{i}", "user_id": 1, "transport": "webrtc"}, upstream="bench",
                              prices=PriceTable(*([1.0] * 11)), on_end=lambda _m: None)
    return meter.record()


async def main(rounds: int, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(Path(tmp))
        db = Database(settings.effective_database_url)
        await db.migrate()
        await db.execute("INSERT INTO users (email, password_hash, created_at) VALUES ('b@x', '', 0)")
        recorder = UsageRecorder(db, settings)
        phases: dict[str, list[float]] = {"idle": [], "writing_burst": [], "writing_10_per_s": []}
        written = 0
        for _ in range(rounds):
            phases["idle"] += await lateness(seconds)
            stop = asyncio.Event()

            async def feed(pause: float, stop: asyncio.Event = stop) -> None:
                nonlocal written
                while not stop.is_set():
                    await recorder._write(record(written))  # the writer task's own step
                    written += 1
                    if pause:
                        await asyncio.sleep(pause)

            for phase, pause in (("writing_burst", 0.0), ("writing_10_per_s", 0.1)):
                stop.clear()
                writer = asyncio.create_task(feed(pause))
                phases[phase] += await lateness(seconds)
                stop.set()
                await writer
        await db.close()
    result: dict[str, Any] = {"machine": machine(), "meter_cost_us_per_event": meter_cost_us(settings),
                              "records_written": written, "tick_ms": TICK_S * 1000}
    for name, values in phases.items():
        values.sort()
        result[f"lateness_ms_{name}"] = {
            "n": len(values), "p50": round(statistics.median(values), 3),
            "p99": round(values[int(len(values) * 0.99)], 3), "max": round(values[-1], 3)}
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.rounds, args.seconds)), indent=2))
