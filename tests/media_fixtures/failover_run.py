"""A voice call in headless Chromium survives the `kill -9` of the node that holds it: two gateway nodes on one
PostgreSQL behind HAProxy (round robin, no stickiness), all on the loopback of a private network namespace:

    unshare --net sh -c 'ip link set lo up; exec .venv/bin/python -m tests.media_fixtures.failover_run \
        --database postgresql://user@/db?host=/run/postgresql --wav speech.wav --workdir /tmp/run --out result.json'

The database is reached through its Unix socket (a namespace does not separate the file system). The page signs in
through the balancer, starts a call and hears the reply; the run kills the call's owner with SIGKILL and records how
the page gets its call back: through the balancer, from the other node, with the reply heard again. The verdict is
the test's job (tests/browser/test_voice_failover.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page

from tests.media_fixtures.browser_run import RECORD_PCS, START, sign_in, wait_for_audio
from tests.support import free_port
from tests.support.browser import BrowserOptions, launch_chromium, new_context
from tests.support.cluster import NODE_HEADER, owner_of
from tests.support.live_server import child_environment

ROOT = Path(__file__).resolve().parents[2]
SECRET = "failover-test-secret-0123456789-abcdefghijklmn"
HAPROXY_CFG = """global
    maxconn 256
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    retries 2
    option redispatch
frontend gateway
    bind 127.0.0.1:{port}
    default_backend nodes
backend nodes
    balance roundrobin
    option httpchk
    http-check send meth GET uri /health/ready ver HTTP/1.1 hdr Host localhost
    http-check expect status 200
    default-server inter 300ms fall 2 rise 2
{servers}
"""


def start_node(workdir: Path, name: str, port: int, database: str, balancer: str) -> subprocess.Popen[bytes]:
    data = workdir / name
    data.mkdir(parents=True, exist_ok=True)
    env = child_environment(data, {
        "DATABASE_URL": database, "SECRET_KEY": SECRET, "WEB_CONCURRENCY": "1", "PUBLIC_ORIGIN": balancer,
        "ALLOWED_HOSTS": "127.0.0.1,localhost", "FORWARDED_ALLOW_IPS": "127.0.0.1", "REALTIME_UPSTREAM": "echo",
        "RTC_HOST_ADDRESSES": "127.0.0.1"})
    with (data / "server.log").open("wb") as log:
        return subprocess.Popen([sys.executable, "-m", "web", "serve", "--host", "127.0.0.1", "--port", str(port)],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def start_haproxy(workdir: Path, port: int, node_ports: list[int]) -> subprocess.Popen[bytes]:
    config = workdir / "haproxy.cfg"
    servers = "\n".join(f"    server n{i} 127.0.0.1:{p} check" for i, p in enumerate(node_ports))
    config.write_text(HAPROXY_CFG.format(port=port, servers=servers), encoding="utf-8")
    with (workdir / "haproxy.log").open("wb") as log:
        return subprocess.Popen(["haproxy", "-f", str(config), "-db"], stdout=subprocess.DEVNULL, stderr=log)


async def wait_until(probe: str, condition: Any, timeout: float, what: str) -> httpx.Response:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            try:
                response = await client.get(probe)
                if condition(response):
                    return response
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} within {timeout} s")
            await asyncio.sleep(0.1)


async def scenario(page: Page, nodes: dict[str, subprocess.Popen[bytes]], result: dict[str, Any]) -> None:
    await sign_in(page)
    await page.get_by_role("button", name=START).click()
    await wait_for_audio(page, result, 40)
    result["first_audio_level"] = result.pop("max_audio_level", 0.0)
    first = (await page.evaluate("() => window.__locations"))[-1]
    owner = owner_of(first)
    result["first_owner"] = owner
    victim = nodes[owner]
    before = await page.locator("#voice-transcript").inner_text()
    killed_at = time.monotonic()
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    await page.wait_for_function("() => window.__pcs.length >= 2 && window.__pcs.at(-1).connectionState === "
                                 "'connected'", timeout=30_000)
    result["kill_to_connected_ms"] = round((time.monotonic() - killed_at) * 1000)
    await page.wait_for_selector("#voice-panel[data-state='connected']", timeout=5_000)
    locations = await page.evaluate("() => window.__locations")
    result["calls_made"] = len(locations)
    result["second_owner"] = owner_of(locations[-1])
    result["badges_seen"] = await page.evaluate("() => window.__badges")
    result["transcript_kept"] = before in await page.locator("#voice-transcript").inner_text()
    result.pop("click_to_audio_ms", None)
    result.pop("samples_at_first_audio", None)
    await page.evaluate("() => { window.__clickAt = performance.now(); }")  # the reply on the new call
    await wait_for_audio(page, result, 30)
    result["second_audio_level"] = result.pop("max_audio_level", 0.0)
    await page.get_by_test_id("voice-stop").click()
    await page.wait_for_selector("#voice-panel[data-state='idle']", timeout=5_000)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(args.workdir)
    result: dict[str, Any] = {}
    lb_port = free_port()
    balancer = f"http://127.0.0.1:{lb_port}"
    ports = [free_port(), free_port()]
    processes = [start_node(workdir, f"node{i}", port, args.database, balancer) for i, port in enumerate(ports)]
    haproxy = start_haproxy(workdir, lb_port, ports)
    try:
        nodes: dict[str, subprocess.Popen[bytes]] = {}  # node tag → process
        for port, process in zip(ports, processes, strict=True):
            ready = await wait_until(f"http://127.0.0.1:{port}/health/ready", lambda r: r.status_code == 200, 40,
                                     f"node on port {port} was not ready")
            nodes[ready.headers[NODE_HEADER]] = process
        await wait_until(balancer + "/health", lambda r: r.status_code == 200, 10, "the balancer did not answer")
        await asyncio.sleep(1.0)  # both nodes' health checks have risen (2 × 300 ms)
        result["nodes"] = sorted(nodes)
        options = BrowserOptions(fake_mic_wav=Path(args.wav), loop_mic=True)
        async with launch_chromium(options) as browser:
            context, problems = await new_context(browser, base_url=balancer, grant_mic=True)
            await context.add_init_script(script=RECORD_PCS)
            page = await context.new_page()
            try:
                await scenario(page, nodes, result)
                await problems.flush(page)
            finally:
                await page.screenshot(path=str(workdir / "failover.png"))
                await context.close()
            result["problems"] = {"console": problems.console_errors, "page": problems.page_errors,
                                  "csp": problems.csp_violations, "http": problems.http_errors}
    finally:
        haproxy.kill()
        for process in processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--wav", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    try:
        result = asyncio.run(run(args))
    except Exception as exc:  # the test prints this with the server logs
        result = {"error": f"{type(exc).__name__}: {exc}"}
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
