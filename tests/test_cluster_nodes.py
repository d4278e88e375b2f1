"""Three gateway nodes behind HAProxy (round robin, no stickiness) on one PostgreSQL, on a simulated network.

    [lb: HAProxy 127.0.0.1:8080, the test's client] ─ 10.80.1.1 ⇄ 10.80.1.2 [node1]
                                                   ─ 10.80.2.1 ⇄ 10.80.2.2 [node2]
                                                   ─ 10.80.3.1 ⇄ 10.80.3.2 [node3]

Each node is `python -m web serve` in its own network namespace; they share the test PostgreSQL through its Unix
socket (namespaces do not separate the file system) and know each other only through it. The client (the test's own
aiortc peer and HTTP client) runs in the balancer's namespace: its asyncio loop lives in a thread that joined that
namespace (`setns`), so signalling goes through HAProxy and the media straight to the owning node's address.

The tests run in file order and share the nodes: the last two kill one node (`kill -9`) and stop another (SIGTERM).
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.media_fixtures.browser_env import require
from tests.media_fixtures.rtc_client import RtcClient
from tests.support.auth import login, page_token
from tests.support.cluster import directory_rows, fresh_connections, fresh_database, node_of, owner_of, socket_url
from tests.support.live_server import child_environment
from tests.support.netsim import Namespace, Network
from web.media.rtc.ice import configure_host_addresses, host_addresses

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[1]
NODES = 3
PORT = 3000
BALANCER = "http://127.0.0.1:8080"
SECRET = "cluster-test-secret-0123456789-abcdefghijklmnop"
USER_EMAIL, USER_PASSWORD = "carol@example.com", "Carol-pass-2026!"
CLONE_NEWNET = 0x40000000
T = TypeVar("T")

HAPROXY_CFG = """global
    maxconn 512
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    retries 2
    option redispatch
    option forwardfor
frontend gateway
    bind 127.0.0.1:8080
    default_backend nodes
backend nodes
    balance roundrobin
    option httpchk
    http-check send meth GET uri /health/ready ver HTTP/1.1 hdr Host localhost
    http-check expect status 200
    default-server inter 300ms fall 2 rise 2
{servers}
"""


def node_address(index: int) -> str:
    return f"10.80.{index}.2"


@dataclass
class Cluster:
    balancer: Namespace
    database: str  # TCP URL, for the test's own queries and the CLI (root namespace)
    socket_database: str  # the same through the Unix socket, for the nodes and the balancer's namespace
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)  # node address → process
    logs: dict[str, Path] = field(default_factory=dict)

    def log_tail(self) -> str:
        return "\n".join(f"--- {a}\n" + p.read_text(errors="replace")[-1500:] for a, p in self.logs.items())

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        """A query on the shared database through its socket (works from the balancer's namespace too)."""
        return directory_rows(self.socket_database, sql)

    def address_of(self, tag: str) -> str:
        """The node whose process published `tag` in the directory (`ip netns exec` keeps the pid)."""
        [(pid,)] = self.rows(f"SELECT pid FROM gw_nodes WHERE tag = '{tag}'")
        return next(a for a, p in self.processes.items() if p.pid == pid)

    def run(self, work: Callable[[], Awaitable[T]], timeout: float = 60.0) -> T:
        """Run `work()` on an event loop in a thread inside the balancer's namespace. The client's aiortc gathers on
        the balancer's addresses: an app that ran earlier in this process may have narrowed aioice's (process-wide)
        host addresses, to loopback for instance."""
        before = host_addresses()
        configure_host_addresses([f"10.80.{i}.1" for i in range(1, NODES + 1)])
        try:
            return in_namespace(self.balancer, work, timeout)
        finally:
            configure_host_addresses(before)


def in_namespace(ns: Namespace, work: Callable[[], Awaitable[T]], timeout: float) -> T:
    outcome: dict[str, Any] = {}

    def thread() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/var/run/netns/{ns.name}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                outcome["error"] = OSError(ctypes.get_errno(), "setns failed")
                return
        finally:
            os.close(fd)
        try:
            outcome["value"] = asyncio.run(asyncio.wait_for(work(), timeout))
        except BaseException as exc:  # re-raised in the test's thread
            outcome["error"] = exc

    runner = threading.Thread(target=thread, name=f"in-{ns.name}")
    runner.start()
    runner.join(timeout + 10)
    if "error" in outcome:
        raise outcome["error"]
    assert "value" in outcome, "the namespace thread did not finish"
    value: T = outcome["value"]
    return value


def start_node(cluster: Cluster, ns: Namespace, address: str, gateway: str, data: Path) -> None:
    data.mkdir(parents=True, exist_ok=True)
    env = child_environment(data, {
        "DATABASE_URL": cluster.socket_database, "SECRET_KEY": SECRET, "WEB_CONCURRENCY": "1",
        "ALLOWED_HOSTS": f"127.0.0.1,localhost,{address}", "PUBLIC_ORIGIN": BALANCER,
        "FORWARDED_ALLOW_IPS": gateway, "MAX_CALLS_PER_USER": "2", "DRAIN_TIMEOUT_S": "3",
        "REALTIME_UPSTREAM": "echo", "RTC_HOST_ADDRESSES": address,
    })
    log = data / "server.log"
    with log.open("wb") as out:
        cluster.processes[address] = subprocess.Popen(
            [*ns.prefix, sys.executable, "-m", "web", "serve", "--host", address, "--port", str(PORT)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    cluster.logs[address] = log


async def wait_ready(addresses: list[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2.0) as http:
        for address in addresses:
            while True:
                try:
                    if (await http.get(f"http://{address}:{PORT}/health/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"node {address} not ready"
                await asyncio.sleep(0.1)
        while True:  # and the balancer has seen them up
            try:
                if (await http.get(f"{BALANCER}/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the balancer does not answer"
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # every node's health check has risen (2 × 300 ms)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require(subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip() == "0",
            "network namespaces with veth pairs need root")
    require(subprocess.run(["sh", "-c", "command -v haproxy"], capture_output=True).returncode == 0,
            "haproxy is not installed (scripts/bootstrap.sh --test installs it)")
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set")
    base = Path(tmp_path_factory.mktemp("nodes"))
    with fresh_database(url) as database, Network() as net:
        lb = net.namespace("lb")
        socket = socket_url(database)
        require(socket is not None, "the test PostgreSQL has no Unix socket")
        assert socket is not None
        made = Cluster(lb, database, socket)
        servers = []
        for index in range(1, NODES + 1):
            ns = net.namespace(f"n{index}")
            net.link(lb, f"10.80.{index}.1/24", ns, f"{node_address(index)}/24")
            start_node(made, ns, node_address(index), f"10.80.{index}.1", base / f"node{index}")
            servers.append(f"    server n{index} {node_address(index)}:{PORT} check")
        config = base / "haproxy.cfg"
        config.write_text(HAPROXY_CFG.format(servers="\n".join(servers)), encoding="utf-8")
        haproxy = subprocess.Popen([*lb.prefix, "haproxy", "-f", str(config), "-db"], stdout=subprocess.DEVNULL,
                                   stderr=(base / "haproxy.log").open("wb"))
        try:
            made.run(lambda: wait_ready([node_address(i) for i in range(1, NODES + 1)]))
            created = subprocess.run(
                [sys.executable, "-m", "web", "users", "add", USER_EMAIL, "--password", USER_PASSWORD],
                cwd=base, env=child_environment(base / "cli", {"DATABASE_URL": database}), capture_output=True,
                text=True, timeout=30)
            assert created.returncode == 0, created.stderr
            yield made
        finally:
            haproxy.kill()
            for process in made.processes.values():
                if process.poll() is None:
                    process.kill()
                process.wait(10)


def balancer_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=BALANCER, limits=fresh_connections(), timeout=10,
                             headers={"Origin": BALANCER})


async def signed_in(http: httpx.AsyncClient, email: str = USER_EMAIL, password: str = USER_PASSWORD) -> str:
    response = await login(http, email, password)
    assert response.status_code in (200, 303), response.text
    return await page_token(http)


async def open_call(http: httpx.AsyncClient, token: str) -> RtcClient:
    client = RtcClient()
    response = await client.call(http, token)
    assert response.status_code == 201, response.text
    assert owner_of(client.location or "") == node_of(response)
    await client.wait_connected()
    return client


async def calls_on_distinct_nodes(http: httpx.AsyncClient, token: str, count: int) -> dict[str, RtcClient]:
    calls: dict[str, RtcClient] = {}
    for _ in range(4 * count):
        client = await open_call(http, token)
        owner = owner_of(client.location or "")
        if owner in calls:
            assert (await http.delete(client.location or "", headers={"X-CSRF-Token": token})).status_code == 204
            await client.close()
            continue
        calls[owner] = client
        if len(calls) == count:
            return calls
    raise AssertionError("the balancer sent every call to the same node")


def test_calls_spread_over_the_nodes_and_hang_up_through_any_node_ends_them_within_1s(cluster: Cluster) -> None:
    async def scenario() -> None:
        async with balancer_client() as http:
            token = await signed_in(http)
            owners, crossed = set(), 0
            for _ in range(6):
                client = await open_call(http, token)
                owner = owner_of(client.location or "")
                owners.add(owner)
                started = time.monotonic()
                hang_up = await http.delete(client.location or "", headers={"X-CSRF-Token": token})
                took = time.monotonic() - started
                assert hang_up.status_code == 204, hang_up.text
                assert took < 1.0, took
                crossed += node_of(hang_up) != owner
                # 204 comes once the owner has closed the call; any node now says it is over
                again = await http.delete(client.location or "", headers={"X-CSRF-Token": token})
                assert again.status_code == 404, again.text
                await client.close()
                await http.get("/health")  # 4 requests per round over 3 nodes: the next call lands elsewhere
            assert len(owners) >= 2, owners  # round robin: the calls were not all on one node
            assert crossed >= 1  # and some hang-ups went through a node that did not own the call

    cluster.run(scenario)
    assert directory_rows(cluster.database, "SELECT call_id FROM gw_calls") == []


def test_the_per_user_limit_holds_across_the_nodes(cluster: Cluster) -> None:
    async def scenario() -> None:
        async with balancer_client() as http:
            token = await signed_in(http)
            calls = await calls_on_distinct_nodes(http, token, 2)
            refused_by = set()
            for _ in range(NODES):  # round robin: every node is asked once
                extra = RtcClient()
                response = await extra.call(http, token)
                await extra.close()
                assert response.status_code == 429, response.text
                refused_by.add(node_of(response))
            assert len(refused_by) >= 2, refused_by
            for client in calls.values():
                assert (await http.delete(client.location or "", headers={"X-CSRF-Token": token})).status_code == 204
                await client.close()

    cluster.run(scenario)


def test_disabling_an_account_ends_its_calls_on_every_node_within_1s(cluster: Cluster, tmp_path: Path) -> None:
    ready = threading.Event()
    done: dict[str, float] = {}

    async def scenario() -> None:
        async with balancer_client() as http:
            token = await signed_in(http)
            calls = await calls_on_distinct_nodes(http, token, 2)
            ready.set()
            for client in calls.values():
                await client.wait_event("error", timeout=5.0, match=lambda e: e["error"]["code"] == "session_revoked")
            done["at"] = time.monotonic()
            for client in calls.values():
                await client.close()

    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            cluster.run(scenario)
        except BaseException as exc:
            outcome["error"] = exc

    runner = threading.Thread(target=run)
    runner.start()
    assert ready.wait(30), "the calls did not start"
    started = time.monotonic()
    env = child_environment(tmp_path / "cli", {"DATABASE_URL": cluster.database})
    disabled = subprocess.run([sys.executable, "-m", "web", "users", "disable", USER_EMAIL], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=30)
    finished_cli = time.monotonic()
    runner.join(30)
    assert disabled.returncode == 0, disabled.stderr
    if "error" in outcome:
        raise outcome["error"]
    # The CLI's own start-up (imports, connecting) is not the gateway's doing: measure from its exit.
    assert done["at"] - finished_cli < 1.0, (done["at"] - started, finished_cli - started)
    enabled = subprocess.run([sys.executable, "-m", "web", "users", "enable", USER_EMAIL], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=30)
    assert enabled.returncode == 0, enabled.stderr


def test_a_killed_node_leaves_no_ghost_calls_and_new_calls_land_on_the_others(cluster: Cluster) -> None:
    async def scenario() -> float:
        async with balancer_client() as http:
            token = await signed_in(http)
            calls = await calls_on_distinct_nodes(http, token, 2)  # the user is at the limit
            victim_tag = sorted(calls)[0]
            victim = cluster.processes[cluster.address_of(victim_tag)]
            victim.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            # The dead node's call counts until its lease runs out; then a new call lands on a live node.
            while True:
                client = RtcClient()
                response = await client.call(http, token)
                if response.status_code == 201:
                    assert owner_of(client.location or "") != victim_tag
                    await client.wait_connected()
                    break
                await client.close()
                assert response.status_code == 429, response.text
                assert time.monotonic() - killed_at < 10.0, "the dead node's call still counts after 10 s"
                await asyncio.sleep(0.5)
            freed_after = time.monotonic() - killed_at
            while cluster.rows(f"SELECT call_id FROM gw_calls WHERE node_tag = '{victim_tag}'"):
                assert time.monotonic() - killed_at < 10.0, "the killed node's calls are in the directory after 10 s"
                await asyncio.sleep(0.2)
            assert not cluster.rows(f"SELECT tag FROM gw_nodes WHERE tag = '{victim_tag}'")
            for other in [client, *(c for tag, c in calls.items() if tag != victim_tag)]:
                hang_up = await http.delete(other.location or "", headers={"X-CSRF-Token": token})
                assert hang_up.status_code == 204, hang_up.text
            for other in [client, *calls.values()]:
                await other.close()
            return freed_after

    freed_after = cluster.run(scenario)
    assert freed_after < 10.0


def test_sigterm_drains_then_tells_the_calls_why_and_closes_them(cluster: Cluster) -> None:
    async def scenario() -> float:
        async with balancer_client() as http, httpx.AsyncClient(timeout=2.0) as direct:
            token = await signed_in(http)
            call = await open_call(http, token)
            owner_tag = owner_of(call.location or "")
            owner = cluster.address_of(owner_tag)
            cluster.processes[owner].send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            for _ in range(50):
                ready = await direct.get(f"http://{owner}:{PORT}/health/ready")
                if ready.status_code == 503:
                    break
                await asyncio.sleep(0.05)
            assert ready.status_code == 503 and ready.json()["status"] == "draining"
            await asyncio.sleep(1.0)  # the balancer's health check (300 ms × 2) takes the node out
            for _ in range(3):  # new calls go to the other nodes
                client = await open_call(http, token)
                assert owner_of(client.location or "") != owner_tag
                assert (await http.delete(client.location or "", headers={"X-CSRF-Token": token})).status_code == 204
                await client.close()
            assert not call.ended.is_set()  # the live call goes on while the node drains
            notice = await call.wait_event("error", timeout=6.0, match=lambda e: e["error"]["code"] == "shutdown")
            told_after = time.monotonic() - signalled
            assert notice["error"]["message"] == "服务器正在重启，请稍后再试。"
            await call.wait_ended(5)
            await call.close()
            assert cluster.processes[owner].wait(15) is not None
            assert not cluster.rows(f"SELECT tag FROM gw_nodes WHERE tag = '{owner_tag}'")
            return told_after

    told_after = cluster.run(scenario)
    assert 2.5 < told_after < 6.0, told_after  # DRAIN_TIMEOUT_S=3
