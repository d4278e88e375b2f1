"""One real-browser voice run, made to execute inside a loopback-only network namespace:

    unshare --net sh -c 'ip link set lo up; exec .venv/bin/python -m tests.media_fixtures.browser_run \
        --scenario echo --wav speech.wav --workdir /tmp/run --out /tmp/run/result.json'

It starts the fake Realtime server (azure scenarios), the app under uvicorn, and headless Chromium with the WAV as its
microphone; signs in; presses 「开始录音」; and writes what happened as JSON (the verdict is the test's job). Scenarios:
echo | azure | azure-preview (the reply must be heard: inbound audioLevel > 0.01), anonymous | expired (the login
messages), mic-denied (the microphone advice), revoked (signing out mid-call ends it with 「认证失败，请重新登录」),
reconnect (the server drops the call; the page must reconnect by itself and keep the transcript), offer-timing
(an offer straight from createOffer() without candidates, as the Agents SDK sends it, and one after gathering).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page

from tests.fake_realtime import FakeOptions, FakeRealtimeServer
from tests.media_fixtures.offer_timing import CONNECT
from tests.support import free_port
from tests.support.browser import BrowserOptions, launch_chromium, new_context
from tests.support.live_server import child_environment

START = "开始录音"
RECORD_PCS = """
(() => {
  const Native = window.RTCPeerConnection;
  window.__pcs = []; window.__states = []; window.__clickAt = null;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      window.__pcs.push(this);
      this.addEventListener("connectionstatechange",
        () => window.__states.push([Math.round(performance.now()), this.connectionState]));
      this.addEventListener("icegatheringstatechange",
        () => window.__states.push([Math.round(performance.now()), "gathering-" + this.iceGatheringState]));
    }
  };
  if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = async (c) => {
      const began = performance.now();
      try { return await gum(c); } finally { window.__states.push([Math.round(began), "gum-start"],
                                                                 [Math.round(performance.now()), "gum-end"]); }
    };
  }
  window.__locations = []; window.__badges = []; window.__photos = [];
  const nativeFetch = window.fetch.bind(window);
  window.fetch = async (...args) => {
    const response = await nativeFetch(...args);
    const where = response.headers.get("Location");
    if (where && where.startsWith("/v1/realtime/calls/")) window.__locations.push(where);
    if (String(args[0]).includes("/images")) window.__photos.push([String(args[0]), response.status]);
    return response;
  };
  document.addEventListener("DOMContentLoaded", () => {
    const status = document.getElementById("voice-status");
    if (status) new MutationObserver(() => window.__badges.push(status.textContent))
      .observe(status, { childList: true, characterData: true, subtree: true });
  });
  document.addEventListener("click", (e) => {
    if (e.target && e.target.id === "voice-start" && window.__clickAt === null) window.__clickAt = performance.now();
  }, true);
})();
"""
SAMPLE_STATS = """
async () => {
  const pc = window.__pcs[window.__pcs.length - 1];
  const out = { t: performance.now(), click: window.__clickAt, pcs: window.__pcs.length, states: window.__states };
  if (!pc) return out;
  out.state = pc.connectionState;
  out.post = performance.getEntriesByType("resource").filter((e) => e.name.endsWith("/v1/realtime/calls"))
    .map((e) => [Math.round(e.startTime), Math.round(e.duration)]);
  const stats = await pc.getStats();
  const byId = new Map();
  stats.forEach((s) => byId.set(s.id, s));
  stats.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "audio") {
      out.inbound = { level: s.audioLevel || 0, samples: s.totalSamplesReceived || 0, packets: s.packetsReceived || 0 };
    } else if (s.type === "outbound-rtp" && s.kind === "audio") {
      out.outbound = { packets: s.packetsSent || 0, bytes: s.bytesSent || 0 };
    } else if (s.type === "candidate-pair" && s.state === "succeeded" && s.nominated) {
      const l = byId.get(s.localCandidateId), r = byId.get(s.remoteCandidateId);
      out.pair = [l ? `${l.address}:${l.port}/${l.protocol}` : "?", r ? `${r.address}:${r.port}` : "?"];
    }
  });
  return out;
}
"""


ROOT = Path(__file__).resolve().parents[2]


def spawn_app(workdir: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "uvicorn", "web.app:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    base = {"RTC_HOST_ADDRESSES": "127.0.0.1", "REALTIME_UPSTREAM": "echo", **env}
    with open(workdir / "server.log", "wb") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   env=child_environment(data, base), stdin=subprocess.DEVNULL)
    return process, f"http://127.0.0.1:{port}"


async def wait_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    async with httpx.AsyncClient(timeout=2) as client:
        for _ in range(400):
            if process.poll() is not None:
                raise RuntimeError(f"the app exited; see {log}")
            try:
                if (await client.get(url + "/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("the app did not answer /health")


async def sign_in(page: Page) -> None:
    await page.goto("/login")
    await page.locator("#email").fill("betty@123.com")
    await page.locator("#password").fill("Betty@123.com")
    await page.locator("#login-form button[type=submit]").click()
    await page.wait_for_url("**/")
    await page.wait_for_selector("#voice-panel")


async def wait_for_audio(page: Page, result: dict[str, Any], timeout_s: float) -> None:
    """Poll the page's peer connection stats until the reply is heard (audioLevel > 0.01) or time runs out."""
    deadline = time.monotonic() + timeout_s
    timeline: list[float] = []
    last_sample = 0.0
    while time.monotonic() < deadline:
        sample = await page.evaluate(SAMPLE_STATS)
        click = sample.get("click")
        inbound = sample.get("inbound") or {}
        if click is not None and sample.get("state") == "connected" and "click_to_connected_ms" not in result:
            connected_at = next((t for t, state in sample.get("states", []) if state == "connected"), sample["t"])
            result["click_to_connected_ms"] = round(connected_at - click)
            if sample.get("post"):
                start, duration = sample["post"][0]
                result["click_to_offer_sent_ms"] = round(start - click)
                result["offer_to_answer_ms"] = duration
        if sample["t"] - last_sample >= 200:
            timeline.append(round(inbound.get("level", 0.0), 3))
            last_sample = sample["t"]
        level = inbound.get("level", 0.0)
        result["max_audio_level"] = max(result.get("max_audio_level", 0.0), level)
        result.update(samples_received=inbound.get("samples", 0), inbound_packets=inbound.get("packets", 0),
                      outbound=sample.get("outbound"), pair=sample.get("pair"), states=sample.get("states"),
                      peer_connections=sample.get("pcs"))
        if level > 0.01 and click is not None and "click_to_audio_ms" not in result:
            result["click_to_audio_ms"] = round(sample["t"] - click)
            result["samples_at_first_audio"] = inbound.get("samples", 0)
        if "click_to_audio_ms" in result and inbound.get("samples", 0) > result["samples_at_first_audio"] + 48_000:
            break  # a second more of audio kept arriving
        await asyncio.sleep(0.05)
    result["level_timeline"] = timeline


async def scenario(page: Page, name: str, url: str, result: dict[str, Any]) -> None:
    if name == "mic-denied":
        await sign_in(page)
        await page.get_by_role("button", name=START).click()
        await page.wait_for_selector("#voice-message:not([hidden])", timeout=15_000)
    elif name == "offer-timing":  # an Agents-SDK-style offer without candidates, then one after gathering
        await sign_in(page)
        result["without_candidates"] = await page.evaluate(CONNECT, False)
        result["with_candidates"] = await page.evaluate(CONNECT, True)
    elif name in ("anonymous", "expired"):
        await sign_in(page)
        cookies = await page.context.cookies()
        if name == "anonymous":  # drop the session cookie only (the CSRF cookie stays, as for a visitor)
            await page.context.clear_cookies(name=re.compile(r"(^|-)sid$"))
        else:  # sign out elsewhere, then put the dead session's cookie back: the server sees an expired session
            await page.evaluate("""() => fetch('/logout', {method: 'POST', credentials: 'same-origin',
                headers: {'X-CSRF-Token': document.querySelector('meta[name="csrf-token"]').content}})""")
            await page.context.add_cookies(cookies)  # type: ignore[arg-type]
        await page.get_by_role("button", name=START).click()
        await page.wait_for_selector("#voice-message:not([hidden])", timeout=15_000)
    elif name in ("photo", "photo-ws"):  # the 「拍照提问」 button, with Chromium's fake camera, during a call
        await page.context.grant_permissions(["microphone", "camera"], origin=url)
        await sign_in(page)
        if name == "photo-ws":
            await page.locator("#voice-transport summary").click()
            await page.get_by_test_id("voice-transport-choice").select_option("websocket")
        await page.get_by_role("button", name=START).click()
        await page.wait_for_selector("#voice-panel[data-state='connected']", timeout=15_000)
        await page.get_by_role("button", name="拍照提问").click()
        await page.wait_for_selector("[data-testid=voice-photo] img, #voice-message:not([hidden])", timeout=15_000)
        if await page.locator("#voice-message").is_visible():
            raise AssertionError("photo refused: " + str(await page.locator("#voice-message").text_content()))
        await page.wait_for_function("() => document.querySelector('#voice-transcript').innerText.includes('收到图片')",
                                     timeout=15_000)
        result["transcript"] = await page.locator("#voice-transcript").inner_text()
        result["thumbnail"] = await page.locator("[data-testid=voice-photo] img").evaluate(
            "(img) => [img.naturalWidth, img.naturalHeight]")
        result["photo_posts"] = await page.evaluate("() => window.__photos")
        result["call_locations"] = await page.evaluate("() => window.__locations")
        await page.get_by_test_id("voice-stop").click()
    else:
        await sign_in(page)
        await page.get_by_role("button", name=START).click()
        await wait_for_audio(page, result, 40)
        result["badge"] = await page.locator("#voice-status").text_content()
        result["transcript"] = await page.locator("#voice-transcript").inner_text()
        if name == "reconnect":  # the server hangs up under the page's feet: it must reconnect on its own
            before = await page.locator("#voice-transcript").inner_text()
            began = time.monotonic()
            await page.evaluate("() => fetch(window.__locations.at(-1), {method: 'DELETE', credentials: 'same-origin',"
                                " headers: {'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content}})")
            await page.wait_for_function("() => window.__pcs.length >= 2 && "
                                         "window.__pcs.at(-1).connectionState === 'connected'", timeout=15_000)
            result["reconnect_ms"] = round((time.monotonic() - began) * 1000)
            await page.wait_for_selector("#voice-panel[data-state='connected']", timeout=5_000)
            result["badges_seen"] = await page.evaluate("() => window.__badges")
            result["transcript_kept"] = before in await page.locator("#voice-transcript").inner_text()
            result["calls_made"] = await page.evaluate("() => window.__locations.length")
            await page.get_by_test_id("voice-stop").click()
        elif name == "revoked":
            await page.evaluate("""() => fetch('/logout', {method: 'POST', credentials: 'same-origin',
                headers: {'X-CSRF-Token': document.querySelector('meta[name="csrf-token"]').content}})""")
            await page.wait_for_selector("#voice-message:not([hidden])", timeout=10_000)
        else:
            await page.get_by_test_id("voice-stop").click()
            await page.wait_for_selector("#voice-panel[data-state='idle']", timeout=5_000)
        result["badge_after"] = await page.locator("#voice-status").text_content()
    message = page.locator("#voice-message")
    result["message"] = (await message.text_content()) if await message.is_visible() else ""
    result["message_links"] = await message.locator("a").evaluate_all("(links) => links.map((a) => a.pathname)")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(args.workdir)
    result: dict[str, Any] = {"scenario": args.scenario}
    fake = None
    env: dict[str, str] = {}
    if args.scenario.startswith("azure"):
        fake = FakeRealtimeServer(FakeOptions())
        await fake.start()
        env = {k.upper(): str(v) for k, v in fake.settings_overrides(args.scenario).items()}
    process, url = spawn_app(workdir, env)
    try:
        await wait_healthy(process, url, workdir / "server.log")
        wav = Path(args.wav) if args.wav else None
        options = BrowserOptions(fake_mic_wav=wav, loop_mic=False, deny_mic=args.scenario == "mic-denied")
        async with launch_chromium(options) as browser:
            context, problems = await new_context(browser, base_url=url, grant_mic=args.scenario != "mic-denied")
            await context.add_init_script(script=RECORD_PCS)
            page = await context.new_page()
            try:
                await scenario(page, args.scenario, url, result)
                await problems.flush(page)
            finally:
                await page.screenshot(path=str(workdir / f"{args.scenario}.png"))
                await context.close()
            result["problems"] = {"console": problems.console_errors, "page": problems.page_errors,
                                  "csp": problems.csp_violations, "http": problems.http_errors}
        if fake is not None:
            result["fake_connections"] = [h.path for h in fake.connections]
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        if fake is not None:
            await fake.stop()
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--wav", default="")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    try:
        result = asyncio.run(run(args))
    except Exception as exc:  # the test prints this with the server log
        result = {"scenario": args.scenario, "error": f"{type(exc).__name__}: {exc}"}
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
