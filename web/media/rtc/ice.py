"""ICE configuration: STUN/TURN servers, the local addresses aioice gathers on, and the address we announce.

- `RTC_ICE_SERVERS`: comma-separated URLs, credentials inline as `turn:user:pass@host:port?transport=udp` (percent-
  encode `:`, `@` or `,` inside them). Used by our peer connections *and* handed to the browser. Empty (the default)
  means host candidates only: no STUN request leaves the machine, so a fresh install works offline, and aiortc never
  falls back to Google's STUN server (it does when `iceServers` is None; shared/reference/aiortc.md §7).
- `RTC_HOST_ADDRESSES`: the local addresses to gather candidates on. aioice's `get_host_addresses()` skips 127.0.0.1
  and ::1, so in a loopback-only network namespace (our browser tests) it would gather nothing; we swap that function
  for one that returns the configured list. The swap is process-wide (aioice has no per-connection option).
- `RTC_ANNOUNCED_ADDRESS`: behind 1:1 NAT (Docker with published ports, a cloud VM's public IP) the host candidates in
  our answer are rewritten to this address; the ports are unchanged, which is what a 1:1 mapping preserves.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import aioice.ice
from aiortc import RTCIceServer
from aiortc.rtcicetransport import parse_stun_turn_uri

from web.settings import SettingsError

_original_get_host_addresses: Callable[[bool, bool], list[str]] = aioice.ice.get_host_addresses
_host_addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class IceServer:
    url: str
    username: str | None = None
    credential: str | None = None

    def for_aiortc(self) -> RTCIceServer:
        return RTCIceServer(urls=self.url, username=self.username, credential=self.credential)

    def for_browser(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"urls": self.url}
        if self.username is not None:
            entry["username"] = self.username
            entry["credential"] = self.credential or ""
        return entry


def parse_ice_servers(raw: str) -> list[IceServer]:
    """Parse `RTC_ICE_SERVERS`; raises SettingsError (a ValueError) naming the bad entry, never its credentials."""
    servers: list[IceServer] = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        scheme, sep, rest = part.partition(":")
        if not sep or scheme not in {"stun", "stuns", "turn", "turns"}:
            raise SettingsError(f"RTC_ICE_SERVERS: {scheme!r} is not a stun:, turn: or turns: URL")
        username = credential = None
        if "@" in rest:
            userinfo, _, rest = rest.rpartition("@")
            user, _, password = userinfo.partition(":")
            username, credential = unquote(user), unquote(password)
        url = f"{scheme}:{rest}"
        try:
            parse_stun_turn_uri(url)
        except ValueError as exc:
            raise SettingsError(f"RTC_ICE_SERVERS: cannot parse {url!r}: {exc}") from exc
        if scheme.startswith("turn") and username is None:
            raise SettingsError(f"RTC_ICE_SERVERS: {url!r} needs credentials (turn:user:pass@host:port)")
        servers.append(IceServer(url, username, credential))
    return servers


def _patched_get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    if not _host_addresses:
        return _original_get_host_addresses(use_ipv4, use_ipv6)
    return [a for a in _host_addresses if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]


def configure_host_addresses(addresses: Iterable[str]) -> None:
    """Make aioice gather on exactly these addresses (empty: aioice's own choice, loopback excluded)."""
    global _host_addresses
    checked = tuple(str(ipaddress.ip_address(a.strip().strip("[]"))) for a in addresses if a.strip())
    _host_addresses = checked
    aioice.ice.get_host_addresses = _patched_get_host_addresses


def host_addresses() -> tuple[str, ...]:
    """The addresses set by `configure_host_addresses` (empty: aioice's own choice)."""
    return _host_addresses


def loopback_only() -> bool:
    return bool(_host_addresses) and all(ipaddress.ip_address(a).is_loopback for a in _host_addresses)


def _candidate_address(line: str) -> str:
    # a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> ...
    fields = line.split()
    return fields[4] if len(fields) > 7 else ""


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False  # an mDNS `.local` name or garbage


def strip_unreachable_candidates(sdp: str) -> str:
    """When we only listen on loopback, drop the offer's other candidates: we could never reach them, and aioice
    would spend its checks (and mDNS lookups) on them."""
    if not loopback_only():
        return sdp
    lines = sdp.split("\r\n") if "\r\n" in sdp else sdp.split("\n")
    kept = [ln for ln in lines if not ln.startswith("a=candidate:") or _is_loopback(_candidate_address(ln))]
    return ("\r\n" if "\r\n" in sdp else "\n").join(kept)


def announce_address(sdp: str, announced: str) -> str:
    """Rewrite host candidates (and `c=` lines) of our answer to the announced public address (1:1 NAT)."""
    if not announced:
        return sdp
    family = "IP6" if ":" in announced else "IP4"
    out: list[str] = []
    for line in sdp.split("\r\n"):
        if line.startswith("a=candidate:") and " typ host" in line:
            fields = line.split(" ")
            if len(fields) > 7:
                fields[4] = announced
                line = " ".join(fields)
        elif line.startswith("c=IN "):
            line = f"c=IN {family} {announced}"
        out.append(line)
    return "\r\n".join(out)
