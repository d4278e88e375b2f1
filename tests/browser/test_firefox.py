"""The gateway's pages in Debian's headless Firefox (firefox-esr), driven by puppeteer-core over WebDriver BiDi
(tests/js/firefox_pages.mjs; no geckodriver, no browser download): sign in, a voice call over WebRTC whose reply is
heard (inbound RTP audio level), the automatic WebSocket fallback when UDP is blocked, the diagnostics checklist, and
the OpenAI Agents SDK's WebRTC transport (unchanged, with `ek_` keys from the gateway) on an app's pages on another
origin allowed by CORS_ALLOWED_ORIGINS, one of them with a strict CSP of its own.

One run serves every test of this file: this module, run as a script inside a private network namespace with only
`lo` (like tests/browser/test_voice_page.py), starts a PulseAudio null sink (headless Firefox leaves every
AudioContext suspended without an audio output device), the app in echo mode and one Firefox, which plays each
scenario in a fresh browser context; the tests assert on the JSON it writes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from tests.media_fixtures.browser_env import namespace_prefix, require
from tests.media_fixtures.browser_run import spawn_app, wait_healthy
from tests.support.static_site import SDK_BUNDLE, sdk_app_site

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "tests/js"
FIREFOX = Path("/usr/bin/firefox-esr")
SCENARIOS = "voice,fallback,diagnostics,agents_sdk"
RUN_TIMEOUT_S = 180


# --- the run inside the namespace ---------------------------------------------------------------------------------
def start_pulseaudio(runtime: Path) -> subprocess.Popen[bytes]:
    """A private PulseAudio with one null sink: an audio output device that plays nowhere."""
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "HOME": str(runtime)}
    process = subprocess.Popen(
        ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no", "--log-target=stderr",
         "--log-level=error", "--load=module-null-sink sink_name=null", "--load=module-native-protocol-unix"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    socket = runtime / "pulse/native"
    deadline = time.monotonic() + 10
    while not socket.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("PulseAudio did not start: " + (process.communicate()[1] or b"").decode()[-500:])
        time.sleep(0.05)
    return process


def stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def run(workdir: Path, scenarios: str) -> dict[str, Any]:
    with sdk_app_site(workdir / "site") as site:  # an app's own origin, for the agents_sdk scenario
        return await run_with_site(workdir, scenarios, site)


async def run_with_site(workdir: Path, scenarios: str, site: str) -> dict[str, Any]:
    runtime = Path(tempfile.mkdtemp(prefix="pulse-", dir=workdir))
    pulse = start_pulseaudio(runtime)
    app, url = spawn_app(workdir, {"CORS_ALLOWED_ORIGINS": site})
    try:
        await wait_healthy(app, url, workdir / "server.log")
        env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "HOME": str(runtime), "FIREFOX": str(FIREFOX),
               "FOREIGN_SITE": site}
        done = await asyncio.to_thread(subprocess.run, ["node", "firefox_pages.mjs", url, scenarios], cwd=JS, env=env,
                                       capture_output=True, text=True, timeout=RUN_TIMEOUT_S - 30)
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            return {"error": f"node exited {done.returncode}: {done.stdout[-2000:]}{done.stderr[-3000:]}"}
        result: dict[str, Any] = json.loads(lines[-1])
        return result
    finally:
        stop(app)
        stop(pulse)


def main() -> int:
    parser = argparse.ArgumentParser()
    for flag in ("--workdir", "--out", "--scenarios"):
        parser.add_argument(flag, required=True)
    args = parser.parse_args()
    try:
        result = asyncio.run(run(Path(args.workdir), args.scenarios))
    except Exception as exc:  # the test prints this with the server log
        result = {"error": f"{type(exc).__name__}: {exc}"}
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


# --- the tests ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def firefox_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    require(FIREFOX.is_file(), f"{FIREFOX} is missing (bash scripts/bootstrap.sh --test)")
    require(shutil.which("pulseaudio") is not None, "pulseaudio is missing (bash scripts/bootstrap.sh --test)")
    require((JS / "node_modules/puppeteer-core").is_dir() and SDK_BUNDLE.is_file(),
            "npm ci in tests/js (bash scripts/bootstrap.sh --test)")
    prefix = namespace_prefix()
    require(prefix is not None, "cannot create a network namespace (unshare --net) for a loopback-only browser")
    assert prefix is not None
    workdir = tmp_path_factory.mktemp("firefox")
    out = workdir / "result.json"
    inner = (f"ip link set lo up && exec {sys.executable} -m tests.browser.test_firefox --workdir '{workdir}' "
             f"--out '{out}' --scenarios {SCENARIOS}")
    done = subprocess.run([*prefix, "sh", "-c", inner], cwd=ROOT, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S)
    log = workdir / "server.log"
    context = (f"\n--- runner ---\n{done.stdout[-3000:]}{done.stderr[-3000:]}\n--- server log ---\n"
               f"{log.read_text(errors='replace')[-4000:] if log.exists() else '(none)'}")
    assert out.exists(), "the Firefox run wrote no result" + context
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    assert "error" not in result, result["error"] + context
    print(f"\n[firefox] {result.get('version')}, launched in {result.get('launch_ms')} ms")
    return result


def scenario(run: dict[str, Any], name: str) -> dict[str, Any]:
    result: dict[str, Any] = run[name]
    assert "error" not in result, result["error"]
    return result


def clean(problems: dict[str, list[str]], *, allowed: tuple[str, ...] = ()) -> None:
    console = [c for c in problems["console"] if not any(a in c for a in allowed)]
    assert not console and not problems["page"], problems


def test_sign_in_and_a_voice_call_whose_reply_is_heard(firefox_run: dict[str, Any]) -> None:
    result = scenario(firefox_run, "voice")
    context = json.dumps(result, ensure_ascii=False)[:3000]
    print(f"[firefox] click → connected {result.get('click_to_connected_ms')} ms, "
          f"click → reply heard {result.get('click_to_audio_ms')} ms, max level {result.get('max_level')}")
    assert result["signed_in_at"] == "/", context
    assert result["max_level"] > 0.01, context  # the echoed reply came back as audio (inbound RTP level)
    assert result["inbound"]["packets"] > result["packets_at_first_audio"], context  # and kept coming
    assert result["outbound"]["packets"] > 100, context  # the microphone went out
    local, remote = result["pair"]
    assert local.startswith("127.0.0.1:") and remote.startswith("127.0.0.1:"), context
    assert result["click_to_connected_ms"] < 10_000, context
    assert result["peer_connections"] == 1, context
    assert result["badge"] == "已连接" and result["badge_after"] == "未连接", context
    assert "echo" in result["transcript"].lower() or "回声" in result["transcript"], context
    clean(result["problems"])


def test_udp_blocked_falls_back_to_websocket_and_the_reply_is_heard(firefox_run: dict[str, Any]) -> None:
    result = scenario(firefox_run, "fallback")
    context = json.dumps(result, ensure_ascii=False)[:3000]
    print(f"[firefox] fallback: click → WebSocket connected {result.get('click_to_ws_connected_ms')} ms, "
          f"click → reply heard {result.get('click_to_audio_ms')} ms")
    assert result["transport"] == "websocket" and result["state"] == "connected", context
    assert result["peer_connections"] == 1, context  # WebRTC was tried first, once
    assert result["max_output_level"] > 0.01, context  # the reply reached the page's audio output
    assert result["played"] > result["played_at_first_audio"], context  # and kept playing
    assert result["click_to_ws_connected_ms"] < 8_000, context
    assert result["badge"] == "已连接（WebSocket，延迟较高）", context
    assert result["last_transport"] == "websocket", context
    clean(result["problems"])


def test_the_diagnostics_checklist_passes(firefox_run: dict[str, Any]) -> None:
    result = scenario(firefox_run, "diagnostics")
    statuses = result["statuses"]
    print(f"[firefox] 全部检测 took {result['run_all_ms']} ms: "
          + ", ".join(f"{k}={v['status']}" for k, v in statuses.items()))
    assert result["signed_in_at"] == "/diagnostics"
    # Firefox reports no availableOutgoingBitrate (Chromium does): the row says "not reported" rather than guess.
    assert statuses.pop("bitrate")["status"] == "skip"
    not_passed = {k: v["text"] for k, v in statuses.items() if v["status"] != "pass"}
    assert not not_passed, not_passed
    assert result["run_all_ms"] < 25_000, result["run_all_ms"]
    clean(result["problems"])


def test_the_agents_sdk_webrtc_transport_hears_the_reply_from_an_apps_own_origin(firefox_run: dict[str, Any]) -> None:
    """What an app builder's browser code does in Firefox: the SDK's candidate-free offer with an `ek_` key."""
    result = scenario(firefox_run, "agents_sdk")
    assert result["keys_are_ek"], result
    for origin in ("cross_origin", "strict_csp"):
        call = result[origin]
        context = json.dumps({k: v for k, v in call.items() if k != "events"}) + f" events={call['events'][:40]}"
        print(f"[firefox] Agents SDK, {origin}: connect() → {call['connect_ms']} ms, reply heard after "
              f"{call['heard_ms']} ms ({call['replies']} replies done), max level {call['max_level']:.3f}, "
              f"pair {call['pair']}")
        assert call["connect_ms"] < 10_000, context
        assert "session.created" in call["events"] and "response.done" in call["events"], context  # the reply came
        assert call["max_level"] > 0.01, context  # … and was heard (inbound RTP audio level)
        assert call["events"].count("session.updated") <= 2, context  # only in answer to the SDK's session.update
    clean(result["problems"])
    # zod (in the SDK) probes `new Function("")` and falls back when refused; Firefox logs the refusal, nothing else
    eval_probe = ("script-src eval", "Missing 'unsafe-eval'", "call to Function() blocked by CSP")
    strict = result["strict_csp_problems"]
    clean({"console": strict["console"], "page": [e for e in strict["page"] if not any(a in e for a in eval_probe)]},
          allowed=eval_probe)


if __name__ == "__main__":
    sys.exit(main())
