"""The media-path row names the kind of path (a TURN relay over UDP/TCP/TLS) and, when a call cannot connect because
the server answered with private addresses only, names RTC_ANNOUNCED_ADDRESS."""

from __future__ import annotations

from web.diagnostics import rules_call
from web.diagnostics.model import FAIL, PASS, WARN
from web.diagnostics.rules_path import answer_candidates
from web.diagnostics.values import Values

ANSWER = "\r\n".join(["v=0", "a=candidate:1 1 udp 2130706431 10.72.0.2 40000 typ host",
                      "a=candidate:2 1 udp 16777215 203.0.113.9 50000 typ relay raddr 0.0.0.0 rport 0", ""])


def test_answer_candidates() -> None:
    assert answer_candidates(ANSWER) == [{"type": "host", "address": "10.72.0.2", "protocol": "udp"},
                                         {"type": "relay", "address": "203.0.113.9", "protocol": "udp"}]


def test_relay_over_tcp_is_named_and_warned_honestly() -> None:
    result = rules_call.media_path(Values({"state": "connected", "connect_ms": 300, "local_type": "relay",
                                           "remote_type": "host", "protocol": "udp", "relay_protocol": "tcp"}))
    assert result.status == WARN
    assert result.value is not None
    assert result.value.render("en") == "connected in 300 ms: relay → host, TURN relay over TCP"
    assert "Only the TURN relay works" in result.fixes[0].render("en")
    direct = rules_call.media_path(Values({"state": "connected", "connect_ms": 300, "local_type": "host",
                                           "remote_type": "host", "protocol": "udp"}))
    assert direct.status == PASS and direct.value is not None
    assert direct.value.render("en").endswith("host → host, UDP")


def test_private_answer_without_announced_address_names_the_setting() -> None:
    private = [{"type": "host", "address": "10.72.0.2"}, {"type": "host", "address": "172.17.0.3"}]
    result = rules_call.media_path(Values({"state": "checking", "server_candidates": private}))
    assert result.status == FAIL and "RTC_ANNOUNCED_ADDRESS" in result.fixes[0].render("en")
    assert "10.72.0.2, 172.17.0.3" in result.fixes[0].render("en")
    public = [{"type": "host", "address": "100.72.0.10"}]  # announced: the advice would be wrong, so it is absent
    for candidates in (public, [*private, {"type": "relay", "address": "10.72.0.9"}], []):
        fixes = rules_call.media_path(Values({"state": "failed", "server_candidates": candidates})).fixes
        assert not any("RTC_ANNOUNCED_ADDRESS" in f.render("en") for f in fixes)
