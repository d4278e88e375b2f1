"""A server behind 1:1 NAT (a cloud VM's public address, a container with published ports), and a client behind its
own NAT, on a simulated network; the client is the diagnostics CLI's aiortc probe.

    [cli 10.73.0.2] ─ [cnat 10.73.0.1 | 100.72.0.2, masquerade] ─ [snat 100.72.0.1 + 100.72.0.10 | 10.72.0.1,
                                                                   1:1 NAT 100.72.0.10 ⇄ 10.72.0.2] ─ [srv 10.72.0.2]

Private addresses are not routed across the "internet" (the snat router drops forwarded packets to 10.72.0.0/24 that
it did not translate). With RTC_ANNOUNCED_ADDRESS=100.72.0.10 the call connects and the echo comes back; without it
the answer offers only 10.72.0.2, the call cannot connect, and the media-path verdict names RTC_ANNOUNCED_ADDRESS.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.media_fixtures.browser_env import require
from tests.support import free_port
from tests.support.live_server import child_environment
from tests.support.netsim import Namespace, Network

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
PRIVATE, PUBLIC = "10.72.0.2", "100.72.0.10"
RUN_TIMEOUT_S = 60


def one_to_one_nat(public_if: str) -> str:
    return (f"table ip t14 {{\n"
            f"    chain prenat {{\n        type nat hook prerouting priority -100\n"
            f"        ip daddr {PUBLIC} dnat to {PRIVATE}\n    }}\n"
            f"    chain postnat {{\n        type nat hook postrouting priority 100\n"
            f"        oifname \"{public_if}\" ip saddr {PRIVATE} snat to {PUBLIC}\n    }}\n"
            f"    chain forwardfilter {{\n        type filter hook forward priority 0\n"
            f"        ip daddr 10.72.0.0/24 ct status dnat accept\n"
            f"        ip daddr 10.72.0.0/24 counter drop\n    }}\n}}\n")


def masquerade(public_if: str) -> str:
    return (f"table ip t14 {{\n    chain postnat {{\n        type nat hook postrouting priority 100\n"
            f"        oifname \"{public_if}\" masquerade\n    }}\n}}\n")


@pytest.fixture
def network() -> Iterator[tuple[Namespace, Namespace]]:
    require(subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip() == "0",
            "network namespaces with veth pairs need root")
    with Network() as net:
        client, cnat, snat, server = (net.namespace(r) for r in ("cli", "cnat", "snat", "srv"))
        net.link(client, "10.73.0.2/24", cnat, "10.73.0.1/24")
        cnat_public, snat_public = net.link(cnat, "100.72.0.2/24", snat, "100.72.0.1/24")
        snat.run(["ip", "addr", "add", f"{PUBLIC}/32", "dev", snat_public])
        net.link(snat, "10.72.0.1/24", server, f"{PRIVATE}/24")
        client.route_default("10.73.0.1")
        cnat.route_default("100.72.0.1")
        server.route_default("10.72.0.1")
        for router in (cnat, snat):
            router.forwarding()
        cnat.nft(masquerade(cnat_public))
        snat.nft(one_to_one_nat(snat_public))
        yield client, server


def probe(network: tuple[Namespace, Namespace], tmp_path: Path, announced: str) -> dict[str, Any]:
    client, server = network
    port = free_port()
    data = tmp_path / f"data{announced or 'none'}"
    data.mkdir()
    env = child_environment(data, {"RTC_HOST_ADDRESSES": PRIVATE, "RTC_ANNOUNCED_ADDRESS": announced,
                                   "REALTIME_UPSTREAM": "echo", "ALLOWED_HOSTS": PUBLIC})
    log_path = data / "server.log"
    with log_path.open("wb") as log:
        app = subprocess.Popen([*server.prefix, sys.executable, "-m", "uvicorn", "web.app:create_app", "--factory",
                                "--host", PRIVATE, "--port", str(port), "--log-level", "warning"],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        out = data / "result.json"
        completed = subprocess.run([*client.prefix, sys.executable, "-m", "tests.media_fixtures.netsim_probe",
                                    "--url", f"http://{PUBLIC}:{port}", "--out", str(out)],
                                   cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
        assert out.exists(), completed.stderr[-2000:]
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        result["_context"] = json.dumps(result)[:2500] + log_path.read_text(errors="replace")[-1500:]
        assert "error" not in result, result["_context"]
        return result
    finally:
        app.terminate()
        try:
            app.wait(10)
        except subprocess.TimeoutExpired:
            app.kill()


def test_server_behind_one_to_one_nat_needs_its_announced_address(
        network: tuple[Namespace, Namespace], tmp_path: Path,
        record_property: Callable[[str, object], None]) -> None:
    good = probe(network, tmp_path, PUBLIC)
    context = good["_context"]
    assert good["media_path"]["state"] == "connected", context
    assert good["echo"].get("heard") is True, context  # our tone went up and came back: audio both ways
    assert {c["address"] for c in good["media_path"]["server_candidates"]} == {PUBLIC}, context
    record_property("offer_to_connected_ms", round(good["media_path"]["connect_ms"]))
    print(f"server behind 1:1 NAT, RTC_ANNOUNCED_ADDRESS set: offer → connected "
          f"{good['media_path']['connect_ms']:.0f} ms")

    bad = probe(network, tmp_path, "")
    context = bad["_context"]
    assert bad["media_path"]["state"] != "connected", context
    assert bad["media_status"] == "fail", context
    assert "RTC_ANNOUNCED_ADDRESS" in bad["media_fixes"][0] and PRIVATE in bad["media_fixes"][0], context
    print(f"without RTC_ANNOUNCED_ADDRESS: not connected, verdict after {bad['elapsed_ms']} ms: "
          f"{bad['media_fixes'][0]}")
