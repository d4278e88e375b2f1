"""ICE configuration: RTC_ICE_SERVERS parsing, RTC_HOST_ADDRESSES (loopback included), RTC_ANNOUNCED_ADDRESS."""

from __future__ import annotations

from collections.abc import Iterator

import aioice.ice
import pytest

from web.media.rtc import ice
from web.media.rtc.negotiate import OfferError, check_offer

ANSWER = "\r\n".join([
    "v=0",
    "m=audio 40000 UDP/TLS/RTP/SAVPF 96",
    "c=IN IP4 172.17.0.2",
    "a=candidate:1 1 udp 2130706431 172.17.0.2 40000 typ host",
    "a=candidate:2 1 udp 1694498815 198.51.100.7 40000 typ srflx raddr 172.17.0.2 rport 40000",
    "a=end-of-candidates",
    "",
])


@pytest.fixture(autouse=True)
def restore_host_addresses() -> Iterator[None]:
    saved = ice._host_addresses
    yield
    ice.configure_host_addresses(saved)


def test_ice_servers_with_credentials() -> None:
    servers = ice.parse_ice_servers(
        " stun:stun.example.test:3478 , turn:alice:s%3Acret@turn.example.test:3478?transport=udp,"
        "turns:bob:pw@turn.example.test:443?transport=tcp"
    )
    assert [s.url for s in servers] == [
        "stun:stun.example.test:3478",
        "turn:turn.example.test:3478?transport=udp",
        "turns:turn.example.test:443?transport=tcp",
    ]
    assert servers[1].username == "alice" and servers[1].credential == "s:cret"
    assert servers[2].for_browser() == {"urls": "turns:turn.example.test:443?transport=tcp", "username": "bob",
                                        "credential": "pw"}
    assert servers[0].for_aiortc().username is None
    assert ice.parse_ice_servers("") == []


@pytest.mark.parametrize("raw", ["http://x", "turn:turn.example.test:3478", "stun:", "turn:u:p@host:notaport"])
def test_bad_ice_servers_fail_clearly_without_echoing_secrets(raw: str) -> None:
    with pytest.raises(ValueError, match="RTC_ICE_SERVERS") as info:
        ice.parse_ice_servers(raw)
    assert ":p@" not in str(info.value)


def test_host_addresses_include_loopback_when_configured() -> None:
    ice.configure_host_addresses(["127.0.0.1", "::1"])
    assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False) == ["127.0.0.1"]
    assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1", "::1"]
    assert ice.loopback_only()
    ice.configure_host_addresses([])
    assert "127.0.0.1" not in aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False)
    assert not ice.loopback_only()
    with pytest.raises(ValueError):
        ice.configure_host_addresses(["not-an-ip"])


def test_announced_address_rewrites_host_candidates_only() -> None:
    out = ice.announce_address(ANSWER, "203.0.113.9")
    assert "a=candidate:1 1 udp 2130706431 203.0.113.9 40000 typ host" in out
    assert "198.51.100.7 40000 typ srflx" in out
    assert "c=IN IP4 203.0.113.9" in out
    assert "172.17.0.2 40000 typ host" not in out
    assert ice.announce_address(ANSWER, "") == ANSWER


def test_loopback_only_server_drops_unreachable_offer_candidates() -> None:
    offer = ("v=0\r\na=candidate:1 1 udp 1 127.0.0.1 5000 typ host\r\n"
             "a=candidate:2 1 udp 1 192.0.2.5 5001 typ host\r\na=candidate:3 1 udp 1 x.local 5002 typ host\r\n")
    ice.configure_host_addresses(["127.0.0.1"])
    stripped = ice.strip_unreachable_candidates(offer)
    assert "127.0.0.1 5000" in stripped and "192.0.2.5" not in stripped and ".local" not in stripped
    ice.configure_host_addresses([])
    assert ice.strip_unreachable_candidates(offer) == offer


@pytest.mark.parametrize(("sdp", "reason"), [
    ("", "must start with v=0"),
    ("v=0\r\nm=video 9 RTP/AVP 96\r\na=mid:0\r\na=candidate:1 1 udp 1 127.0.0.1 1 typ host\r\n", "audio"),
    ("v=0\r\nm=audio 9 RTP/AVP 96\r\na=candidate:1 1 udp 1 127.0.0.1 1 typ host\r\n", "a=mid"),
    ("v=0\r\na=group:BUNDLE 0 7\r\nm=audio 9 RTP/AVP 96\r\na=mid:0\r\na=candidate:1 1 udp 1 127.0.0.1 1 typ host\r\n",
     "BUNDLE"),
    ("v=0\r\nm=audio 9 RTP/AVP 96\r\na=mid:0\r\na=candidate:1 1 udp 1 127.0.0.1 70000 typ host\r\n", "candidate"),
])
def test_structural_offer_checks(sdp: str, reason: str) -> None:
    with pytest.raises(OfferError, match=reason):
        check_offer(sdp)
