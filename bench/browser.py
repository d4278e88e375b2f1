"""Click → connected in a real browser (headless Chromium, echo mode, loopback-only network namespace), using the
browser test's runner; with the protocol floor measured in the same run: an aiortc client's offer → connected
against a production `Call` in this process."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bench.common import PacedFrames, median, script
from bench.sessions import RecordingSession
from tests.media_fixtures.speech import make_speech_wav, tools_missing
from web.media.rtc.call import Call

ROOT = Path(__file__).resolve().parents[1]


def _namespace() -> list[str] | None:
    for prefix in (["unshare", "--net"], ["unshare", "--map-root-user", "--net"]):
        if shutil.which("unshare") and subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    return None


def _values(rows: list[dict[str, Any]], key: str) -> list[float]:
    return [float(r[key]) for r in rows if key in r]


def browser_runs(count: int) -> dict[str, Any]:
    prefix = _namespace()
    if prefix is None or tools_missing() or not Path("/usr/bin/chromium").exists():
        return {"skipped": "needs unshare, chromium, espeak-ng and sox"}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        wav = make_speech_wav(Path(tmp) / "speech")
        for i in range(count):
            work = Path(tmp) / f"run{i}"
            work.mkdir()
            out = work / "result.json"
            inner = (f"ip link set lo up && exec {sys.executable} -m tests.media_fixtures.browser_run --scenario echo "
                     f"--wav {wav} --workdir {work} --out {out}")
            subprocess.run([*prefix, "sh", "-c", inner], cwd=ROOT, capture_output=True, timeout=150)
            result: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {"error": "no result"}
            rows.append(result)
            print(f"  browser run {i + 1}: click→connected {result.get('click_to_connected_ms')} ms, "
                  f"click→reply heard {result.get('click_to_audio_ms')} ms", flush=True)
    good = [r for r in rows if "click_to_connected_ms" in r]
    return {
        "runs": len(rows), "ok": len(good),
        "click_to_connected_ms": [r["click_to_connected_ms"] for r in good],
        "median_click_to_connected_ms": median(_values(good, "click_to_connected_ms")),
        "median_click_to_offer_sent_ms": median(_values(good, "click_to_offer_sent_ms")),
        "median_offer_to_answer_ms": median(_values(good, "offer_to_answer_ms")),
        "median_click_to_reply_heard_ms": median(_values(good, "click_to_audio_ms")),
        "errors": [str(r["error"]) for r in rows if "error" in r],
    }


async def aiortc_connect_times(count: int) -> dict[str, Any]:
    times = []
    for _ in range(count):
        call = Call(call_id="bench", user_id=0, credential=None, session=RecordingSession(),
                    rtc_config=RTCConfiguration(iceServers=[]), on_closed=lambda _c: None)
        client = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        client.addTrack(PacedFrames(script([(0.5, 0.0)])))
        connected = asyncio.Event()
        client.on("connectionstatechange",
                  lambda c=client, e=connected: e.set() if c.connectionState == "connected" else None)
        began = time.monotonic()
        await client.setLocalDescription(await client.createOffer())
        assert client.localDescription is not None
        answer = await call.open(client.localDescription.sdp, None, "")
        await client.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        await asyncio.wait_for(connected.wait(), 10)
        times.append((time.monotonic() - began) * 1000)
        await call.close("bench")
        await client.close()
    return {"runs": count, "median_offer_to_connected_ms": median(times)}
