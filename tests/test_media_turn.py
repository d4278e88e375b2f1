"""Per-call TURN credentials (coturn's shared-secret scheme), relay-only, and the secret kept out of reprs and logs."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest
from aiortc import RTCIceTransportPolicy

from tests.conftest import make_settings
from web.logs.redact import redact_text
from web.media.rtc.turn import IceServers, rest_credentials

SECRET = "not-a-real-secret-but-long-enough"
URLS = ("turn:turn.example.test:3478?transport=udp", "turns:turn.example.test:443?transport=tcp")


def test_rest_credentials_follow_the_coturn_scheme() -> None:
    username, password = rest_credentials(SECRET, "42", ttl_s=600, now=1_700_000_000.5)
    assert username == "1700000600:42"
    expected = base64.b64encode(hmac.new(SECRET.encode(), b"1700000600:42", hashlib.sha1).digest()).decode()
    assert password == expected and len(password) == 28
    assert rest_credentials(SECRET, "", ttl_s=60, now=100)[0] == "160"


def test_each_call_gets_its_own_credentials_after_the_static_entries(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, rtc_ice_servers="stun:stun.example.test:3478", rtc_turn_secret=SECRET,
                             rtc_turn_urls=URLS, rtc_turn_ttl_s=300)
    servers = IceServers.from_settings(settings)
    alice, bob = servers.for_browser(1, now=1000), servers.for_browser(2, now=1000)
    assert alice[0] == {"urls": "stun:stun.example.test:3478"}
    assert [s["urls"] for s in alice[1:]] == list(URLS)
    assert alice[1]["username"] == "1300:1" and bob[1]["username"] == "1300:2"
    assert alice[1]["credential"] != bob[1]["credential"]
    assert SECRET not in repr(servers) and SECRET not in repr(settings)
    config = servers.rtc_configuration(1)
    assert config.iceTransportPolicy == RTCIceTransportPolicy.ALL
    assert [s.urls for s in config.iceServers or []] == ["stun:stun.example.test:3478", *URLS]


def test_relay_only_policy(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, rtc_turn_secret=SECRET, rtc_turn_urls=URLS[:1], rtc_relay_only=True)
    assert IceServers.from_settings(settings).rtc_configuration(1).iceTransportPolicy == RTCIceTransportPolicy.RELAY
    static = make_settings(tmp_path, rtc_ice_servers="turn:u:p@turn.example.test:3478", rtc_relay_only=True)
    assert IceServers.from_settings(static).relay_only


@pytest.mark.parametrize(("overrides", "message"), [
    ({"rtc_turn_secret": SECRET}, "go together"),
    ({"rtc_turn_urls": URLS}, "go together"),
    ({"rtc_turn_secret": SECRET, "rtc_turn_urls": ("stun:x.test:3478",)}, "not a turn: or turns: URL"),
    ({"rtc_turn_secret": SECRET, "rtc_turn_urls": ("turn:u:pw@x.test:3478",)}, "leave credentials out"),
    ({"rtc_turn_secret": SECRET, "rtc_turn_urls": URLS, "rtc_turn_ttl_s": 5}, "RTC_TURN_TTL_S"),
    ({"rtc_relay_only": True}, "RTC_RELAY_ONLY=true needs a TURN server"),
    ({"rtc_relay_only": True, "rtc_ice_servers": "stun:stun.example.test:3478"}, "needs a TURN server"),
    ({"rtc_ice_gather_timeout_s": 0.0}, "RTC_ICE_GATHER_TIMEOUT_S"),
])
def test_bad_turn_settings_fail_at_start_up_without_the_secret(tmp_path: Path, overrides: dict[str, object],
                                                               message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        IceServers.from_settings(make_settings(tmp_path, **overrides))
    assert SECRET not in str(info.value) and "pw@" not in str(info.value)


def test_log_redaction_hides_inline_turn_credentials() -> None:
    text = redact_text("ice servers: turn:alice:s3cr3t@turn.example.test:3478, turns:bob:pw@turn.example.test:443")
    assert "s3cr3t" not in text and "pw@" not in text
    assert "turn:[REDACTED]@turn.example.test:3478" in text


async def test_gathering_waits_for_a_dead_stun_server_no_longer_than_the_limit() -> None:
    import socket
    import time

    from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection

    from web.media.rtc import gather_limit, ice

    saved = ice._host_addresses
    ice.configure_host_addresses(["127.0.0.1"])
    gather_limit.limit_gathering(0.3)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as dead:
            dead.bind(("127.0.0.1", 0))  # never answers (aioice alone would wait 5 s for it)
            pc = RTCPeerConnection(RTCConfiguration([RTCIceServer(f"stun:127.0.0.1:{dead.getsockname()[1]}")]))
            pc.createDataChannel("probe")
            started = time.monotonic()
            await pc.setLocalDescription(await pc.createOffer())
            elapsed = time.monotonic() - started
            assert pc.localDescription is not None and " typ host" in pc.localDescription.sdp
            await pc.close()
    finally:
        gather_limit.limit_gathering(5.0)
        ice.configure_host_addresses(saved)
    assert 0.25 <= elapsed < 1.0, elapsed
