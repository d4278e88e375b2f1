"""The client address behind reverse proxies, taken from the right of X-Forwarded-For.

Each proxy appends the address it received the request from, so the last `hops` entries were written by proxies we
trust and the one `hops` places from the right is the client. Entries further left were written by the client and
are never used: with uvicorn's `--forwarded-allow-ips "*"` alone, the leftmost entry (the client's own words) would
become the throttle address. The peer address stays when there is no usable header.
"""

from __future__ import annotations

import ipaddress

from starlette.types import ASGIApp, Receive, Scope, Send


def forwarded_client(headers: list[tuple[bytes, bytes]], hops: int) -> str | None:
    entries = [part.strip() for key, value in headers if key == b"x-forwarded-for"
               for part in value.decode("latin-1").split(",") if part.strip()]
    if hops <= 0 or not entries:
        return None
    candidate = entries[-hops] if len(entries) >= hops else entries[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:  # not an address (a proxy never writes that): keep the peer address
        return None


class ClientAddressMiddleware:
    def __init__(self, app: ASGIApp, *, hops: int) -> None:
        self.app = app
        self.hops = hops

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.hops > 0 and scope["type"] in ("http", "websocket"):
            host = forwarded_client(scope.get("headers", []), self.hops)
            if host is not None:
                port = scope["client"][1] if scope.get("client") else 0
                scope = {**scope, "client": (host, port)}
        await self.app(scope, receive, send)
