"""Malformed and hostile offers: always a 400 with a reason (or a working call), never a 500, never a leak.

The corpus mutates a real offer the way SDP fuzzers do (Janus `sdp_fuzzer.c`, pion `FuzzUnmarshal`): every line
deleted in turn, truncations, huge numbers, garbage attributes, duplicated and reordered sections, encoding junk.
"""

from __future__ import annotations

import asyncio
import gc
import random
import re

import pytest

from tests.media_fixtures.helpers import SignedIn, open_fds
from tests.media_fixtures.rtc_client import RtcClient
from web.media.calls import CallRegistry

pytest_plugins = ("tests.media_fixtures.fixtures",)  # the `registry` and `signed_in` fixtures

HOSTILE_LINES = [
    "a=rtpmap:abc opus/48000/2",
    "a=rtpmap:111 opus/notanumber/2",
    "a=fingerprint:sha-256 ZZ:ZZ",
    "a=fingerprint:md5 00",
    "a=candidate:garbage",
    "a=candidate:1 1 udp 99999999999999999999 127.0.0.1 99999 typ host",
    "a=candidate:1 1 udp 1 127.0.0.1 -5 typ host",
    "a=sctp-port:-1",
    "a=sctp-port:99999999999999999999",
    "a=max-message-size:-7",
    "a=ssrc:notanumber cname:x",
    "a=ssrc-group:FID 1",
    "a=group:BUNDLE",
    "a=mid:",
    "a=extmap:99999 urn:x",
    "a=extmap:abc urn:x",
    "a=fmtp:111 minptime=;;;;",
    "a=rtcp-fb:* nack",
    "a=rtcp:abc IN IP4 1.2.3.4",
    "a=setup:sideways",
    "a=ice-options:" + "x" * 5000,
]


def _lines(sdp: str) -> list[str]:
    return [ln for ln in sdp.split("\r\n") if ln]


def _join(lines: list[str]) -> str:
    return "\r\n".join(lines) + "\r\n"


def mutations(offer: str) -> list[tuple[str, str]]:
    lines = _lines(offer)
    rng = random.Random(1234)
    out: list[tuple[str, str]] = []
    for i in range(len(lines)):  # delete each line in turn
        out.append((f"delete line {i}: {lines[i][:30]}", _join(lines[:i] + lines[i + 1 :])))
    for cut in (0, 1, 5, 20, 50, 100, 200, 400, len(offer) // 2, len(offer) - 10):
        out.append((f"truncate at {cut}", offer[:cut]))
    for bad in HOSTILE_LINES:  # append to the audio section, and replace the matching original line
        audio = next(i for i, ln in enumerate(lines) if ln.startswith("m=audio"))
        out.append((f"insert {bad[:30]}", _join(lines[: audio + 1] + [bad] + lines[audio + 1 :])))
        prefix = bad.split(":")[0] + ":"
        replaced = [bad if ln.startswith(prefix) else ln for ln in lines]
        if replaced != lines:
            out.append((f"replace with {bad[:30]}", _join(replaced)))
    numbers = re.compile(r"\d+")
    for _ in range(15):  # huge or negative numbers in random lines
        idx = rng.randrange(len(lines))
        value = rng.choice(["99999999999999999999", "-1", "0", "4294967296", "65536"])
        mutated = list(lines)
        mutated[idx] = numbers.sub(value, mutated[idx], count=1)
        out.append((f"number {value} in line {idx}", _join(mutated)))
    for i in range(10):  # shuffled lines
        shuffled = list(lines)
        rng.shuffle(shuffled)
        out.append((f"shuffle {i}", _join(shuffled)))
    audio_at = next(i for i, ln in enumerate(lines) if ln.startswith("m=audio"))
    app_at = next((i for i, ln in enumerate(lines) if ln.startswith("m=application")), len(lines))
    audio_section = lines[audio_at:app_at] if app_at > audio_at else lines[audio_at:]
    out += [
        ("empty", ""),
        ("whitespace", "   \r\n\r\n"),
        ("not sdp", "hello world"),
        ("json", '{"type": "offer", "sdp": "v=0"}'),
        ("binary junk", bytes(rng.randrange(256) for _ in range(600)).decode("latin-1")),
        ("NUL bytes", offer.replace("a=", "a\x00=", 3)),
        ("LF only", offer.replace("\r\n", "\n")),
        ("CR only", offer.replace("\r\n", "\r")),
        ("two audio sections", _join(lines + audio_section)),
        ("video section", _join(lines + ["m=video 9 UDP/TLS/RTP/SAVPF 96", "a=rtpmap:96 VP8/90000", "a=mid:v"])),
        ("unknown media", _join(lines + ["m=text 9 RTP/AVP 98"])),
        ("no candidates", _join([ln for ln in lines if not ln.startswith("a=candidate")])),
        ("only remote candidates", _join([ln.replace("127.0.0.1", "192.0.2.1") for ln in lines])),
        ("mdns candidates", _join([re.sub(r"127\.0\.0\.1", "abcd.local", ln) for ln in lines])),
        ("no opus", _join([ln.replace("opus", "speex") for ln in lines])),
        ("unicode", offer.replace("a=mid:0", "a=mid:音频")),
        ("oversized", offer + "a=x:" + "y" * 70_000 + "\r\n"),
        ("v=1", offer.replace("v=0", "v=1", 1)),
        ("recvonly inactive", offer.replace("a=sendrecv", "a=inactive")),
        ("doubled", offer + offer),
    ]
    return out


async def test_malformed_offers_get_400_or_a_call_and_nothing_leaks(signed_in: SignedIn,
                                                                   registry: CallRegistry) -> None:
    http, token = signed_in
    probe = RtcClient()
    offer = await probe.offer_sdp()
    corpus = mutations(offer)
    assert len(corpus) >= 100
    # warm up allocations that happen once per process (codecs, certificate, thread pools)
    warm = await probe.call(http, token, sdp=offer, apply_answer=False)
    assert warm.status_code == 201
    assert (await http.delete(warm.headers["location"], headers={"X-CSRF-Token": token})).status_code == 204
    gc.collect()
    fds_before = open_fds()
    tasks_before = len(asyncio.all_tasks())

    statuses: dict[str, int] = {}
    for name, sdp in corpus:
        response = await http.post("/v1/realtime/calls", content=sdp.encode("utf-8", "surrogateescape"),
                                   headers={"Content-Type": "application/sdp", "X-CSRF-Token": token})
        statuses[name] = response.status_code
        assert response.status_code in (201, 400), (name, response.status_code, response.text[:300])
        if response.status_code == 400:
            error = response.json()["error"]
            assert error["code"] in ("invalid_offer", "invalid_request")
            assert error["detail"]  # says what was wrong
        else:
            hang_up = await http.delete(response.headers["location"], headers={"X-CSRF-Token": token})
            assert hang_up.status_code == 204
        assert registry.active_count() == 0, name

    for name in ("empty", "not sdp", "binary junk", "NUL bytes", "two audio sections", "video section",
                 "only remote candidates", "no opus", "oversized", "v=1"):
        assert statuses[name] == 400, name
    assert statuses["no candidates"] == 201  # learnt from the client's checks, as OpenAI's service does
    rejected = sum(1 for s in statuses.values() if s == 400)
    print(f"{rejected} of {len(statuses)} rejected")
    assert rejected >= 60, statuses
    await probe.close()
    gc.collect()
    await asyncio.sleep(0)
    assert registry.stats()["reserved"] == 0
    assert open_fds() <= fds_before + 2
    assert len(asyncio.all_tasks()) <= tasks_before + 2


@pytest.mark.parametrize("body", [b"\xff\xfe not utf-8", b"v=0\r\n" * 20_000])
async def test_undecodable_or_huge_bodies_are_400(signed_in: SignedIn, registry: CallRegistry, body: bytes) -> None:
    http, token = signed_in
    response = await http.post("/v1/realtime/calls", content=body,
                               headers={"Content-Type": "application/sdp", "X-CSRF-Token": token})
    assert response.status_code in (400, 413)
    assert registry.active_count() == 0
