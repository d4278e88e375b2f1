"""CPU and memory of the app process per concurrent WebSocket call.

N clients each hold one `/v1/realtime` call and talk all the time: 1 s of speech then 1.5 s of silence, appended in
20 ms frames paced like a microphone (50 frames/s), while the fake Azure answers every turn with a 600 ms reply tone
(streamed at 10× real time in 100 ms deltas). The app, the fake and the clients are separate processes; only the
app's CPU (user + system, from /proc via psutil) and RSS are measured, over a window after a warm-up. Per-call cost is
the difference from the idle server, divided by N.

    .venv/bin/python -m bench.ws_capacity [--calls 1 5 10 20] [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from websockets.asyncio.client import ClientConnection, connect

from bench.ws_common import device_token, machine, speech, stack

WARMUP_S = 3.0


class Talker:
    """One device: keeps a call open and talks in turns; counts the replies it hears."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.replies = self.deltas = self.sent = 0
        pcm = np.concatenate([speech(24_000, 1000), np.zeros(36_000, np.int16)]).tobytes()
        self.frames = [base64.b64encode(pcm[i:i + 960]).decode() for i in range(0, len(pcm), 960)]

    async def run(self, stop: asyncio.Event) -> None:
        async with connect(self.url, additional_headers={"Authorization": f"Bearer {self.token}"},
                           max_size=None) as ws:
            listener = asyncio.create_task(self.listen(ws))
            start, n = time.monotonic(), 0
            while not stop.is_set():
                await asyncio.sleep(max(0.0, start + (n + 1) * 0.02 - time.monotonic()))
                frame = self.frames[n % len(self.frames)]
                await ws.send('{"type":"input_audio_buffer.append","audio":"' + frame + '"}')
                n += 1
                self.sent += 1
            listener.cancel()

    async def listen(self, ws: ClientConnection) -> None:
        async for message in ws:
            kind = json.loads(message)["type"]
            self.deltas += kind == "response.output_audio.delta"
            self.replies += kind == "response.done"


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def load(url: str, token: str, calls: int, seconds: float, app: psutil.Process,
               others: dict[str, psutil.Process]) -> dict[str, Any]:
    stop = asyncio.Event()
    talkers = [Talker(url, token) for _ in range(calls)]
    tasks = [asyncio.create_task(t.run(stop)) for t in talkers]
    await asyncio.sleep(WARMUP_S)
    cpu0, wall0, replies0 = cpu_seconds(app), time.monotonic(), sum(t.replies for t in talkers)
    others0 = {name: cpu_seconds(process) for name, process in others.items()}
    sent0 = sum(t.sent for t in talkers)
    await asyncio.sleep(seconds)
    cpu1, wall1 = cpu_seconds(app), time.monotonic()
    others_pct = {f"{name}_cpu_pct": round(100 * (cpu_seconds(process) - others0[name]) / (wall1 - wall0), 1)
                  for name, process in others.items()}
    rss = app.memory_info().rss
    replies = sum(t.replies for t in talkers) - replies0
    sent = sum(t.sent for t in talkers) - sent0
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    failed = [t for t in tasks if t.exception() is not None]
    await asyncio.sleep(1.0)  # let the server close the calls before the next step
    return {"calls": calls, "cpu_pct": round(100 * (cpu1 - cpu0) / (wall1 - wall0), 1),
            "rss_mb": round(rss / 2**20, 1), "failed_calls": len(failed),
            "replies_per_call_per_min": round(60 * replies / max(calls, 1) / seconds, 1),
            "appends_per_call_per_s": round(sent / max(calls, 1) / (wall1 - wall0), 1), **others_pct}


async def measure(steps: list[int], seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, stack(Path(tmp)) as running:
        token = await device_token(running.http_url)
        app = psutil.Process(running.app.pid)
        # the fake upstream and this client process share the machine: their CPU says when they, not the app, limit
        others = {"fake_upstream": psutil.Process(running.fake.pid), "clients": psutil.Process()}
        rows = [await load(running.ws_url, token, n, seconds, app, others) for n in [0, *steps]]
    idle = rows[0]
    for row in rows[1:]:
        row["cpu_pct_per_call"] = round((row["cpu_pct"] - idle["cpu_pct"]) / row["calls"], 2)
        row["rss_mb_per_call"] = round((row["rss_mb"] - idle["rss_mb"]) / row["calls"], 2)
    return {"machine": machine(), "window_s": seconds, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 5, 10, 20])
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.calls, args.seconds)), indent=2))


if __name__ == "__main__":
    main()
