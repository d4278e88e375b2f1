"""A client behind NAT on a network that blocks UDP to the server reaches it through a real coturn, in Chromium.

Topology (namespaces made here, random-suffixed, deleted at the end; no packet leaves them):

    [cli 10.71.0.2] ── [nat 10.71.0.1 | 100.71.0.1, masquerade + firewall] ── [srv 100.71.0.2: app + coturn]

1. UDP from the client to the server is dropped, except to coturn's port: the call must go through the relay over UDP.
2. Then every UDP packet to the server is dropped, coturn's included: the relay over TCP (turn:…?transport=tcp).
In both, the reply (the echo of the client's speech) is heard in the page, so audio went both ways, and the selected
candidate pair is the browser's relay candidate with the expected relay protocol. Click → connected is reported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.media_fixtures.browser_env import require
from tests.media_fixtures.speech import make_speech_wav, tools_missing
from tests.support import free_port
from tests.support.coturn import run_coturn
from tests.support.live_server import child_environment
from tests.support.netsim import Namespace, Network

pytestmark = [pytest.mark.slow, pytest.mark.browser]
ROOT = Path(__file__).resolve().parents[1]
SERVER, ROUTER_PUBLIC = "100.71.0.2", "100.71.0.1"
SECRET = "relay-test-shared-secret-0123456789abcdef"
RUN_TIMEOUT_S = 90


def firewall(public_if: str, allow: Sequence[str], block: str = "meta l4proto udp") -> str:
    """Masquerade the client network; of the traffic to the server, pass `allow` and drop `block`."""
    accepts = "".join(f"        ip daddr {SERVER} {rule} accept\n" for rule in allow)
    return (f"table ip t14 {{\n"
            f"    chain postnat {{\n        type nat hook postrouting priority 100\n"
            f"        oifname \"{public_if}\" masquerade\n    }}\n"
            f"    chain forwardfilter {{\n        type filter hook forward priority 0\n{accepts}"
            f"        ip daddr {SERVER} {block} counter drop\n    }}\n}}\n")


def set_firewall(router: Namespace, ruleset: str) -> None:
    router.run(["nft", "flush", "ruleset"])
    router.nft(ruleset)


@pytest.fixture
def network() -> Iterator[tuple[Namespace, Namespace, Namespace, str]]:
    require(subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip() == "0",
            "network namespaces with veth pairs need root")
    with Network() as net:
        client, router, server = net.namespace("cli"), net.namespace("nat"), net.namespace("srv")
        net.link(client, "10.71.0.2/24", router, "10.71.0.1/24")
        public_if, _ = net.link(router, f"{ROUTER_PUBLIC}/24", server, f"{SERVER}/24")
        client.route_default("10.71.0.1")
        router.forwarding()
        yield client, router, server, public_if


@contextmanager
def app_in(server: Namespace, tmp_path: Path, turn_urls: str) -> Iterator[str]:
    port = free_port()  # picked on the host; the server namespace has all its ports free
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    env = child_environment(data, {
        "RTC_HOST_ADDRESSES": SERVER, "REALTIME_UPSTREAM": "echo", "ALLOWED_HOSTS": SERVER,
        "RTC_TURN_SECRET": SECRET, "RTC_TURN_URLS": turn_urls, "RTC_TURN_TTL_S": "300"})
    with (tmp_path / "server.log").open("wb") as log:
        app = subprocess.Popen([*server.prefix, sys.executable, "-m", "uvicorn", "web.app:create_app", "--factory",
                                "--host", SERVER, "--port", str(port), "--log-level", "warning"],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        yield f"http://{SERVER}:{port}"
    finally:
        app.terminate()
        try:
            app.wait(10)
        except subprocess.TimeoutExpired:
            app.kill()


def browser_call(client: Namespace, url: str, wav: Path, workdir: Path, name: str,
                 expect: str = "webrtc", trust_spki: str = "") -> dict[str, Any]:
    out, shot = workdir / f"{name}.json", workdir / f"{name}.png"
    argv = [sys.executable, "-m", "tests.media_fixtures.netsim_browser", "--url", url, "--wav", str(wav),
            "--out", str(out), "--shot", str(shot), "--expect", expect, "--trust-spki", trust_spki]
    completed = subprocess.run([*client.prefix, *argv], cwd=ROOT, capture_output=True, text=True,
                               timeout=RUN_TIMEOUT_S)
    assert out.exists(), completed.stdout[-2000:] + completed.stderr[-2000:]
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    assert "error" not in result, result["error"] + completed.stderr[-2000:]
    return result


def test_client_behind_nat_with_udp_blocked_connects_through_coturn_over_udp_then_tcp(
        network: tuple[Namespace, Namespace, Namespace, str], tmp_path: Path,
        record_property: Callable[[str, object], None]) -> None:
    require(not tools_missing(), f"{', '.join(tools_missing())} missing (bash scripts/bootstrap.sh --test)")
    client, router, server, public_if = network
    wav = make_speech_wav(tmp_path / "speech")
    with run_coturn(tmp_path / "turn", listen=SERVER, secret=SECRET, prefix=server.prefix,
                    allowed_peers=(SERVER,)) as turn, \
            app_in(server, tmp_path, f"{turn.url('udp')},{turn.url('tcp')}") as url:
        for phase, allow, relay_protocol in ((("udp", [f"udp dport {turn.port}"], "udp"), ("tcp", [], "tcp"))):
            set_firewall(router, firewall(public_if, allow))
            result = browser_call(client, url, wav, tmp_path, phase)
            assert_relayed(result, relay_protocol, tmp_path)
            dropped = router.run(["nft", "list", "chain", "ip", "t14", "forwardfilter"]).stdout
            assert "packets 0 " not in dropped, dropped  # the firewall really dropped the direct UDP attempts
            record_property(f"click_to_connected_ms_{phase}", result["click_to_connected_ms"])
            print(f"relay over {phase.upper()}: click → connected {result['click_to_connected_ms']} ms, "
                  f"click → reply heard {result.get('click_to_audio_ms')} ms")


def assert_relayed(result: dict[str, Any], relay_protocol: str, tmp_path: Path) -> None:
    context = json.dumps(result, ensure_ascii=False)[:3000] + (tmp_path / "server.log").read_text()[-2000:]
    assert result.get("max_audio_level", 0) > 0.01, context  # the echo of our speech came back
    assert result["outbound"]["packets"] > 100, context
    selected = result["selected"]
    assert selected["local_type"] == "relay" and selected["relay_protocol"] == relay_protocol, context
    assert result["click_to_connected_ms"] < 10_000, context
    assert result["badge"] == "已连接", context


def test_only_tcp_443_to_a_tls_turn_works_and_with_only_http_the_page_falls_back_to_websocket(
        network: tuple[Namespace, Namespace, Namespace, str], tmp_path: Path,
        record_property: Callable[[str, object], None]) -> None:
    require(not tools_missing(), f"{', '.join(tools_missing())} missing (bash scripts/bootstrap.sh --test)")
    client, router, server, public_if = network
    wav = make_speech_wav(tmp_path / "speech")
    with run_coturn(tmp_path / "turn", listen=SERVER, secret=SECRET, prefix=server.prefix, tls_port=443,
                    allowed_peers=(SERVER,)) as turn, \
            app_in(server, tmp_path, f"{turn.url('udp')},{turn.url('tcp')},{turn.url('tls')}") as url:
        http_port = url.rsplit(":", 1)[1]
        # a hotel/corporate network: the web (the app's port stands for HTTPS) and TCP 443, nothing else
        set_firewall(router, firewall(public_if, [f"tcp dport {{ 443, {http_port} }}"], block=""))
        # the browser trusts the TURN server's test certificate, as it would trust a real one
        result = browser_call(client, url, wav, tmp_path, "tls", trust_spki=turn.spki_sha256)
        assert_relayed(result, "tls", tmp_path)
        record_property("click_to_connected_ms_tls", result["click_to_connected_ms"])
        print(f"relay over TLS on 443: click → connected {result['click_to_connected_ms']} ms")
        # nothing but HTTP(S) to the app: WebRTC cannot connect, and the page says so and switches to the WebSocket
        set_firewall(router, firewall(public_if, [f"tcp dport {http_port}"], block=""))
        fallback = browser_call(client, url, wav, tmp_path, "http-only", expect="websocket")
        context = json.dumps(fallback, ensure_ascii=False)[:3000]
        assert fallback["badge"] == "已连接（WebSocket，延迟较高）", context
        assert "WebRTC 无法连接，正在切换到 WebSocket..." in fallback["badges_seen"], context
        assert fallback["peer_connections"] == 1, context  # WebRTC was tried first
        # the page's 4 s deadline, then the socket
        assert 4_000 <= fallback["click_to_ws_connected_ms"] < 8_000, context
        record_property("click_to_ws_connected_ms", fallback["click_to_ws_connected_ms"])
        print(f"HTTP only: click → WebSocket connected {fallback['click_to_ws_connected_ms']} ms")
