"""Simulated networks for tests: named network namespaces joined by veth pairs, with nftables NAT and firewall rules
inside them. Nothing is added to the host's own namespace except the (randomly suffixed) namespace names, and every
namespace is deleted at exit, whatever happened (deleting a namespace also removes its veth ends and rules).

    with Network() as net:
        client, router, server = net.namespace("cli"), net.namespace("nat"), net.namespace("srv")
        net.link(client, "10.71.0.2/24", router, "10.71.0.1/24")
        net.link(router, "100.71.0.1/24", server, "100.71.0.2/24")
        client.route_default("10.71.0.1")
        router.nft(ruleset)  # multi-line nft syntax (Debian 12's nft wants a newline before each closing brace)
        client.run(["ping", "-c1", "100.71.0.2"])

Addresses are test-only ones (10.x for private sides, 100.64.0.0/10 for the "public" side) that exist only inside
these namespaces.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType

COMMAND_TIMEOUT_S = 10.0


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=COMMAND_TIMEOUT_S)


@dataclass
class Namespace:
    name: str
    interfaces: list[str] = field(default_factory=list)

    @property
    def prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def run(self, argv: Sequence[str], check: bool = True, timeout: float = COMMAND_TIMEOUT_S,
            input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.prefix, *argv], check=check, capture_output=True, text=True, timeout=timeout,
                              input=input_text)

    def route_default(self, via: str) -> None:
        self.run(["ip", "route", "add", "default", "via", via])

    def forwarding(self) -> None:
        self.run(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])

    def nft(self, ruleset: str) -> None:
        """Load an nftables ruleset (the `nft -f` syntax) into this namespace."""
        self.run(["nft", "-f", "-"], input_text=ruleset)


class Network:
    """A set of namespaces made for one test; a random suffix keeps parallel runs apart."""

    def __init__(self) -> None:
        self.suffix = secrets.token_hex(3)
        self.namespaces: list[Namespace] = []
        self._links = 0

    def namespace(self, role: str) -> Namespace:
        ns = Namespace(f"t14{role}-{self.suffix}")
        _ip("netns", "add", ns.name)
        self.namespaces.append(ns)
        ns.run(["ip", "link", "set", "lo", "up"])
        return ns

    def link(self, a: Namespace, a_address: str, b: Namespace, b_address: str) -> tuple[str, str]:
        """A veth pair between two namespaces, with an address on each end; returns the interface names."""
        self._links += 1
        a_if, b_if = f"v{self._links}a{self.suffix}", f"v{self._links}b{self.suffix}"
        # created inside `a` from the start, so no interface ever appears in the host's namespace
        a.run(["ip", "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", b.name])
        for ns, interface, address in ((a, a_if, a_address), (b, b_if, b_address)):
            ns.run(["ip", "addr", "add", address, "dev", interface])
            ns.run(["ip", "link", "set", interface, "up"])
            ns.interfaces.append(interface)
        return a_if, b_if

    def close(self) -> None:
        for ns in reversed(self.namespaces):
            # anything still running in our namespaces was started by this test: stop it by its id first
            pids = subprocess.run(["ip", "netns", "pids", ns.name], capture_output=True, text=True,
                                  timeout=COMMAND_TIMEOUT_S).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            subprocess.run(["ip", "netns", "delete", ns.name], capture_output=True, timeout=COMMAND_TIMEOUT_S)
        self.namespaces.clear()

    def __enter__(self) -> Network:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
