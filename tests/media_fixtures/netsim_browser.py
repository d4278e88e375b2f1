"""One voice call from headless Chromium to an app at a non-loopback address, run inside the client's namespace of a
simulated network (tests/test_network_relay.py):

    ip netns exec <client ns> python -m tests.media_fixtures.netsim_browser --url http://100.71.0.2:PORT \
        --wav speech.wav --out result.json --shot page.png

Signs in, presses 「开始录音」, waits for the reply to be heard (or, with `--expect websocket`, for the page's
WebSocket fallback to connect), and writes JSON: click → connected, the audio levels,
and the selected candidate pair's types and transport (`relayProtocol` says how the browser reached the TURN server).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page

from tests.media_fixtures.browser_run import RECORD_PCS, sign_in, wait_for_audio
from tests.support.browser import BrowserOptions, launch_chromium, new_context

START = "开始录音"
PROBE = "() => { const p = document.getElementById('voice-panel'); return p.voiceProbe ? p.voiceProbe() : null; }"
SELECTED_PAIR = """
async () => {
  const pc = window.__pcs[window.__pcs.length - 1];
  if (!pc) return null;
  const stats = await pc.getStats(), byId = new Map();
  stats.forEach((s) => byId.set(s.id, s));
  let pair = null;
  stats.forEach((s) => {
    if (s.type === "transport" && s.selectedCandidatePairId) pair = byId.get(s.selectedCandidatePairId);
  });
  if (!pair) return null;
  const l = byId.get(pair.localCandidateId) || {}, r = byId.get(pair.remoteCandidateId) || {};
  return { local_type: l.candidateType, remote_type: r.candidateType, protocol: l.protocol,
           relay_protocol: l.relayProtocol || "", local: `${l.address}:${l.port}`, remote: `${r.address}:${r.port}` };
}
"""


async def wait_up(url: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=1) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(url + "/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url}/health did not answer within {timeout_s} s")


async def wait_for_websocket(page: Page, result: dict[str, Any], timeout_s: float = 15.0) -> None:
    """Wait until the page is connected over its WebSocket fallback; record when, and every badge text it showed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        probe = await page.evaluate(PROBE)
        if probe and probe.get("transport") == "websocket" and probe.get("state") == "connected":
            now, click = await page.evaluate("() => [performance.now(), window.__clickAt]")
            result["click_to_ws_connected_ms"] = round(now - click)
            break
        await asyncio.sleep(0.05)
    result["badges_seen"] = await page.evaluate("() => window.__badges")
    result["badge"] = await page.locator("#voice-status").text_content()
    result["peer_connections"] = await page.evaluate("() => window.__pcs.length")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {}
    await wait_up(args.url)
    options = BrowserOptions(fake_mic_wav=Path(args.wav), loop_mic=False,
                             extra_args=(f"--unsafely-treat-insecure-origin-as-secure={args.url}",
                                         *([f"--ignore-certificate-errors-spki-list={args.trust_spki}"]
                                           if args.trust_spki else [])))
    async with launch_chromium(options) as browser:
        context, problems = await new_context(browser, base_url=args.url)
        await context.add_init_script(script=RECORD_PCS)
        page = await context.new_page()
        try:
            await sign_in(page)
            await page.get_by_role("button", name=START).click()
            if args.expect == "websocket":
                await wait_for_websocket(page, result)
                return result | {"problems": {"console": problems.console_errors, "page": problems.page_errors}}
            await wait_for_audio(page, result, 30)
            result["selected"] = await page.evaluate(SELECTED_PAIR)
            result["badge"] = await page.locator("#voice-status").text_content()
            result["transport"] = await page.evaluate(
                "() => document.getElementById('voice-panel').dataset.transport || ''")
            await problems.flush(page)
        finally:
            await page.screenshot(path=args.shot)
            await context.close()
        result["problems"] = {"console": problems.console_errors, "page": problems.page_errors}
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--wav", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--shot", required=True)
    parser.add_argument("--trust-spki", default="", help="trust this test certificate (the TURN server's)")
    parser.add_argument("--expect", choices=["webrtc", "websocket"], default="webrtc")
    args = parser.parse_args()
    try:
        result = asyncio.run(run(args))
    except Exception as exc:  # noqa: BLE001 - reported to the test, which fails with it
        result = {"error": f"{type(exc).__name__}: {exc}"}
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
