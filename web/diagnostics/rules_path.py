"""Which kind of path a call took (host, server-reflexive, relay; UDP, TCP or TLS to the TURN server), and why a call
could not connect when the server's answer shows it sits behind NAT without RTC_ANNOUNCED_ADDRESS.

The media_path rule (rules_call.py) calls `connected_value`, `relay_warning` and `nat_fixes`. The server's candidates
(`server_candidates`: type and address of each `a=candidate` of the answer) are measured by the page and the CLI
probe with `answer_candidates`; they are the server's own addresses, never the user's.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from web.diagnostics.text import Text, t
from web.diagnostics.values import Values
from web.i18n import N_

MAX_CANDIDATES = 12


def answer_candidates(sdp: str) -> list[dict[str, str]]:
    """Type, address and transport of each ICE candidate in an SDP (the server's answer)."""
    found: list[dict[str, str]] = []
    for line in sdp.splitlines():
        fields = line.strip().removeprefix("a=candidate:").split()
        if line.startswith("a=candidate:") and len(fields) >= 8 and fields[6] == "typ":
            found.append({"type": fields[7], "address": fields[4], "protocol": fields[2].lower()})
    return found[:MAX_CANDIDATES]


def connected_value(ms: int, local: str, remote: str, protocol: str, relay_protocol: str) -> Text:
    """The row's value; a relayed path names how the browser reaches the TURN server (the candidate's own
    protocol is the relay's UDP leg, which says nothing about a TCP-only network)."""
    if "relay" in (local, remote):
        return t(N_("connected in {ms} ms: {local} → {remote}, TURN relay over {relay}"), ms=ms, local=local,
                 remote=remote, relay=(relay_protocol or protocol or "udp").upper())
    return t(N_("connected in {ms} ms: {local} → {remote}, {protocol}"), ms=ms, local=local, remote=remote,
             protocol=protocol.upper())


def relay_warning(local: str, remote: str, relay_protocol: str) -> Text | None:
    if local == "relay":  # the browser's own candidate is relayed: no direct path from this network worked
        return t(N_("Only the TURN relay works from this network (over {protocol}): direct UDP to the server is "
                    "blocked. The call works, with extra delay."), protocol=(relay_protocol or "udp").upper())
    if remote == "relay":  # the server relays (RTC_RELAY_ONLY, or its own UDP is blocked)
        return t(N_("The server sends its media through its TURN relay (RTC_RELAY_ONLY or blocked UDP on the "
                    "server). The call works, with extra delay."))
    return None


def _is_private(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False  # an mDNS name: not something the server would announce
    return ip.is_private and not ip.is_loopback


def nat_fixes(server_candidates: list[Values], reached_host: str = "") -> tuple[Text, ...]:
    """When a call did not connect: if the server offered only private host addresses (no reflexive, no relay), it
    sits behind NAT or in a container without announcing its public address — unless the client reached the page
    at one of those very addresses (`reached_host`): then the address is right and the media path (UDP) is what
    is blocked."""
    kinds = [c.text("type", limit=10) for c in server_candidates]
    addresses = [c.text("address", limit=64) for c in server_candidates]
    if not kinds or any(k != "host" for k in kinds) or not all(_is_private(a) for a in addresses):
        return ()
    if reached_host and reached_host.strip("[]") in addresses:
        return ()
    return (t(N_("The server offers only private addresses ({addresses}): it sits behind NAT or in a container. The "
                 "administrator must set RTC_ANNOUNCED_ADDRESS to the server's public address (and open its UDP "
                 "ports), or configure TURN (RTC_TURN_SECRET and RTC_TURN_URLS)."),
              addresses=", ".join(sorted(set(addresses)))),)


def candidates_data(v: Values) -> list[dict[str, Any]]:
    return [{"type": c.text("type", limit=10), "address": c.text("address", limit=64)}
            for c in v.dicts("server_candidates")[:MAX_CANDIDATES]]
