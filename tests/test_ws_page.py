"""The voice page's WebSocket transport as served: the settings choice and its translated texts, the scripts it
loads (from 'self', no inline code), the page's JavaScript budget, and the AudioWorklet DSP run under Node."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.support import in_ci
from tests.support.auth import login

STATIC = Path(__file__).resolve().parents[1] / "web" / "static"
OURS = (STATIC / "voice-ws.js", STATIC / "pcm-worklet.js")


async def test_the_panel_offers_the_transport_choice_in_chinese(client: httpx.AsyncClient) -> None:
    await login(client)
    page = (await client.get("/")).text
    panel = page[page.index('id="voice-panel"'):]
    assert 'id="voice-transport"' in panel  # inside the panel, whose click events voice-ws.js watches
    for value in ("auto", "webrtc", "websocket"):
        assert f'<option value="{value}">' in page
    for text in ("连接设置", "已连接（WebSocket，延迟较高）", "WebRTC 无法连接，正在切换到 WebSocket...", "耳机"):
        assert text in page, text
    assert 'data-ws-url="/v1/realtime"' in page
    assert re.search(r'data-worklet-url="/static/pcm-worklet\.js[^"]*"', page)
    assert re.search(r'<script type="module" src="/static/voice-ws\.js[^"]*"></script>', page)


async def test_english_texts(client: httpx.AsyncClient) -> None:
    await login(client)
    page = (await client.get("/", headers={"Accept-Language": "en"})).text
    assert "Connected over WebSocket (higher latency)" in page and "Connection settings" in page


async def test_scripts_are_served_as_javascript(client: httpx.AsyncClient) -> None:
    for name in ("voice-ws.js", "pcm-worklet.js"):
        response = await client.get(f"/static/{name}")
        assert response.status_code == 200 and "javascript" in response.headers["content-type"]


def test_no_user_facing_text_in_our_scripts_and_the_page_fits_40_kb() -> None:
    for script in OURS:
        assert not re.search(r"[\u4e00-\u9fff]", script.read_text(encoding="utf-8")), script.name
    page_js = [*sorted(STATIC.glob("htmx-*.min.js"))[-1:], STATIC / "app.js", STATIC / "voice.js", *OURS]
    total = len(gzip.compress(b"".join(p.read_bytes() for p in page_js), 9))
    assert total <= 40 * 1024, total


# The worklet's processors, driven block by block under Node with the AudioWorklet globals stubbed.
_NODE_HARNESS = r"""
const fs = require("fs");
const registry = {};
global.sampleRate = SAMPLE_RATE; global.currentTime = 0;
global.AudioWorkletProcessor = class {
  constructor() { this.port = { posted: [], postMessage(m) { this.posted.push(m); } }; }
};
global.registerProcessor = (name, cls) => { registry[name] = cls; };
eval(fs.readFileSync(WORKLET, "utf8"));
const out = {};
// capture: 1 s of a 1 kHz sine at the context rate → 24 kHz chunks of 20 ms
const cap = new registry["pcm-capture"]();
const block = 128; let n = 0;
for (let b = 0; b < sampleRate / block; b++) {
  const x = new Float32Array(block);
  for (let i = 0; i < block; i++, n++) x[i] = 0.5 * Math.sin(2 * Math.PI * 1000 * n / sampleRate);
  cap.process([[x]]); currentTime += block / sampleRate;
}
const pcm = [].concat(...cap.port.posted.map((c) => Array.from(c)));
out.chunks = cap.port.posted.length; out.chunkSize = cap.port.posted[0].length; out.samples = pcm;
// playback: 100 ms of 24 kHz audio in, then play; then "clear" mid-stream
const pb = new registry["pcm-playback"]({ processorOptions: { prebufferMs: 80 } });
const tone = new Int16Array(2400);
for (let i = 0; i < tone.length; i++) tone[i] = Math.round(10000 * Math.sin(2 * Math.PI * 440 * i / 24000));
pb.command(new Int16Array(1000));  // under the prebuffer: nothing plays yet
const outBuf = () => [[new Float32Array(block)]];
let o = outBuf(); pb.process([], o); out.silentWhileBuffering = o[0][0].every((v) => v === 0);
pb.command(tone);
let energy = 0, blocks = 0;
for (let i = 0; i < 20; i++) {
  o = outBuf(); pb.process([], o); currentTime += block / sampleRate; blocks++;
  for (const v of o[0][0]) energy += v * v;
}
out.playedAfter20 = pb.played; out.energy = energy;
// the echo gate: while the reply plays, a quiet microphone (its echo) is replaced by silence, a loud one passes
const mic = (level) => {
  const gate = new registry["pcm-capture"]();
  for (let b = 0; b < 40; b++) {
    const x = new Float32Array(block).map((_, i) => level * Math.sin(2 * Math.PI * 300 * (b * block + i) / sampleRate));
    gate.process([[x]]);
  }
  return [].concat(...gate.port.posted.map((c) => Array.from(c))).some((v) => v !== 0);
};
out.quietPassesWhileReplying = mic(0.01); out.loudPassesWhileReplying = mic(0.6);
pb.command("clear");
o = outBuf(); pb.process([], o); out.silentAfterClear = o[0][0].every((v) => v === 0);
out.quietPassesAfterClear = mic(0.01);
// a microphone input without channels (Firefox: the track is disabled) still yields its 20 ms of silence
const idle = new registry["pcm-capture"]();
for (let b = 0; b < Math.ceil(sampleRate / 50 / block) + 1; b++) idle.process([[]]);
out.silentInputChunks = idle.port.posted.map((c) => c.every((v) => v === 0) ? c.length : -1);
out.reports = pb.port.posted.length;
console.log(JSON.stringify(out));
"""


@pytest.mark.parametrize("rate", [48000, 44100, 16000])
def test_worklet_dsp_under_node(rate: int) -> None:
    node = shutil.which("node")
    if node is None:
        reason = "node is not installed (bash scripts/bootstrap.sh --test installs it)"
        if in_ci():
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    script = _NODE_HARNESS.replace("SAMPLE_RATE", str(rate)).replace("WORKLET", json.dumps(str(OURS[1])))
    result = json.loads(subprocess.run([node, "-e", script], capture_output=True, text=True, check=True,
                                       timeout=30).stdout)
    assert result["chunkSize"] == 480  # 20 ms at 24 kHz
    samples = result["samples"]
    assert abs(len(samples) - 24000) <= 480, len(samples)  # 1 s in → 1 s out at 24 kHz (minus a partial chunk)
    wave = np.array(samples[2400:], dtype=np.float64)  # skip the filter's settling
    assert abs(np.sqrt(np.mean(wave**2)) / 32767 - 0.5 / np.sqrt(2)) < 0.03  # level kept
    peak_hz = np.argmax(np.abs(np.fft.rfft(wave))) * 24000 / len(wave)
    assert abs(peak_hz - 1000) < 5, peak_hz  # pitch kept: resampled, not sped up
    assert result["silentWhileBuffering"] and result["silentAfterClear"]
    assert result["energy"] > 0 and result["playedAfter20"] > 0
    assert result["reports"] >= 1
    assert not result["quietPassesWhileReplying"] and result["loudPassesWhileReplying"]
    assert result["quietPassesAfterClear"]  # barge-in clears the gate with the queue
    assert result["silentInputChunks"] == [480]  # no input channel is silence, not a stopped clock
