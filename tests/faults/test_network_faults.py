"""Faults in the network between the user and the server, on both surfaces:

- a proxy that refuses WebSocket upgrades (HAProxy from Debian in front of the app, `http-request deny` on
  `Upgrade: websocket`): the WebSocket row fails naming a proxy; nothing else fails;
- UDP dropped by a firewall rule in the client's network namespace (nftables; TCP still passes): the media-path row
  fails naming the firewall and UDP; the rows after it defer to it. The app runs in the server's namespace; the
  CLI and Chromium run in the client's.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.test_diagnostics_page import serve
from tests.faults.matrix import Fault, check_verdicts
from tests.faults.test_cli_faults import cli_rows
from tests.faults.test_page_faults import NAMED_WITHIN_S, run_case
from tests.media_fixtures.browser_env import require
from tests.support import free_port
from tests.support.browser import BrowserOptions, launch_chromium
from tests.support.live_server import child_environment
from tests.support.netsim import Namespace, Network
from tests.test_diagnostics_cli import DEMO, diagnose
from web.diagnostics.catalog import BY_ID
from web.i18n import translate

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(300)]
ROOT = Path(__file__).resolve().parents[2]
HAPROXY = shutil.which("haproxy", path="/usr/sbin:/usr/bin")
WS_REFUSED = Fault("proxy refuses WebSocket", "websocket", ("blocked", "proxy"), page_needles=("代理", "WebSocket"))
UDP_DROPPED = Fault("UDP dropped by a firewall", "media_path", ("not connected", "UDP", "firewall"),
                    page_needles=("未连通", "UDP", "防火墙"))
SERVER, CLIENT = "10.75.0.1", "10.75.0.2"
DROP_UDP = ("table inet t10 {\n    chain out {\n        type filter hook output priority 0\n"
            "        meta l4proto udp counter drop\n    }\n}\n")


def _haproxy_config(listen: int, app: int) -> str:
    return (f"defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n"
            f"frontend web\n    bind 127.0.0.1:{listen}\n"
            f"    http-request deny deny_status 403 if {{ hdr(upgrade) -i websocket }}\n"
            f"    default_backend app\nbackend app\n    server app 127.0.0.1:{app}\n")


def _wait_listening(port: int, host: str = "127.0.0.1", timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            probe.settimeout(0.2)
            if probe.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port} after {timeout_s} s")


async def test_a_proxy_refusing_websocket_upgrades_is_named(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    require(HAPROXY is not None, "HAProxy is not installed (apt-get install haproxy)")
    async with serve(tmp_path) as (app_url, _app):
        port = free_port()
        config = tmp_path / "haproxy.cfg"
        config.write_text(_haproxy_config(port, int(app_url.rsplit(":", 1)[1])), encoding="utf-8")
        proxy = await asyncio.create_subprocess_exec(str(HAPROXY), "-db", "-f", str(config),
                                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                                     stdin=subprocess.DEVNULL)
        try:
            await asyncio.to_thread(_wait_listening, port)
            url = f"http://127.0.0.1:{port}"
            async with launch_chromium(BrowserOptions()) as browser:
                line = await run_case(browser, url, WS_REFUSED)
            code, output = await diagnose(tmp_path, url, *DEMO, "--json", "--lang", "en", "--seconds", "1",
                                          "--no-report")
        finally:
            proxy.terminate()
            await asyncio.wait_for(proxy.wait(), 10)
    rows, summary = cli_rows(output)
    check_verdicts(WS_REFUSED, rows, summary, translate(BY_ID["websocket"].title, "en"))
    assert "403" in rows["websocket"]["text"] and code == 1, output
    with capsys.disabled():
        print(f"\n[faults] page {line}\n[faults] cli {WS_REFUSED.name}: websocket {rows['websocket']['status']} — "
              f"{rows['websocket']['text'][:90]}")


@pytest.fixture
def udp_blocked() -> Iterator[tuple[Namespace, Namespace]]:
    require(subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip() == "0",
            "network namespaces with veth pairs need root")
    require(shutil.which("nft") is not None, "nftables (nft) is not installed")
    with Network() as net:
        client, server = net.namespace("cli"), net.namespace("srv")
        net.link(client, f"{CLIENT}/24", server, f"{SERVER}/24")
        client.nft(DROP_UDP)  # the user's network lets TCP through and drops every UDP packet
        yield client, server


def test_udp_dropped_by_a_firewall_is_named(udp_blocked: tuple[Namespace, Namespace], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    client, server = udp_blocked
    port = free_port()
    url = f"http://{SERVER}:{port}"
    data = tmp_path / "server"
    data.mkdir()
    env = child_environment(data, {"RTC_HOST_ADDRESSES": SERVER, "REALTIME_UPSTREAM": "echo",
                                   "ALLOWED_HOSTS": SERVER})
    log_path = data / "server.log"
    with log_path.open("wb") as log:
        app = subprocess.Popen([*server.prefix, sys.executable, "-m", "uvicorn", "web.app:create_app", "--factory",
                                "--host", SERVER, "--port", str(port), "--log-level", "warning"],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        out = tmp_path / "page.json"
        page_run = subprocess.run([*client.prefix, sys.executable, "-m", "tests.faults.netns_page", "--url", url,
                                   "--owner", "media_path", "--out", str(out)], cwd=ROOT, capture_output=True,
                                  text=True, timeout=150)
        assert out.exists(), page_run.stderr[-2000:]
        page = json.loads(out.read_text(encoding="utf-8"))
        assert "error" not in page, (page, log_path.read_text(errors="replace")[-1500:])
        cli_env = child_environment(tmp_path / "cli-data")
        started = time.monotonic()
        cli = subprocess.run([*client.prefix, sys.executable, "-m", "web", "diagnose", url, *DEMO, "--json",
                              "--lang", "en", "--seconds", "1", "--no-report"], cwd=ROOT, capture_output=True,
                             text=True, timeout=90, env=cli_env)
        cli_s = time.monotonic() - started
    finally:
        app.terminate()
        try:
            app.wait(10)
        except subprocess.TimeoutExpired:
            app.kill()
    check_verdicts(UDP_DROPPED, page["rows"], page["summary"], translate(BY_ID["media_path"].title, "zh-CN"),
                   UDP_DROPPED.on_page)
    assert page["named_s"] is not None and page["named_s"] < NAMED_WITHIN_S, page["named_s"]
    rows, summary = cli_rows(cli.stdout)
    check_verdicts(UDP_DROPPED, rows, summary, translate(BY_ID["media_path"].title, "en"))
    assert cli.returncode == 1, cli.stdout
    with capsys.disabled():
        print(f"\n[faults] page {UDP_DROPPED.name}: media_path fail after {page['named_s']:.1f} s — "
              f"{page['rows']['media_path']['text'][:90]}\n[faults] cli {UDP_DROPPED.name}: media_path "
              f"{rows['media_path']['status']} in {cli_s:.1f} s — {rows['media_path']['text'][:90]}")
