"""The voice page over WebSocket in headless Chromium: with WebRTC's UDP disabled the page falls back by itself and
the reply is heard (non-silent audio at the page's output, read from an AnalyserNode behind the playback worklet);
so it does when WebRTC signalling hangs (the 4 s deadline); chosen in the settings (and remembered) it never tries
WebRTC; with UDP allowed "auto" stays on WebRTC; signing out mid-call ends a WebSocket call too; a denied microphone
gets the same advice as on WebRTC.

Each scenario runs this file as a script (`python -m tests.browser.test_voice_fallback --scenario …`) inside a private
network namespace with only `lo`, like tests/browser/test_voice_page.py, and the test asserts on the JSON it writes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from tests.media_fixtures.browser_env import namespace_prefix, require
from tests.media_fixtures.browser_run import sign_in
from tests.media_fixtures.speech import make_speech_wav, tools_missing
from tests.support.browser import BrowserOptions, launch_chromium, new_context
from tests.test_ws_helpers import start_app

ROOT = Path(__file__).resolve().parents[2]
START = "开始录音"
# The issue names the old switch; Chromium 156 spells it without "force-". Pass both: unknown switches are ignored,
# and the run records the offer's candidates so a flag that stopped working cannot pass unnoticed.
NO_UDP = ("--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
          "--webrtc-ip-handling-policy=disable_non_proxied_udp")
PROBE = "() => { const p = document.getElementById('voice-panel'); return p.voiceProbe ? p.voiceProbe() : null; }"
CLOCK = "() => [performance.now(), window.__clickAt, window.__pcs.length]"
# Counts the page's peer connections and records the click time (before any page script runs).
RECORD = """
(() => {
  const Native = window.RTCPeerConnection;
  window.__pcs = []; window.__clickAt = null; window.__candidates = [];
  window.RTCPeerConnection = class extends Native {
    constructor(...a) {
      super(...a);
      window.__pcs.push(this);
      this.addEventListener("icecandidate",
        (e) => { if (e.candidate) window.__candidates.push(e.candidate.candidate); });
    }
  };
  document.addEventListener("click", (e) => {
    if (e.target && e.target.id === "voice-start" && window.__clickAt === null) window.__clickAt = performance.now();
  }, true);
})();
"""


# --- the run inside the namespace ---------------------------------------------------------------------------------
async def wait_for_reply(page: Page, result: dict[str, Any], timeout_s: float) -> None:
    """Poll the panel's probe until the reply was heard at the output and kept playing, or time runs out."""
    deadline = time.monotonic() + timeout_s
    levels: list[float] = []
    while time.monotonic() < deadline:
        probe = await page.evaluate(PROBE) or {}
        now, click, pcs = await page.evaluate(CLOCK)
        result.update(transport=probe.get("transport"), state=probe.get("state"), played=probe.get("played", 0),
                      worklet_peak=probe.get("peak", 0), underruns=probe.get("underruns", 0), peer_connections=pcs)
        level = float(probe.get("output") or 0)
        levels.append(round(level, 3))
        result["max_output_level"] = max(result.get("max_output_level", 0.0), level)
        if probe.get("transport") == "websocket" and probe.get("state") == "connected" and click is not None:
            result.setdefault("click_to_ws_connected_ms", round(now - click))
        if level > 0.01 and click is not None and "click_to_audio_ms" not in result:
            result["click_to_audio_ms"] = round(now - click)
            result["played_at_first_audio"] = probe.get("played", 0)
        if "click_to_audio_ms" in result and probe.get("played", 0) > result["played_at_first_audio"] + 24_000:
            break  # another second of the reply played
        await asyncio.sleep(0.05)
    result["output_levels"] = levels[::4]


async def scenario(page: Page, name: str, result: dict[str, Any]) -> None:
    await sign_in(page)
    if name == "stalled":  # WebRTC signalling that never answers: only the fallback deadline can save the call
        held: list[Any] = []
        await page.route("**/v1/realtime/calls", lambda route: held.append(route))
    if name in ("chosen", "mic-denied"):
        await page.locator("#voice-transport summary").click()
        await page.get_by_test_id("voice-transport-choice").select_option("websocket")
        await page.reload()
        await page.wait_for_selector("#voice-panel")
        result["choice_after_reload"] = await page.get_by_test_id("voice-transport-choice").input_value()
    await page.get_by_role("button", name=START).click()
    if name == "mic-denied":
        await page.wait_for_selector("#voice-message:not([hidden])", timeout=10_000)
        result["message"] = await page.locator("#voice-message").text_content()
        result["state"] = await page.get_attribute("#voice-panel", "data-state")
        return
    if name == "webrtc":
        async with asyncio.timeout(10):  # (wait_for_function evaluates a string: the page's CSP refuses it)
            while ((await page.evaluate(PROBE)) or {}).get("transport") != "webrtc":  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        result["badge"] = await page.locator("#voice-status").text_content()
        await page.wait_for_timeout(5_000)  # longer than the fallback deadline: it must not switch
        result["transport_later"] = await page.evaluate(PROBE)
    else:
        await wait_for_reply(page, result, 40)
        result["badge"] = await page.locator("#voice-status").text_content()
        result["transcript"] = await page.locator("#voice-transcript").inner_text()
    if name == "revoked":
        await page.evaluate("""() => fetch('/logout', {method: 'POST', credentials: 'same-origin',
            headers: {'X-CSRF-Token': document.querySelector('meta[name="csrf-token"]').content}})""")
        await page.wait_for_selector("#voice-message:not([hidden])", timeout=5_000)
        result["message"] = await page.locator("#voice-message").text_content()
    else:
        await page.get_by_test_id("voice-stop").click()
        await page.wait_for_selector("#voice-panel[data-state='idle']", timeout=5_000)
    result["badge_after"] = await page.locator("#voice-status").text_content()
    result["last_transport"] = await page.evaluate("() => localStorage.getItem('voice.transport.last')")
    result["offered_candidates"] = await page.evaluate("() => window.__candidates")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(args.workdir)
    result: dict[str, Any] = {"scenario": args.scenario}
    process, url = await start_app(workdir)
    try:
        extra = () if args.scenario in ("webrtc", "stalled") else NO_UDP
        deny = args.scenario == "mic-denied"
        options = BrowserOptions(fake_mic_wav=Path(args.wav), loop_mic=False, extra_args=extra, deny_mic=deny)
        async with launch_chromium(options) as browser:
            context, problems = await new_context(browser, base_url=url, grant_mic=not deny)
            await context.add_init_script(script=RECORD)
            page = await context.new_page()
            try:
                await scenario(page, args.scenario, result)
                await problems.flush(page)
            finally:
                await page.screenshot(path=str(workdir / f"{args.scenario}.png"))
                await context.close()
            result["problems"] = {"console": problems.console_errors, "page": problems.page_errors,
                                  "csp": problems.csp_violations, "http": problems.http_errors}
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    for flag in ("--scenario", "--wav", "--workdir", "--out"):
        parser.add_argument(flag, required=True)
    args = parser.parse_args()
    try:
        result = asyncio.run(run(args))
    except Exception as exc:  # the test prints this with the server log
        result = {"scenario": args.scenario, "error": f"{type(exc).__name__}: {exc}"}
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


# --- the tests ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require(not tools_missing(), f"{', '.join(tools_missing())} missing (bash scripts/bootstrap.sh --test)")
    return make_speech_wav(tmp_path_factory.mktemp("speech"))


def run_scenario(name: str, wav: Path, workdir: Path) -> dict[str, Any]:
    prefix = namespace_prefix()
    require(prefix is not None, "cannot create a network namespace (unshare --net) for a loopback-only browser")
    assert prefix is not None
    out = workdir / "result.json"
    inner = (f"ip link set lo up && exec {sys.executable} -m tests.browser.test_voice_fallback --scenario {name} "
             f"--wav '{wav}' --workdir '{workdir}' --out '{out}'")
    done = subprocess.run([*prefix, "sh", "-c", inner], cwd=ROOT, capture_output=True, text=True, timeout=150)
    log = workdir / "server.log"
    context = (f"\n--- runner ---\n{done.stdout[-3000:]}{done.stderr[-3000:]}\n--- server log ---\n"
               f"{log.read_text(errors='replace')[-4000:] if log.exists() else '(none)'}")
    assert out.exists(), "the browser run wrote no result" + context
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    assert "error" not in result, result["error"] + context
    result["_context"] = context
    return result


def assert_heard_over_websocket(result: dict[str, Any]) -> None:
    context = json.dumps({k: v for k, v in result.items() if k != "_context"}, ensure_ascii=False)[:3000]
    assert result["transport"] == "websocket" and result["state"] == "connected", context
    assert result.get("max_output_level", 0) > 0.01, context  # the reply reached the page's audio output
    assert result["played"] > result["played_at_first_audio"], context  # and kept playing
    assert result["badge"] == "已连接（WebSocket，延迟较高）", context
    problems = result["problems"]
    # The refused WebRTC offer (no ICE candidate: the browser's policy allows no UDP) is Chromium's only complaint.
    console = [c for c in problems["console"] if "status of 400" not in c or "/v1/realtime/calls" not in c]
    assert not console and not problems["page"] and not problems["csp"], problems
    assert result["badge_after"] == "未连接" and result["last_transport"] == "websocket", context


def test_udp_blocked_falls_back_to_websocket_and_the_reply_is_heard(speech_wav: Path, tmp_path: Path) -> None:
    result = run_scenario("fallback", speech_wav, tmp_path)
    assert_heard_over_websocket(result)
    assert result["peer_connections"] == 1  # WebRTC was tried first, once
    assert not [c for c in result["offered_candidates"] if " udp " in c.lower()], result["offered_candidates"]
    assert result["click_to_ws_connected_ms"] < 8_000, result
    assert "echo" in result["transcript"].lower() or "回声" in result["transcript"]


def test_webrtc_that_does_not_connect_in_time_falls_back(speech_wav: Path, tmp_path: Path) -> None:
    result = run_scenario("stalled", speech_wav, tmp_path)
    assert_heard_over_websocket(result)
    assert 4_000 <= result["click_to_ws_connected_ms"] < 7_000, result  # the 4 s deadline, then the socket


def test_websocket_chosen_in_settings_is_remembered_and_skips_webrtc(speech_wav: Path, tmp_path: Path) -> None:
    result = run_scenario("chosen", speech_wav, tmp_path)
    assert result["choice_after_reload"] == "websocket"
    assert_heard_over_websocket(result)
    assert result["peer_connections"] == 0
    assert result["click_to_ws_connected_ms"] < 3_000, result


def test_websocket_with_the_microphone_denied_shows_the_advice(speech_wav: Path, tmp_path: Path) -> None:
    result = run_scenario("mic-denied", speech_wav, tmp_path)
    assert result["message"].startswith("麦克风已被阻止"), result
    assert result["state"] == "error"


def test_auto_stays_on_webrtc_when_udp_works(speech_wav: Path, tmp_path: Path) -> None:
    result = run_scenario("webrtc", speech_wav, tmp_path)
    assert result["badge"] == "已连接", result
    assert result["transport_later"]["transport"] == "webrtc" and result["transport_later"]["state"] == "connected"
    assert result["last_transport"] == "webrtc"
    assert not result["problems"]["console"] and not result["problems"]["csp"], result["problems"]


def test_signing_out_ends_a_websocket_call(speech_wav: Path, tmp_path: Path) -> None:
    result = run_scenario("revoked", speech_wav, tmp_path)
    assert result["transport"] == "websocket" and result["max_output_level"] > 0.01, result
    assert result["message"].startswith("认证失败，请重新登录"), result


if __name__ == "__main__":
    sys.exit(main())
