"""CORS for the OpenAI-compatible API (`/v1/realtime…`), for the origins an operator lists in CORS_ALLOWED_ORIGINS.

Other sites' pages (an app builder's web app using the Agents SDK) may call the API with a bearer key (an `ek_`
client secret or a device token): preflights are answered here, `Location` (the call URL) is exposed, and
credentials are never allowed, so a foreign page can never ride on a user's cookie session. Cookie-authenticated
requests still meet the CSRF middleware's same-origin rules. Nothing is allowed by default; every other path and
origin passes through untouched (a browser then blocks the foreign page from reading the answer).
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_PREFIX = "/v1/realtime"
ALLOW_METHODS = "GET, POST, DELETE, OPTIONS"
ALLOW_HEADERS = ("authorization", "content-type", "x-openai-agents-sdk", "openai-beta")
EXPOSE_HEADERS = "Location"
MAX_AGE_S = "600"


class CORSMiddleware:
    def __init__(self, app: ASGIApp, *, allowed_origins: tuple[str, ...]) -> None:
        self.app = app
        self.allowed = frozenset(origin.rstrip("/").lower() for origin in allowed_origins if origin)

    def _applies(self, scope: Scope) -> str | None:
        """The request's allowed Origin, or None when CORS has nothing to say about this request."""
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not self.allowed or not (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
            return None
        origin = Headers(scope=scope).get("origin", "")
        return origin if origin.rstrip("/").lower() in self.allowed else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = self._applies(scope)
        if origin is None:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(origin, headers)(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out["Access-Control-Allow-Origin"] = origin
                out["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
                out.add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, send_with_cors)

    def _preflight(self, origin: str, headers: Headers) -> Response:
        asked = [h.strip().lower() for h in headers.get("access-control-request-headers", "").split(",") if h.strip()]
        method = headers["access-control-request-method"].upper()
        if method not in ALLOW_METHODS.split(", ") or any(h not in ALLOW_HEADERS for h in asked):
            return Response(status_code=403, headers={"Vary": "Origin"})  # no CORS headers: the browser refuses
        return Response(status_code=204, headers={
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": ALLOW_METHODS,
            "Access-Control-Allow-Headers": ", ".join(ALLOW_HEADERS),
            "Access-Control-Max-Age": MAX_AGE_S,
            "Vary": "Origin",
        })
