"""Who may read operational data (`/metrics`, the details of `/health/ready`): a scraper presenting METRICS_TOKEN as
a bearer token, a client whose address is in METRICS_ALLOW_IPS (loopback by default), or a signed-in admin."""

from __future__ import annotations

import hmac
import ipaddress
from functools import lru_cache

from starlette.requests import Request

OPERATOR_PATHS = frozenset({"/metrics", "/health/ready"})  # their bearer is the metrics token, never a device token


@lru_cache(maxsize=32)
def _networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            continue  # a host name or a typo never matches
    return tuple(networks)


def address_allowed(host: str, entries: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in _networks(entries))


def has_metrics_token(request: Request) -> bool:
    expected = request.app.state.settings.metrics_token
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    return bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(credential.strip().encode(),
                                                                                 expected.encode())


def is_operator(request: Request, *, admins: bool = True) -> bool:
    settings = request.app.state.settings
    if has_metrics_token(request):
        return True
    if request.client is not None and address_allowed(request.client.host, settings.metrics_allow_ips):
        return True
    user = getattr(request.state, "user", None)
    return admins and user is not None and bool(user.is_admin)
