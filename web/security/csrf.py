"""CSRF protection for every non-safe request, the login form included.

Two independent checks, both required:
1. Fetch Metadata / Origin: `Sec-Fetch-Site` must be `same-origin`; browsers that do not send it must send an
   `Origin` equal to ours. A request with neither is refused.
2. A token: HMAC(secret, seed) where the seed is a random value in an HttpOnly cookie. Pages embed the token in a
   meta tag (htmx and our JS send it as `X-CSRF-Token`) and in a hidden `csrf_token` field (forms work without JS).

Requests that carry `Authorization: Bearer` and no session cookie are not CSRF-able (a browser never adds that
header on its own) and skip both checks; the route authenticates the bearer token itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from urllib.parse import parse_qs

from loguru import logger
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.auth.client_secrets import CALL_PATHS
from web.auth.client_secrets import SECRET_PREFIX as CLIENT_SECRET_PREFIX
from web.i18n import N_
from web.security.cookies import read_cookies, set_cookie_header
from web.security.responses import error_response

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
TOKEN_HEADER = b"x-csrf-token"
FORM_FIELD = "csrf_token"
_MAX_FORM_BYTES = 64 * 1024
_REJECTED = N_("The request was refused by a security check. Reload the page and try again.")


def make_token(secret: str, seed: str) -> str:
    digest = hmac.new(secret.encode(), b"csrf:" + seed.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def request_origin(scope: Scope, public_origin: str) -> str:
    if public_origin:
        return public_origin.rstrip("/")
    host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), "")
    scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
    return f"{scheme}://{host}"


class CSRFMiddleware:
    def __init__(self, app: ASGIApp, *, secret: str, cookie_name: str, secure: bool, public_origin: str,
                 session_cookie_name: str = "sid") -> None:
        self.app = app
        self.session_cookie_name = session_cookie_name
        self.secret = secret
        self.cookie_name = cookie_name
        self.secure = secure
        self.public_origin = public_origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        if path.startswith(("/health", "/static/", "/metrics")) and scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)  # probes and assets need no token (and get no cookie)
            return
        headers = dict(scope.get("headers", []))
        cookies = read_cookies(scope)
        seed = cookies.get(self.cookie_name, "")
        new_seed = ""
        if not (16 <= len(seed) <= 64):
            seed = new_seed = secrets.token_urlsafe(24)
        token = make_token(self.secret, seed)
        state = scope.setdefault("state", {})
        state["csrf_token"] = token
        state["csrf_rotate"] = False

        method = scope["method"]
        # A browser never adds Authorization on its own; only an ambient session cookie makes a request forgeable.
        authorization = headers.get(b"authorization", b"")
        bearer_only = authorization.lower().startswith(b"bearer ") and (
            self.session_cookie_name not in cookies
            # an ek_ key on a call path is resolved alone (the cookie is ignored), as the Agents SDK sends it
            or (authorization[7:].strip().startswith(CLIENT_SECRET_PREFIX.encode()) and scope["path"] in CALL_PATHS))
        if method not in SAFE_METHODS and not bearer_only:
            reason = self._origin_problem(scope, headers)
            if not reason:
                supplied = headers.get(TOKEN_HEADER, b"").decode("latin-1")
                if not supplied and headers.get(b"content-type", b"").startswith(b"application/x-www-form-urlencoded"):
                    supplied, receive = await _read_form_token(receive)
                if new_seed or not hmac.compare_digest(supplied.encode(), token.encode()):
                    reason = "bad or missing token"
            if reason:
                logger.warning("csrf rejected", reason=reason, path=scope.get("path"), method=method)
                await error_response(scope, 403, "csrf_failed", _REJECTED)(scope, receive, send)
                return

        async def send_with_seed(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie_seed = new_seed
                if state.get("csrf_rotate"):  # login issues a fresh seed, so pre-login tokens stop working
                    cookie_seed = secrets.token_urlsafe(24)
                if cookie_seed:
                    message.setdefault("headers", [])
                    message["headers"] = [*message["headers"], set_cookie_header(
                        self.cookie_name, cookie_seed, max_age=None, secure=self.secure)]
            await send(message)

        await self.app(scope, receive, send_with_seed)

    def _origin_problem(self, scope: Scope, headers: dict[bytes, bytes]) -> str:
        expected = request_origin(scope, self.public_origin)
        fetch_site = headers.get(b"sec-fetch-site")
        origin = headers.get(b"origin", b"").decode("latin-1")
        if fetch_site is not None and fetch_site != b"same-origin":
            return f"sec-fetch-site {fetch_site.decode('latin-1')}"
        if origin and origin != expected:
            return "origin mismatch"
        if fetch_site is None and not origin:
            return "no origin"
        return ""


async def _read_form_token(receive: Receive) -> tuple[str, Receive]:
    """Read a urlencoded body to find the token, then hand the same body to the app."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        body = message.get("body", b"")
        size += len(body)
        if size > _MAX_FORM_BYTES:
            return "", receive
        chunks.append(body)
        more = message.get("more_body", False)
    body = b"".join(chunks)
    try:
        values = parse_qs(body.decode("latin-1"), max_num_fields=50).get(FORM_FIELD, [""])
    except ValueError:  # too many fields: not a form of ours
        values = [""]
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return values[0], replay
