"""Concurrent two-way calls: CPU and memory per call, threads per call, and how many calls run with < 1 % late
frames. The server (bench/server.py) runs in its own process; this process hosts the light aiortc clients.

A level of N calls passes ("ok") when, over a 10 s window: < 1 % of the server's outbound frames were late (more than
20 ms behind their schedule), the server handed >= 99 % of the inbound frames to the upstream, and the clients
received >= 99 % of the 50 packets/s they should. The ramp stops at the first level that fails. The machine is
shared with other work, so each level is measured in the first of up to 4 windows in which other processes used less
than 30 % of a core (or the quietest of the 4). Separately,
"uplink_late_pct" counts inbound frames that took more than 40 ms from arrival to the upstream: our target, which the
stock receiver misses by design (its jitter buffer alone holds 80 ms), so it is reported, not used to stop the ramp.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from aiortc import RTCPeerConnection, RTCSessionDescription

from bench.common import CountingPath, PacedPackets, counting_client, opus_payloads, script
from tests.support import free_port
from web.media.rtc.ice import configure_host_addresses

ROOT = Path(__file__).resolve().parents[1]
LEVELS = (1, 4, 8, 12, 16, 20, 24, 28, 32, 40)
WINDOW_S = 10.0
ATTEMPTS = 4
QUIET_OTHER_CPU = 30.0


def _system_busy() -> float:
    """CPU-seconds the machine's processes used (user + nice + system, all cores), to see load from outside this
    benchmark. Interrupt and softirq time is left out: it is mostly the kernel moving our own loopback packets."""
    times = psutil.cpu_times()
    return float(times.user + times.nice + times.system)


async def _start_server(impl: str) -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    env = {**os.environ, "BENCH_IMPL": impl, "PYTHONPATH": str(ROOT)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "uvicorn", "bench.server:create_bench_app", "--factory", "--host", "127.0.0.1",
        "--port", str(port), "--log-level", "warning",
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as http:
        for _ in range(200):
            try:
                if (await http.get(url + "/stats")).status_code == 200:
                    return process, url
            except httpx.TransportError:
                await asyncio.sleep(0.05)
    process.kill()
    raise RuntimeError("bench server did not start")


async def _connect(http: httpx.AsyncClient, url: str, payloads: list[bytes]) -> tuple[RTCPeerConnection, CountingPath]:
    pc, counter = counting_client(PacedPackets(payloads))
    await pc.setLocalDescription(await pc.createOffer())
    assert pc.localDescription is not None
    response = await http.post(url + "/offer", content=pc.localDescription.sdp.encode())
    response.raise_for_status()
    connected = asyncio.Event()
    pc.on("connectionstatechange", lambda: connected.set() if pc.connectionState == "connected" else None)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
    await asyncio.wait_for(connected.wait(), 15)
    return pc, counter


async def _measure(http: httpx.AsyncClient, url: str, server: psutil.Process, counters: list[CountingPath],
                   baseline: dict[str, Any]) -> dict[str, Any]:
    me = psutil.Process()
    s0, c0, m0, p0, t0 = (await http.get(url + "/stats")).json(), server.cpu_times(), me.cpu_times(), \
        [c.packets for c in counters], time.monotonic()
    busy0 = _system_busy()
    await asyncio.sleep(WINDOW_S)
    s1, c1, m1, p1, t1 = (await http.get(url + "/stats")).json(), server.cpu_times(), me.cpu_times(), \
        [c.packets for c in counters], time.monotonic()
    busy1 = _system_busy()
    wall, n = t1 - t0, len(counters)
    frames = max(1, s1["frames"] - s0["frames"])
    chunks = max(1, s1["uplink_chunks"] - s0["uplink_chunks"])
    received = sum(b - a for a, b in zip(p0, p1, strict=True)) / (n * wall * 50)
    delivered = (s1["uplink_chunks"] - s0["uplink_chunks"]) / (n * wall * 50)
    cpu = 100 * ((c1.user + c1.system) - (c0.user + c0.system)) / wall
    rss = server.memory_info().rss / 2**20
    client_cpu = 100 * ((m1.user + m1.system) - (m0.user + m0.system)) / wall
    out = {
        "calls": n, "server_cpu_pct": round(cpu, 1), "cpu_per_call_pct": round(cpu / n, 2),
        "client_cpu_pct": round(client_cpu, 1),
        "other_cpu_pct": round(max(0.0, 100 * (busy1 - busy0) / wall - cpu - client_cpu), 1),
        "max_loop_lag_ms": s1.get("max_loop_lag_ms"),
        "rss_mb": round(rss, 1), "rss_per_call_mb": round((rss - baseline["rss_mb"]) / n, 2),
        "threads": s1["threads"], "threads_per_call": round((s1["threads"] - baseline["threads"]) / n, 2),
        "downlink_late_pct": round(100 * (s1["late_frames"] - s0["late_frames"]) / frames, 2),
        "uplink_late_pct": round(100 * (s1["uplink_late"] - s0["uplink_late"]) / chunks, 2),
        "uplink_delivered_pct": round(100 * delivered, 1),
        "client_received_pct": round(100 * received, 1),
    }
    out["ok"] = (out["downlink_late_pct"] < 1 and out["uplink_delivered_pct"] >= 99
                 and out["client_received_pct"] >= 99)
    out["ok_within_40ms"] = out["ok"] and out["uplink_late_pct"] < 1
    return out


async def _quiet_window(http: httpx.AsyncClient, url: str, server: psutil.Process, counters: list[CountingPath],
                        baseline: dict[str, Any]) -> dict[str, Any]:
    """The machine is shared: measure up to ATTEMPTS windows and keep the first one in which other processes used
    less than QUIET_OTHER_CPU % of a core (or, failing that, the quietest), and say how many were tried."""
    best: dict[str, Any] | None = None
    for attempt in range(1, ATTEMPTS + 1):
        row = await _measure(http, url, server, counters, baseline)
        row["windows_tried"] = attempt
        if best is None or row["other_cpu_pct"] < best["other_cpu_pct"]:
            best = row
        if row["other_cpu_pct"] < QUIET_OTHER_CPU:
            break
    assert best is not None
    best["windows_tried"] = attempt
    return best


async def ramp(impl: str, levels: tuple[int, ...] = LEVELS) -> dict[str, Any]:
    configure_host_addresses(["127.0.0.1"])  # the clients gather where the server does (loopback only)
    payloads = opus_payloads(script([(1.0, 0.3), (1.0, 0.0)]))
    process, url = await _start_server(impl)
    server = psutil.Process(process.pid)
    clients: list[tuple[RTCPeerConnection, CountingPath]] = []
    rows: list[dict[str, Any]] = []
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            await asyncio.sleep(1.0)
            stats = (await http.get(url + "/stats")).json()
            baseline = {"rss_mb": server.memory_info().rss / 2**20, "threads": stats["threads"]}
            for level in levels:
                while len(clients) < level:
                    clients.append(await _connect(http, url, payloads))
                await asyncio.sleep(1.0)  # let the new calls settle
                row = await _quiet_window(http, url, server, [c for _pc, c in clients], baseline)
                rows.append(row)
                print(f"  capacity, {impl}: {row}", flush=True)
                if not row["ok"]:
                    break
            await http.post(url + "/close-all")
    finally:
        for pc, _counter in clients:
            await pc.close()
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)
    passing = [r["calls"] for r in rows if r["ok"]]
    fast = [r["calls"] for r in rows if r["ok_within_40ms"]]
    return {"baseline": {"rss_mb": round(baseline["rss_mb"], 1), "threads": baseline["threads"]}, "levels": rows,
            "max_calls_ok": max(passing, default=0), "max_calls_ok_within_40ms": max(fast, default=0)}
