"""Two-way calls carried by one gateway process and by two (one per core), with the clients in their own process, and
the event-loop lag of running calls while new calls arrive; beside the codec floor measured in the same run.

    .venv/bin/python -m bench.workers            # prints JSON and writes bench/workers.json

Servers are `bench.server` processes (the production `Call` through `CallRegistry`/`RtcTransport`, a tone upstream,
no auth), one per worker, each on its own port: the media cost of a worker is the same whether the kernel hands it
connections on a shared port or not. Calls are spread over the servers in turn. A level passes as in
`bench/capacity.py`: < 1 % late outbound frames, >= 99 % of inbound frames delivered upstream, clients receive >= 99 %.

Arrival lag: with `ARRIVING_BASE` calls running, `ARRIVING_NEW` more are set up one after another while the servers
record every 10 ms tick's lateness; the p99 and the maximum over that window are reported, beside a window with no
arrivals.

Codec floor (the issue's definition): the CPU time, in this process, of what one call's audio needs at the least with
stock tools: Opus decode of the uplink (FFmpeg), resampling 48 → 24 kHz, resampling the reply 24 → 48 kHz and Opus
encode (libopus defaults), for 10 s of audio; as % of one core. Measured before and after the ramps.

Gateway codec work: the same 10 s through the codec calls the gateway itself makes (`web.media.audio.opus`: libopus
decoding straight to 24 kHz, encoding mono from 24 kHz at complexity 5, no resampling). It is cheaper than the floor
above, so "per call ÷ gateway codec" says how much of a call's cost lies outside the codec (RTP, SRTP, ICE, pacing).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import psutil
from aiortc import RTCPeerConnection

from bench.capacity import _connect, _system_busy
from bench.common import CountingPath, machine, opus_payloads, script
from tests.support import free_port
from web.media.audio.opus import OpusMonoDecoder, OpusMonoEncoder
from web.media.rtc.ice import configure_host_addresses

ROOT = Path(__file__).resolve().parents[1]
WINDOW_S = 10.0
LEVELS = (24, 32, 40, 48)  # the arrival step leaves 24 calls running
ARRIVING_BASE, ARRIVING_NEW = 16, 8


async def _start(count: int) -> list[tuple[asyncio.subprocess.Process, str]]:
    servers = []
    for _ in range(count):
        port = free_port()
        env = {**os.environ, "BENCH_IMPL": "ours", "PYTHONPATH": str(ROOT)}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "uvicorn", "bench.server:create_bench_app", "--factory", "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning", cwd=ROOT, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        servers.append((process, f"http://127.0.0.1:{port}"))
    async with httpx.AsyncClient() as http:
        for _process, url in servers:
            for _ in range(200):
                try:
                    if (await http.get(url + "/stats")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
    return servers


async def _stats(http: httpx.AsyncClient, urls: list[str]) -> list[dict[str, Any]]:
    return [(await http.get(url + "/stats")).json() for url in urls]


async def _window(http: httpx.AsyncClient, urls: list[str], procs: list[psutil.Process],
                  counters: list[CountingPath], seconds: float = WINDOW_S) -> dict[str, Any]:
    me = psutil.Process()
    s0, c0, m0 = await _stats(http, urls), [p.cpu_times() for p in procs], me.cpu_times()
    p0, t0, busy0 = [c.packets for c in counters], time.monotonic(), _system_busy()
    await asyncio.sleep(seconds)
    s1, c1, m1 = await _stats(http, urls), [p.cpu_times() for p in procs], me.cpu_times()
    p1, t1, busy1 = [c.packets for c in counters], time.monotonic(), _system_busy()
    wall, n = t1 - t0, len(counters)

    def total(stats: list[dict[str, Any]], key: str) -> int:
        return sum(int(s[key]) for s in stats)

    frames = max(1, total(s1, "frames") - total(s0, "frames"))
    delivered = (total(s1, "uplink_chunks") - total(s0, "uplink_chunks")) / (n * wall * 50)
    received = sum(b - a for a, b in zip(p0, p1, strict=True)) / (n * wall * 50)
    cpu = 100 * sum((b.user + b.system) - (a.user + a.system) for a, b in zip(c0, c1, strict=True)) / wall
    client_cpu = 100 * ((m1.user + m1.system) - (m0.user + m0.system)) / wall
    row = {
        "calls": n, "servers": len(urls), "server_cpu_pct": round(cpu, 1), "cpu_per_call_pct": round(cpu / n, 2),
        "client_cpu_pct": round(client_cpu, 1),
        "other_cpu_pct": round(max(0.0, 100 * (busy1 - busy0) / wall - cpu - client_cpu), 1),
        "downlink_late_pct": round(100 * (total(s1, "late_frames") - total(s0, "late_frames")) / frames, 2),
        "uplink_delivered_pct": round(100 * delivered, 1), "client_received_pct": round(100 * received, 1),
        "loop_lag_p99_ms": max(s.get("loop_lag_p99_ms") or 0 for s in s1),
        "loop_lag_max_ms": max(s.get("max_loop_lag_ms") or 0 for s in s1),
    }
    row["ok"] = row["downlink_late_pct"] < 1 and row["uplink_delivered_pct"] >= 99 and row["client_received_pct"] >= 99
    return row


async def ramp(count: int, levels: tuple[int, ...] = LEVELS) -> dict[str, Any]:
    payloads = opus_payloads(script([(1.0, 0.3), (1.0, 0.0)]))
    servers = await _start(count)
    urls = [url for _p, url in servers]
    procs = [psutil.Process(p.pid) for p, _url in servers]
    clients: list[tuple[RTCPeerConnection, CountingPath]] = []
    rows: list[dict[str, Any]] = []
    arrival: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            await asyncio.sleep(1.0)
            while len(clients) < ARRIVING_BASE:
                clients.append(await _connect(http, urls[len(clients) % count], payloads))
            await asyncio.sleep(1.0)
            quiet = await _window(http, urls, procs, [c for _pc, c in clients], 5.0)

            async def arrive() -> None:
                for _ in range(ARRIVING_NEW):
                    clients.append(await _connect(http, urls[len(clients) % count], payloads))

            await _stats(http, urls)  # reset the lag samples
            began = time.monotonic()
            await arrive()
            arriving = await _stats(http, urls)
            arrival = {"running_calls": ARRIVING_BASE, "new_calls": ARRIVING_NEW,
                       "setup_s": round(time.monotonic() - began, 2),
                       "loop_lag_p99_ms_arriving": max(s.get("loop_lag_p99_ms") or 0 for s in arriving),
                       "loop_lag_max_ms_arriving": max(s.get("max_loop_lag_ms") or 0 for s in arriving),
                       "loop_lag_p99_ms_quiet": quiet["loop_lag_p99_ms"],
                       "loop_lag_max_ms_quiet": quiet["loop_lag_max_ms"]}
            print(f"  arrival, {count} server(s): {arrival}", flush=True)
            for level in levels:
                while len(clients) < level:
                    clients.append(await _connect(http, urls[len(clients) % count], payloads))
                await asyncio.sleep(1.0)
                row = await _window(http, urls, procs, [c for _pc, c in clients])
                rows.append(row)
                print(f"  {count} server(s): {row}", flush=True)
                if not row["ok"]:
                    break
            for url in urls:
                await http.post(url + "/close-all")
    finally:
        for pc, _counter in clients:
            await pc.close()
        for process, _url in servers:
            process.terminate()
            await asyncio.wait_for(process.wait(), 10)
    return {"levels": rows, "max_calls_ok": max((r["calls"] for r in rows if r["ok"]), default=0),
            "arrival": arrival}


def _codec_input(seconds: float) -> tuple[list[bytes], np.ndarray]:
    """The uplink (Opus payloads of half speech-like tone, half silence) and 20 ms of a 24 kHz reply tone."""
    payloads = opus_payloads(script([(seconds / 2, 0.3), (seconds / 2, 0.0)]))[: int(seconds * 50)]
    t = np.arange(480) / 24_000
    return payloads, (0.3 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)  # a tone, not silence


def _cpu_share(seconds: float, began: float) -> dict[str, Any]:
    used = time.process_time() - began
    return {"audio_s": seconds, "cpu_s": round(used, 3), "cpu_pct_of_core": round(100 * used / seconds, 2)}


def codec_floor(seconds: float = 10.0) -> dict[str, Any]:
    """CPU % of one core for one call's minimum audio work with stock tools (see the module docstring)."""
    payloads, tone = _codec_input(seconds)
    decoder = av.CodecContext.create("opus", "r")
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 48_000, "stereo", "s16"
    encoder.bit_rate, encoder.time_base = 32_000, Fraction(1, 48_000)
    down = av.AudioResampler(format="s16", layout="mono", rate=24_000)
    up = av.AudioResampler(format="s16", layout="stereo", rate=48_000)
    reply = tone.reshape(1, -1)
    began = time.process_time()
    pts = 0
    for payload in payloads:
        for frame in decoder.decode(av.Packet(payload)):
            down.resample(frame)
        out = av.AudioFrame.from_ndarray(reply, format="s16", layout="mono")
        out.sample_rate, out.pts, out.time_base = 24_000, pts, Fraction(1, 24_000)
        pts += 480
        for frame in up.resample(out):
            encoder.encode(frame)
    return _cpu_share(seconds, began)


def gateway_codec(seconds: float = 10.0) -> dict[str, Any]:
    """CPU % of one core for the codec calls the gateway makes per call (see the module docstring)."""
    payloads, tone = _codec_input(seconds)
    decoder, encoder = OpusMonoDecoder(24_000), OpusMonoEncoder(24_000)
    reply = tone.tobytes()
    began = time.process_time()
    for payload in payloads:
        decoder.decode(payload)
        encoder.encode(reply)
    return _cpu_share(seconds, began)


async def run() -> dict[str, Any]:
    configure_host_addresses(["127.0.0.1"])  # the clients gather where the servers do (loopback only)
    floor_before, ours_before = codec_floor(), gateway_codec()
    one = await ramp(1, LEVELS[:3])
    two = await ramp(2)
    floor_after, ours_after = codec_floor(), gateway_codec()
    return {"machine": machine(), "load_average": os.getloadavg(), "codec_floor": [floor_before, floor_after],
            "gateway_codec": [ours_before, ours_after], "one_process": one, "two_processes": two}


def main() -> int:
    results = asyncio.run(run())
    out = ROOT / "bench" / "workers.json"
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in results.items() if k != "machine"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
