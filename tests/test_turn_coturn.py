"""Per-call TURN credentials against a real coturn on loopback: the server's own peer connection, relay-only,
over TURN/UDP and TURN/TCP, audio both ways; coturn refuses expired and forged credentials."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aioice import turn as aioice_turn
from loguru import logger

from tests.conftest import make_client
from tests.media_fixtures.helpers import sign_in
from tests.media_fixtures.rtc_client import RtcClient, tone_bursts
from tests.support.coturn import Coturn, run_coturn
from web.diagnostics.server_view import selected_pair
from web.media.calls import CallRegistry
from web.media.rtc.turn import rest_credentials

pytestmark = pytest.mark.slow
SECRET = "coturn-shared-secret-for-tests-0123456789"
SPEECH = tone_bursts([(0.3, 0.0), (1.2, 0.3), (2.0, 0.0)])


class _Sink(asyncio.DatagramProtocol):
    pass


async def allocate(turn: Coturn, username: str, password: str, transport: str = "udp") -> None:
    """One TURN allocation with these credentials (raises when coturn refuses them)."""
    relay, _ = await asyncio.wait_for(aioice_turn.create_turn_endpoint(
        _Sink, (turn.host, turn.port), username, password, transport=transport), 5)
    relay.close()


async def test_coturn_accepts_minted_credentials_and_refuses_expired_or_forged_ones(tmp_path: Path) -> None:
    with run_coturn(tmp_path / "turn", secret=SECRET) as turn:
        for transport in ("udp", "tcp"):
            await allocate(turn, *rest_credentials(SECRET, "7", ttl_s=60), transport=transport)
        expired = rest_credentials(SECRET, "7", ttl_s=60, now=time.time() - 120)
        forged = rest_credentials("another-secret-entirely-000000000000", "7", ttl_s=60)
        for username, password in (expired, forged):
            with pytest.raises(Exception):  # noqa: B017 - aioice raises TransactionFailed (401) or times out
                await allocate(turn, username, password)


async def _relay_call(app: Any, registry: CallRegistry) -> tuple[dict[str, Any], float]:
    http, token = await sign_in(app)
    client = RtcClient(SPEECH)
    try:
        config = (await http.get("/v1/realtime/config")).json()
        started = time.monotonic()
        response = await client.call(http, token)
        assert response.status_code == 201, response.text
        await client.wait_connected(15)
        connect_ms = (time.monotonic() - started) * 1000
        await client.wait_event("response.done", timeout=20)
        await client.wait_event("output_audio_buffer.stopped", timeout=10)
        assert client.audio.peak_level > 0.05 and client.audio.loud_frames >= 40, client.audio
        # the answer offers relay candidates only, and the server's nominated pair is its relay candidate
        candidates = [ln for ln in response.text.splitlines() if ln.startswith("a=candidate:")]
        assert candidates and all(" typ relay " in ln for ln in candidates), candidates
        call = registry.get((client.location or "").rsplit("/", 1)[1])
        assert call is not None
        pair = selected_pair(call.pc)
        assert pair["local_type"] == "relay", pair
        call_stats = call.stats()
        assert call_stats["uplink"]["packets"] > 100, call_stats
        return config, connect_ms
    finally:
        await client.close()
        await http.aclose()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_relay_only_server_calls_through_coturn_with_per_call_credentials(
        tmp_path: Path, app_factory: Callable[..., Any], transport: str,
        record_property: Callable[[str, object], None]) -> None:
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="DEBUG")
    with run_coturn(tmp_path / "turn", secret=SECRET) as turn:
        urls = (turn.url(transport), turn.url("tls"))
        app = await app_factory(rtc_turn_secret=SECRET, rtc_turn_urls=urls, rtc_turn_ttl_s=120, rtc_relay_only=True)
        registry = app.state.calls
        config, connect_ms = await _relay_call(app, registry)
        record_property("connect_ms", round(connect_ms))
        print(f"relay-only call over TURN/{transport.upper()}: offer → connected {connect_ms:.0f} ms")
        servers = config["iceServers"]
        assert [s["urls"] for s in servers] == list(urls)
        expiry, user = servers[0]["username"].split(":")
        assert user == "1" or user.isdigit()
        assert 100 <= int(expiry) - time.time() <= 125
        assert SECRET not in str(config)
        await registry.close_all()
    logger.remove(sink)
    # coturn allocated for the server's peer connection with the per-call username (the secret is never sent)
    assert re.search(rf"user <\d+:{user}>: incoming packet ALLOCATE processed, success", turn.log_text())
    assert lines and not any(SECRET in line for line in lines)


async def test_config_never_shows_the_secret_and_each_fetch_mints_fresh_credentials(
        app_factory: Callable[..., Any]) -> None:
    app = await app_factory(rtc_turn_secret=SECRET, rtc_turn_urls=("turn:turn.example.test:3478?transport=udp",),
                            rtc_ice_servers="stun:stun.example.test:3478")
    async with make_client(app) as anonymous:
        assert (await anonymous.get("/v1/realtime/config")).status_code == 401
    http, _ = await sign_in(app)
    try:
        first = await http.get("/v1/realtime/config")
        await asyncio.sleep(1.1)
        second = await http.get("/v1/realtime/config")
    finally:
        await http.aclose()
    assert SECRET not in first.text and first.headers["cache-control"] == "no-store"
    a, b = first.json()["iceServers"], second.json()["iceServers"]
    assert a[0] == {"urls": "stun:stun.example.test:3478"}
    assert a[1]["username"] != b[1]["username"] and a[1]["credential"] != b[1]["credential"]
