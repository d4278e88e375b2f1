"""Which network a client address belongs to, widest first, for sharing the sign-in queue fairly between networks.

IPv4: the /16, the /24, the address. IPv6: the /32, the /48, the /64 (one host or home network usually holds a whole
/64, so its last element names the client, not the address). Anything else (an unparsable or missing address) is one
group of its own.
"""

from __future__ import annotations

import ipaddress

_IPV4 = (16, 24, 32)
_IPV6 = (32, 48, 64)


def network_path(address: str) -> tuple[str, ...]:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ("other",)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    lengths = _IPV4 if ip.version == 4 else _IPV6
    return tuple(str(ipaddress.ip_network(f"{ip}/{length}", strict=False)) for length in lengths)


def client_key(address: str) -> str:
    """The narrowest network of the address: one client for per-client limits."""
    return network_path(address)[-1]


def home_network(address: str) -> str:
    """The network a household or office usually shares (IPv4 /24, IPv6 /48), or "" for an unparsable address: where
    an account signed in before, a new browser is trusted during a flood (web/accounts/users.py)."""
    path = network_path(address)
    return path[1] if len(path) > 1 else ""
