"""The voice page in headless Chromium, with a speech WAV as the microphone and every packet on loopback.

Each scenario runs `tests.media_fixtures.browser_run` in a private network namespace that has only `lo` (so neither
Chromium nor the server can reach, or even see, another address), and asserts on the JSON it writes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.media_fixtures.browser_env import namespace_prefix, require
from tests.media_fixtures.speech import make_speech_wav, tools_missing

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 150


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require(not tools_missing(), f"{', '.join(tools_missing())} missing (bash scripts/bootstrap.sh --test)")
    return make_speech_wav(tmp_path_factory.mktemp("speech"))


def run_scenario(name: str, wav: Path | None, workdir: Path) -> dict[str, Any]:
    prefix = namespace_prefix()
    require(prefix is not None, "cannot create a network namespace (unshare --net) for loopback-only WebRTC")
    assert prefix is not None
    out = workdir / "result.json"
    inner = (f"ip link set lo up && exec {sys.executable} -m tests.media_fixtures.browser_run --scenario {name} "
             f"--wav '{wav or ''}' --workdir '{workdir}' --out '{out}'")
    completed = subprocess.run([*prefix, "sh", "-c", inner], cwd=ROOT, capture_output=True, text=True,
                               timeout=RUN_TIMEOUT_S)
    log = workdir / "server.log"
    context = (f"\n--- runner output ---\n{completed.stdout[-3000:]}{completed.stderr[-3000:]}"
               f"\n--- server log ---\n{log.read_text(errors='replace')[-4000:] if log.exists() else '(none)'}")
    assert out.exists(), "the browser run wrote no result" + context
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    assert "error" not in result, result["error"] + context
    result["_context"] = context
    return result


def assert_reply_heard(result: dict[str, Any]) -> None:
    context = json.dumps({k: v for k, v in result.items() if k != "_context"}, ensure_ascii=False)[:3000]
    assert result.get("max_audio_level", 0) > 0.01, context
    assert result["samples_received"] > result["samples_at_first_audio"], context  # audio kept arriving
    assert result["outbound"]["packets"] > 100, context  # the microphone went out
    local, remote = result["pair"]
    assert local.startswith("127.0.0.1:") and remote.startswith("127.0.0.1:"), context
    assert result["click_to_connected_ms"] < 10_000, context
    assert result["peer_connections"] == 1, context  # no reconnect was needed
    problems = result["problems"]
    assert not problems["console"] and not problems["page"] and not problems["csp"], problems
    assert result["badge"] == "已连接"


def test_echo_mode_reply_is_heard(speech_wav: Path, tmp_path: Path) -> None:
    result = run_scenario("echo", speech_wav, tmp_path)
    assert_reply_heard(result)
    assert "echo mode" in result["transcript"] or "回声" in result["transcript"]
    assert result["badge_after"] == "未连接"


@pytest.mark.parametrize("mode", ["azure", "azure-preview"])
def test_fake_azure_reply_is_heard(speech_wav: Path, tmp_path: Path, mode: str) -> None:
    result = run_scenario(mode, speech_wav, tmp_path)
    assert_reply_heard(result)
    path = "/openai/realtime" if mode == "azure-preview" else "/openai/v1/realtime"
    assert result["fake_connections"] and result["fake_connections"][0] == path
    assert "fake realtime" in result["transcript"]


def test_offer_without_candidates_connects_like_one_with_them(speech_wav: Path, tmp_path: Path) -> None:
    result = run_scenario("offer-timing", speech_wav, tmp_path)
    bare, full = result["without_candidates"], result["with_candidates"]
    print(f"createOffer() → connected: without candidates {bare.get('connect_ms')} ms, "
          f"with {full.get('connect_ms')} ms")
    assert bare["status"] == 201 and bare["candidates"] == 0, bare
    assert full["status"] == 201 and full["candidates"] > 0, full
    assert bare["connect_ms"] < 10_000 and full["connect_ms"] < 10_000, result
    assert bare["inbound_packets"] > 0, bare  # the echo of the microphone came back over the learnt address
    assert "session.created" in bare["events"] and "session.updated" not in bare["events"], bare


def test_not_signed_in_shows_the_login_message(tmp_path: Path) -> None:
    result = run_scenario("anonymous", None, tmp_path)
    assert result["message"].startswith("请先登录后再使用语音功能")
    assert result["message_links"] == ["/login"]


def test_expired_session_shows_authentication_failed(tmp_path: Path) -> None:
    result = run_scenario("expired", None, tmp_path)
    assert result["message"].startswith("认证失败，请重新登录")
    assert result["message_links"] == ["/login"]


def test_microphone_denied_shows_the_advice(tmp_path: Path) -> None:
    result = run_scenario("mic-denied", None, tmp_path)
    assert result["message"].startswith("麦克风已被阻止"), result["message"]


def test_signing_out_mid_call_ends_it(speech_wav: Path, tmp_path: Path) -> None:
    result = run_scenario("revoked", speech_wav, tmp_path)
    assert result["max_audio_level"] > 0.01
    assert result["message"].startswith("认证失败，请重新登录")


def test_a_dropped_call_reconnects_by_itself_and_keeps_the_transcript(speech_wav: Path, tmp_path: Path) -> None:
    result = run_scenario("reconnect", speech_wav, tmp_path)
    assert result["max_audio_level"] > 0.01
    assert result["peer_connections"] >= 1 and result["calls_made"] == 2  # a new peer connection, a new call
    assert "网络连接出现问题，正在尝试重新连接..." in result["badges_seen"]
    assert result["badges_seen"][-1] == "已连接"
    assert result["transcript_kept"]
    assert result["reconnect_ms"] < 5_000
