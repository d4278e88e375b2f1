"""Every verdict at its thresholds (shared/reference/diagnostics.md §9), the MOS formula, and the browser/OS parser.
The page and the CLI both call these functions, so this is where a threshold is pinned."""

from __future__ import annotations

from typing import Any

import pytest

from web.diagnostics import rules_browser, rules_call, rules_quality, rules_server
from web.diagnostics import thresholds as th
from web.diagnostics.model import FAIL, PASS, SKIP, WARN, CheckResult
from web.diagnostics.mos import estimate_mos, mos_from_r, r_factor
from web.diagnostics.useragent import parse_user_agent
from web.diagnostics.values import Values
from web.settings import Settings

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 "
          "Safari/537.36")
ALL_FEATURES = {"features": {name: True for name in rules_browser.FEATURES}}


def v(**values: Any) -> Values:
    return Values(values)


def fixes(result: CheckResult, locale: str = "en") -> str:
    return " ".join(f.render(locale) for f in result.fixes)


def value(result: CheckResult, locale: str = "en") -> str:
    return result.value.render(locale) if result.value else ""


# --- MOS ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("rtt", "jitter", "loss", "r", "mos"), [
    (0, 0, 0, 94.518, 4.4333),  # EL = 10 ms: R = 94.768 − 10/40
    (100, 10, 0, 91.518, 4.3744),  # EL = 130 ms
    (150, 0, 0, 90.768, 4.3574),  # EL = 160 ms: the second branch, continuous with the first
    (300, 20, 1, 69.268, 3.5625),  # EL = 350 ms, 1 % loss costs 2.5 R
    (0, 0, 40, 0.0, 1.0),  # loss% above R/2.5: R drops to 0
    (2000, 0, 0, 6.52, 1.0),  # EL ≥ 1000 ms: R = 0, then the 6.52 floor
])
def test_mos_formula(rtt: float, jitter: float, loss: float, r: float, mos: float) -> None:
    assert r_factor(rtt, jitter, loss) == pytest.approx(r, abs=1e-3)
    assert mos_from_r(r_factor(rtt, jitter, loss)) == pytest.approx(mos, abs=1e-3)
    assert estimate_mos(rtt, jitter, loss) == round(mos, 2)


def samples(n: int = 10, **values: float) -> list[Values]:
    return [Values(dict(values)) for _ in range(n)]


@pytest.mark.parametrize(("rtt", "jitter", "loss", "expected"), [
    (20, 2, 0, PASS), (300, 20, 1, WARN), (420, 40, 3, FAIL), (0, 0, 40, FAIL),
])
def test_mos_verdict_follows_the_score(rtt: float, jitter: float, loss: float, expected: str) -> None:
    result = rules_quality.mos(samples(rtt_ms=rtt, jitter_ms=jitter, loss_pct=loss))
    score = estimate_mos(rtt, jitter, loss)
    assert result.status == expected and result.data["mos"] == score
    assert (score >= th.MOS_PASS) == (expected == PASS) and (score < th.MOS_FAIL) == (expected == FAIL)


def test_mos_without_rtt_is_skipped() -> None:
    assert rules_quality.mos(samples(jitter_ms=1)).status == SKIP


# --- quality -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("values", "expected"), [
    ([249.9] * 10, PASS), ([250] * 10, WARN), ([399] * 10, WARN),
    ([400] * 10, WARN),  # "fail above 400": exactly 400 is not over the limit
    ([100] * 8 + [900] * 2, WARN),  # two bad samples: a warning, not yet Twilio's high-rtt
    ([100] * 7 + [401] * 3, FAIL),  # three bad samples fail even with a good median
])
def test_rtt(values: list[float], expected: str) -> None:
    result = rules_quality.rtt([Values({"rtt_ms": x}) for x in values])
    assert result.status == expected, result


@pytest.mark.parametrize(("values", "expected"), [
    ([9.9] * 10, PASS), ([10] * 10, WARN), ([30] * 10, WARN), ([5] * 7 + [31] * 3, FAIL),
])
def test_jitter(values: list[float], expected: str) -> None:
    assert rules_quality.jitter([Values({"jitter_ms": x}) for x in values]).status == expected


@pytest.mark.parametrize(("average", "expected"), [(0.99, PASS), (1.0, WARN), (4.99, WARN), (5.0, FAIL)])
def test_packet_loss(average: float, expected: str) -> None:
    assert rules_quality.packet_loss(samples(loss_pct=average)).status == expected


@pytest.mark.parametrize(("kbps", "expected"), [(100, PASS), (99.9, WARN), (40, WARN), (39.9, FAIL)])
def test_bitrate(kbps: float, expected: str) -> None:
    assert rules_quality.bitrate(samples(bitrate_kbps=kbps)).status == expected


def test_quality_without_samples_is_skipped_and_junk_is_ignored() -> None:
    junk = [Values({"rtt_ms": "fast", "jitter_ms": None, "loss_pct": float("nan"), "bitrate_kbps": True})]
    for rule in (rules_quality.rtt, rules_quality.jitter, rules_quality.packet_loss, rules_quality.bitrate):
        assert rule([]).status == SKIP and rule(junk).status == SKIP


def test_server_view() -> None:
    good = {"state": "connected", "local_type": "host", "remote_type": "prflx", "protocol": "udp", "rtt_ms": 3,
            "loss_pct": 0.0}
    assert rules_quality.server_view(good).status == PASS
    assert "host → prflx, UDP" in value(rules_quality.server_view(good))
    assert rules_quality.server_view({**good, "rtt_ms": 401}).status == WARN
    assert rules_quality.server_view({**good, "loss_pct": 1.0}).status == WARN
    assert rules_quality.server_view({**good, "state": "connecting"}).status == FAIL
    assert rules_quality.server_view(None).status == FAIL
    assert rules_quality.server_view(None, available=False).status == SKIP


# --- server and sign-in --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "ms", "expected"), [
    (200, 999, PASS), (200, 1000, WARN), (204, 2999, WARN), (200, 3000, FAIL), (500, 5, FAIL), (0, None, FAIL),
])
def test_server_health(status: int, ms: int | None, expected: str) -> None:
    result = rules_server.server_health(v(status=status, latency_ms=ms, error="ConnectError"))
    assert result.status == expected
    if expected == FAIL:
        assert "service is running" in fixes(result)


def test_readiness() -> None:
    ok = {"database": {"ok": True}, "event_loop": {"ok": True}, "log_queue": {"ok": True, "state": "ok"}}
    assert rules_server.readiness(v(status=200, checks=ok)).status == PASS
    degraded = {**ok, "log_queue": {"ok": True, "state": "degraded"}}
    assert rules_server.readiness(v(status=200, checks=degraded)).status == WARN
    down = {**ok, "database": {"ok": False, "error": "timeout"}}
    result = rules_server.readiness(v(status=503, checks=down))
    assert result.status == FAIL and "database" in value(result)
    assert rules_server.readiness(v()).status == SKIP


@pytest.mark.parametrize(("remaining", "skew_ms", "expected"), [
    (300, 0, PASS), (299, 0, WARN), (3600, 120_000, PASS), (3600, 120_001, WARN), (3600, -120_001, WARN),
])
def test_session_expiry_and_clock_skew(remaining: float, skew_ms: float, expected: str) -> None:
    assert rules_server.session(True, remaining, "", skew_ms).status == expected


def test_session_not_signed_in_and_expired_say_what_to_do() -> None:
    anonymous = rules_server.session(False, None, "", None)
    assert anonymous.status == FAIL and "Sign in" in fixes(anonymous)
    expired = rules_server.session(False, None, "expired", None)
    assert expired.status == FAIL and "cookies" in fixes(expired)
    assert rules_server.sign_in_failed(401).status == FAIL and "--password" in fixes(rules_server.sign_in_failed(401))


AZURE = {"mode": "azure", "url": "wss://x/openai/v1/realtime?model=gpt-realtime", "protocol": "ga", "warnings": [],
         "configured": True, "problem": ""}


@pytest.mark.parametrize(("ms", "expected"), [(1999, PASS), (2000, WARN), (9999, WARN), (10_000, FAIL)])
def test_upstream_handshake_time(ms: int, expected: str) -> None:
    assert rules_server.upstream(AZURE, {"ok": True, "connect_ms": ms}, False).status == expected


def test_upstream_rejected_key_names_the_setting() -> None:
    probe = {"ok": False, "code": "key_rejected", "operator_message": "The realtime service rejected the API key "
             "(HTTP 401). Check AZURE_OPENAI_REALTIME_API_KEY / OPENAI_API_KEY."}
    result = rules_server.upstream(AZURE, probe, False)
    assert result.status == FAIL and "key_rejected" in value(result)
    assert "AZURE_OPENAI_REALTIME_API_KEY" in fixes(result)


def test_upstream_configuration() -> None:
    missing = {**AZURE, "configured": False, "problem": "missing AZURE_OPENAI_REALTIME_API_KEY"}
    assert rules_server.upstream(missing, None, False).status == FAIL
    echo = {**AZURE, "mode": "echo"}
    assert rules_server.upstream(echo, {"ok": True, "connect_ms": 0}, explicit_echo=True).status == PASS
    accidental = rules_server.upstream(echo, {"ok": True, "connect_ms": 0}, explicit_echo=False)
    assert accidental.status == WARN and "AZURE_OPENAI_REALTIME_ENDPOINT" in fixes(accidental)
    assert rules_server.upstream(AZURE, None, False).status == SKIP


def test_model_version_given_as_api_version_warns() -> None:
    from web.media.realtime import describe_upstream

    settings = Settings(realtime_upstream="azure", azure_openai_realtime_endpoint="https://x.openai.azure.com",
                        azure_openai_realtime_api_key="k" * 32, azure_openai_realtime_deployment_name="gpt-realtime",
                        azure_openai_realtime_api_version="2025-08-28")
    result = rules_server.upstream_config(describe_upstream(settings), False)
    assert result.status == WARN and "2025-08-28" in fixes(result)
    live = rules_server.upstream(describe_upstream(settings), {"ok": True, "connect_ms": 100}, False)
    assert live.status == WARN


def test_local_server_checks() -> None:
    assert rules_server.database(True, 1.5).status == PASS
    assert rules_server.database(False, None, "OperationalError").status == FAIL
    assert rules_server.log_queue({"ok": True, "depth": 0, "capacity": 100, "dropped": 0, "state": "ok"}).status == PASS
    assert rules_server.log_queue({"ok": True, "depth": 5, "capacity": 100, "dropped": 3}).status == WARN
    assert rules_server.log_queue({"ok": False, "depth": 0, "capacity": 100, "dropped": 0}).status == FAIL
    assert rules_server.log_queue({"ok": False, "error": "logging not set up"}).status == SKIP
    assert rules_server.event_loop({"lag_ms": 1, "lag_max_ms": 99}).status == PASS
    assert rules_server.event_loop({"lag_max_ms": 100}).status == WARN
    assert rules_server.event_loop({"lag_max_ms": 1000}).status == FAIL
    assert rules_server.event_loop(None).status == SKIP


# --- browser ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("ua", "expected"), [
    (CHROME.format(v=79), WARN), (CHROME.format(v=80), PASS),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:112.0) Gecko/20100101 Firefox/112.0", WARN),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:113.0) Gecko/20100101 Firefox/113.0", PASS),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:75.0) Gecko/20100101 Firefox/75.0", WARN),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.0 "
     "Safari/605.1.15", WARN),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.1 "
     "Safari/605.1.15", PASS),
])
def test_browser_versions(ua: str, expected: str) -> None:
    assert rules_browser.browser(Values(ALL_FEATURES), parse_user_agent(ua)).status == expected


def test_browser_features_and_internet_explorer() -> None:
    ua = parse_user_agent(CHROME.format(v=120))
    missing = rules_browser.browser(Values({"features": {"RTCPeerConnection": True, "WebSocket": True}}), ua)
    assert missing.status == FAIL and "getUserMedia" in value(missing) and "https://" in fixes(missing)
    ie = parse_user_agent("Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko")
    result = rules_browser.browser(Values(ALL_FEATURES), ie)
    assert result.status == FAIL and value(result, "zh-CN") == "不支持 Internet Explorer"


@pytest.mark.parametrize(("ua", "browser", "os"), [
    (CHROME.format(v=131), "Chrome 131.0", "Windows 10/11"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
     "Safari/537.36 Edg/131.0.0.0", "Edge 131.0", "Windows 10/11"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0 "
     "Mobile/15E148 Safari/604.1", "Chrome 126.0", "iOS 17.5"),
    ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 "
     "Chrome/121.0.0.0 Mobile Safari/537.36", "Samsung Internet 25.0", "Android 14"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
     "Safari/605.1.15", "Safari 17.4", "macOS 10.15"),
    ("", "Unknown", "Unknown"),
])
def test_user_agent_parsing(ua: str, browser: str, os: str) -> None:
    parsed = parse_user_agent(ua)
    assert (parsed.browser_label(), parsed.os_label()) == (browser, os)


def test_secure_context() -> None:
    assert rules_browser.secure_context(v(secure=True, origin="https://a")).status == PASS
    insecure = rules_browser.secure_context(v(secure=False, origin="http://a"))
    assert insecure.status == FAIL and "https://" in fixes(insecure)
    assert rules_browser.secure_context(v()).status == SKIP


@pytest.mark.parametrize(("name", "message", "advice"), [
    ("NotAllowedError", "Permission denied", "set Microphone to Allow"),
    ("PermissionDeniedError", "", "set Microphone to Allow"),  # the legacy Chrome name
    ("NotAllowedError", "Permission denied by system", "System Settings"),
    ("NotFoundError", "", "No microphone found"),
    ("NotReadableError", "", "Close other apps"),
    ("TrackStartError", "", "Close other apps"),
    ("OverconstrainedError", "", "Pick another microphone"),
    ("SecurityError", "", "administrator has disabled"),
    ("TypeError", "", "https://"),
    ("WeirdError", "", "could not be opened (WeirdError)"),
])
def test_microphone_errors_get_their_advice(name: str, message: str, advice: str) -> None:
    result = rules_browser.mic_permission(v(outcome="error", error_name=name, error_message=message))
    assert result.status == FAIL and advice in fixes(result)


def test_microphone_permission_outcomes() -> None:
    assert rules_browser.mic_permission(v(outcome="ok", state="granted")).status == PASS
    prompt = rules_browser.mic_permission(v(outcome="timeout", state="prompt"))
    assert prompt.status == WARN and "permission prompt" in fixes(prompt)
    assert rules_browser.mic_permission(v()).status == SKIP
    zh = rules_browser.mic_permission(v(outcome="error", error_name="NotAllowedError"))
    assert "地址栏旁的锁形" in fixes(zh, "zh-CN")
    assert value(zh, "zh-CN").startswith("被拒绝")


def test_a_missing_or_broken_microphone_is_not_called_refused() -> None:
    missing = rules_browser.mic_permission(v(outcome="error", error_name="NotFoundError"))
    assert value(missing) == "no microphone found (NotFoundError)"
    assert value(missing, "zh-CN") == "未找到麦克风（NotFoundError）"
    busy = rules_browser.mic_permission(v(outcome="error", error_name="TrackStartError"))  # Chrome's legacy name
    assert value(busy) == "the microphone did not start (TrackStartError)"


def test_audio_devices() -> None:
    assert rules_browser.audio_devices(v(inputs=0)).status == FAIL
    assert rules_browser.audio_devices(v(inputs=2, labelled=0)).status == WARN
    assert rules_browser.audio_devices(v(inputs=2, labelled=2)).status == PASS
    assert rules_browser.audio_devices(v()).status == SKIP


QUIET = 10 ** (th.MIC_QUIET_DBFS / 20)


@pytest.mark.parametrize(("values", "expected"), [
    ({"rms": QUIET * 1.02, "peak": 0.5, "level_mean": 0.2, "level_stddev": 0.1}, PASS),
    ({"rms": QUIET * 0.98, "peak": 0.5, "level_mean": 0.2, "level_stddev": 0.1}, WARN),  # below −60 dBFS
    ({"rms": 0.05, "peak": 0.3, "level_mean": 0.01, "level_stddev": 0.01}, WARN),  # flat and low: Twilio's rule
    ({"rms": 0.05, "peak": 0.3, "level_mean": 0.011, "level_stddev": 0.01}, PASS),
    ({"rms": 0.2, "peak": 1.0, "max_clip_run": 7}, WARN),  # clipping
    ({"rms": 0.2, "peak": 1.0, "max_clip_run": 6}, PASS),
    ({"rms": 0.0, "peak": th.DIGITAL_SILENCE * 0.9}, FAIL),  # digital silence
    ({"rms": 0.2, "peak": 0.5, "muted": True}, FAIL),
    ({"rms": 0.2, "peak": 0.5, "track_state": "ended"}, FAIL),
    ({}, SKIP),
])
def test_microphone_level(values: dict[str, Any], expected: str) -> None:
    assert rules_browser.mic_level(Values(values)).status == expected


def test_speaker() -> None:
    assert rules_browser.speaker(v(answer="heard")).status == PASS
    assert rules_browser.speaker(v(answer="not_heard")).status == FAIL
    assert rules_browser.speaker(v(answer="", context_state="suspended")).status == WARN
    assert rules_browser.speaker(v(answer="")).status == SKIP


# --- call ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("values", "expected"), [
    ({"status": 201, "elapsed_ms": 1999}, PASS), ({"status": 201, "elapsed_ms": 2000}, WARN),
    ({"status": 201, "elapsed_ms": 9999}, WARN), ({"status": 201, "elapsed_ms": 10_000}, FAIL),
    ({"status": 401}, FAIL), ({"status": 404}, SKIP), ({"status": 0, "timed_out": True}, FAIL),
    ({"status": 429, "error_code": "too_many_calls", "error_message": "Hang up one"}, FAIL),
])
def test_signalling(values: dict[str, Any], expected: str) -> None:
    assert rules_call.signalling(Values(values)).status == expected


def test_signalling_blames_the_upstream_when_the_server_could_not_start_it() -> None:
    result = rules_call.signalling(v(status=502, error_code="upstream_key_rejected", error_message="认证失败"))
    # it names the AI service itself (no pointer to another row, which may have passed or been skipped) ...
    assert result.status == FAIL and "AI service" in fixes(result) and "认证失败" in fixes(result)
    assert "row" not in fixes(result)


def test_ice() -> None:
    assert rules_call.ice(v(measured=True, counts={"host": 0})).status == FAIL
    assert rules_call.ice(v(measured=True, counts={"host": 3})).status == PASS
    stun_blocked = rules_call.ice(v(measured=True, counts={"host": 2}, servers=[{"url": "stun:s:3478", "srflx": 0}]))
    assert stun_blocked.status == WARN and "UDP is probably blocked" in fixes(stun_blocked)
    turn_auth = rules_call.ice(v(measured=True, counts={"host": 2, "srflx": 1},
                                 servers=[{"url": "turn:t:3478?transport=udp", "srflx": 1, "relay": 0}]))
    assert turn_auth.status == WARN and "credentials" in fixes(turn_auth) and "transport" not in fixes(turn_auth)
    turn_ok = rules_call.ice(v(measured=True, counts={"host": 2, "relay": 1},
                               servers=[{"url": "turn:t:3478", "srflx": 1, "relay": 1}]))
    assert turn_ok.status == PASS
    assert rules_call.ice(v()).status == SKIP


@pytest.mark.parametrize(("values", "expected"), [
    ({"state": "connected", "connect_ms": 1999, "local_type": "host", "remote_type": "host", "protocol": "udp"}, PASS),
    ({"state": "connected", "connect_ms": 2000, "local_type": "host", "remote_type": "host", "protocol": "udp"}, WARN),
    ({"state": "connected", "connect_ms": 300, "local_type": "relay", "remote_type": "host", "protocol": "udp"}, WARN),
    ({"state": "connected", "connect_ms": 300, "local_type": "host", "remote_type": "host", "protocol": "tcp"}, WARN),
    ({"state": "connected", "connect_ms": 10_000, "protocol": "udp"}, FAIL),
    ({"state": "failed"}, FAIL), ({"state": "skipped"}, SKIP),
])
def test_media_path(values: dict[str, Any], expected: str) -> None:
    assert rules_call.media_path(Values(values)).status == expected


@pytest.mark.parametrize(("values", "expected"), [
    ({"mode": "echo", "heard": True, "delay_ms": 1999}, PASS),
    ({"mode": "echo", "heard": True, "delay_ms": 2000}, WARN),
    ({"mode": "azure", "heard": True, "delay_ms": 4999}, WARN),
    ({"mode": "echo", "heard": True, "delay_ms": 5000}, FAIL),
    ({"mode": "echo", "heard": False}, FAIL), ({}, SKIP),
])
def test_round_trip(values: dict[str, Any], expected: str) -> None:
    assert rules_call.echo(Values(values)).status == expected


def test_websocket() -> None:
    assert rules_call.websocket(v(opened=True), available=False).status == SKIP
    assert rules_call.websocket(v(opened=False, close_code=1006), True).status == FAIL
    assert rules_call.websocket(v(opened=True, first_event="error", error="x"), True).status == WARN
    for ms, expected in ((1999, PASS), (2000, WARN), (10_000, FAIL)):
        assert rules_call.websocket(v(opened=True, first_event="session.created", open_ms=ms), True).status == expected
