"""The terminal client's view of a server (`diagnose`): health, readiness, sign-in, the server-run checks and the
WebSocket endpoint, over HTTP like a browser (cookies, CSRF token, Origin). Returns measured values or the server's
verdicts; never raises for a network failure."""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus, WebSocketException

from web.diagnostics import thresholds as th

_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
USER_AGENT = "smart-glasses-voice-diagnose"


def client(base_url: str) -> httpx.AsyncClient:
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(base_url))
    return httpx.AsyncClient(base_url=base_url, timeout=th.HEALTH_TIMEOUT_MS / 1000, follow_redirects=False,
                             headers={"Origin": origin, "User-Agent": USER_AGENT})


async def timed_get(http: httpx.AsyncClient, path: str) -> tuple[dict[str, Any], httpx.Response | None]:
    started = time.monotonic()
    try:
        response = await http.get(path)
    except httpx.TimeoutException:
        return {"status": 0, "error": "timeout"}, None
    except httpx.HTTPError as exc:
        return {"status": 0, "error": f"{type(exc).__name__}: {exc}"[:120]}, None
    return {"status": response.status_code, "latency_ms": (time.monotonic() - started) * 1000}, response


async def readiness(http: httpx.AsyncClient) -> dict[str, Any]:
    values, response = await timed_get(http, "/health/ready")
    if response is not None:
        try:
            body = response.json()
            values["checks"], values["down"] = body.get("checks") or {}, body.get("down") or []
        except (ValueError, AttributeError):
            values["checks"] = {}
    return values


async def csrf_token(http: httpx.AsyncClient, path: str) -> str:
    response = await http.get(path)
    match = _META.search(response.text)
    return match.group(1) if match else ""


async def sign_in(http: httpx.AsyncClient, email: str, password: str) -> int:
    """Post the login form like a browser; returns the HTTP status of /api/me afterwards (200 = signed in)."""
    token = await csrf_token(http, "/login")
    await http.post("/login", data={"email": email, "password": password, "csrf_token": token, "next": "/"})
    return (await http.get("/api/me", headers={"Accept": "application/json"})).status_code


async def me(http: httpx.AsyncClient) -> dict[str, Any]:
    """Sign-in state, seconds left and clock skew, as the session check wants them."""
    before = time.time()
    response = await http.get("/api/me", headers={"Accept": "application/json"})
    after = time.time()
    if response.status_code != 200:
        failed = response.json().get("error", {}).get("code") == "session_expired" if response.headers.get(
            "content-type", "").startswith("application/json") else False
        return {"signed_in": False, "auth_failure": "expired" if failed else "", "status": response.status_code}
    body = response.json()
    expires, server_time = body.get("session_expires_at"), float(body.get("server_time") or after)
    return {"signed_in": True, "status": 200, "email": body.get("email"),
            "remaining_s": float(expires) - server_time if expires else None,
            "skew_ms": ((before + after) / 2 - server_time) * 1000}


async def server_check(http: httpx.AsyncClient, csrf: str, check: str, values: dict[str, Any] | None = None,
                       report_id: str = "") -> dict[str, Any] | None:
    """Ask the server to run (or record) a check; its verdict as JSON, or None when it could not answer."""
    try:
        response = await http.post(f"/diagnostics/checks/{check}", json={"report_id": report_id,
                                                                         "values": values or {}},
                                   headers={"X-CSRF-Token": csrf, "Accept": "application/json"}, timeout=30)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    body: dict[str, Any] = response.json()
    return body


async def create_report(http: httpx.AsyncClient, csrf: str) -> str:
    try:
        response = await http.post("/diagnostics/reports", headers={"X-CSRF-Token": csrf,
                                                                    "X-Diagnostics-Client": "cli"})
        return str(response.json().get("id", "")) if response.status_code == 200 else ""
    except (httpx.HTTPError, ValueError):
        return ""


async def rtc_config(http: httpx.AsyncClient) -> dict[str, Any] | None:
    """ICE servers and voice mode, or None when this server has no call endpoint."""
    response = await http.get("/v1/realtime/config", headers={"Accept": "application/json"})
    if response.status_code != 200:
        return None
    body: dict[str, Any] = response.json()
    return body


async def websocket(base_url: str, cookies: httpx.Cookies) -> tuple[bool, dict[str, Any]]:
    """(available, values): open /v1/realtime with the session cookie and wait for the first event."""
    parts = urlsplit(base_url)
    url = f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}/v1/realtime"
    cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
    started = time.monotonic()
    values: dict[str, Any] = {"opened": False}
    try:
        async with ws_connect(url, additional_headers={"Cookie": cookie, "Origin": f"{parts.scheme}://{parts.netloc}"},
                              open_timeout=th.WEBSOCKET_FAIL_MS / 1000, max_size=16 * 1024 * 1024) as ws:
            values["opened"] = True
            event = json.loads(await ws.recv(decode=True))
            values.update(first_event=event.get("type"), open_ms=(time.monotonic() - started) * 1000)
            if event.get("type") == "error":
                values["error"] = str((event.get("error") or {}).get("message", ""))[:200]
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status == 404:
            return False, values
        values.update(error=f"HTTP {status}", close_code=status)
    except (OSError, TimeoutError, WebSocketException, ValueError) as exc:
        values.update(error=f"{type(exc).__name__}: {exc}"[:200])
    return True, values
