"""Security headers on every HTTP response, error pages included. Pure ASGI: no I/O, no awaits of its own."""

from __future__ import annotations

import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No 'unsafe-inline' and no 'unsafe-eval': htmx runs with allowEval=false and the templates use no inline
# scripts, handlers or styles. media-src blob: lets the page play a locally generated test tone.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
HSTS = "max-age=31536000; includeSubDomains"


_HOST_RE = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


def _policy(scope: Scope) -> str:
    """Name our own WebSocket origin in connect-src: Safari before 16 does not count ws:/wss: as 'self'."""
    host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), "")
    if not _HOST_RE.match(host):
        return CONTENT_SECURITY_POLICY
    ws = "wss" if scope.get("scheme") == "https" else "ws"
    return CONTENT_SECURITY_POLICY.replace("connect-src 'self'", f"connect-src 'self' {ws}://{host}")


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, production: bool) -> None:
        self.app = app
        self.production = production

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_static = scope.get("path", "").startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", _policy(scope))
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
                headers.setdefault("Permissions-Policy", "microphone=(self), camera=(self), geolocation=()")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                if not is_static:
                    headers.setdefault("Cache-Control", "no-store")
                    if "hx-request" not in headers.get("vary", "").lower():
                        headers.add_vary_header("HX-Request")
                if self.production:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        await self.app(scope, receive, send_with_headers)
