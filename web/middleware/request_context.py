"""Pure ASGI middleware: request id, timing, per-route metrics and one access-log record per request.

Pure ASGI (not BaseHTTPMiddleware) so the request-id contextvar set here is visible to the endpoint and to every
log call under it. Nothing here awaits anything but the wrapped app, takes a lock or does I/O: the metrics update
is O(1) and the access log goes through the non-blocking log pipeline.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Any

from loguru import logger
from starlette.datastructures import MutableHeaders
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.logs.context import request_id_var
from web.monitor.http_metrics import UNMATCHED_ROUTE, HttpMetrics

REQUEST_ID_HEADER = "x-request-id"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
# Probes and scrapes are logged at DEBUG when they succeed, so they do not drown the access log.
QUIET_PATHS = frozenset({"/health", "/health/ready", "/metrics"})
MAX_LOGGED_PATH = 200
CLIENT_CLOSED = 499  # nginx's convention for "client went away before the response started"


def incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            try:
                text = value.decode("ascii")
            except UnicodeDecodeError:
                return None
            return text if _SANE_ID.match(text) else None
    return None


def new_request_id() -> str:
    return uuid.uuid4().hex


def _matched_route(scope: Scope) -> BaseRoute | None:
    route = scope.get("route")  # set by Starlette's router on the same scope dict
    if route is not None:
        return route
    # Not routed (e.g. rejected by a middleware before the router ran): match against the app's routes ourselves.
    routes = getattr(scope.get("app"), "routes", None) or ()
    probe = {
        "type": scope["type"],
        "path": scope.get("path", "/"),
        "root_path": scope.get("root_path", ""),
        "method": scope.get("method", "GET"),
    }
    for candidate in routes:
        try:
            match, _ = candidate.matches(probe)
        except Exception:
            continue
        if match is not Match.NONE:
            return candidate
    return None


def route_template(scope: Scope) -> str:
    """The matched route's path template (e.g. `/v1/realtime/calls/{call_id}`), or "unmatched"."""
    route = _matched_route(scope)
    if route is None:
        return UNMATCHED_ROUTE
    template = getattr(route, "path_format", None)
    if not isinstance(template, str):
        return "other"
    if isinstance(route, Mount) or scope.get("route") is not route:
        return template  # a top-level Mount's path_format already holds its prefix ("/static/{path}")
    # A route inside a Mount'ed router: its template is relative to the mount point.
    root_path = scope.get("root_path", "")
    app_root = scope.get("app_root_path", root_path)
    prefix = root_path[len(app_root) :] if root_path.startswith(app_root) else ""
    return prefix + template


def _metrics_from_app(scope: Scope) -> HttpMetrics | None:
    try:
        metrics = scope["app"].state.monitoring.http
    except (KeyError, AttributeError):
        return None
    return metrics if isinstance(metrics, HttpMetrics) else None


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: HttpMetrics | None = None, *, trust_incoming_id: bool = True,
                 node: str = "") -> None:
        """`metrics`: where to record; if None, `app.state.monitoring.http` is looked up per request. `node`: this
        process's cluster tag, sent as `X-Gateway-Node` so support (and a test) can tell which process answered."""
        self.app = app
        self.node = node
        self.metrics = metrics
        self.trust_incoming_id = trust_incoming_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = (self.trust_incoming_id and incoming_request_id(scope)) or new_request_id()
        token = request_id_var.set(request_id)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        try:
            if scope["type"] == "websocket":
                await self.app(scope, receive, send)  # long-lived: no timing, no access record
            else:
                await self._http(scope, receive, send, request_id)
        finally:
            request_id_var.reset(token)

    async def _http(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                if REQUEST_ID_HEADER not in headers:
                    headers.append("X-Request-ID", request_id)
                if self.node:
                    headers.append("X-Gateway-Node", self.node)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except asyncio.CancelledError:
            status = status or CLIENT_CLOSED
            raise
        except BaseException:
            status = status or 500  # the outer ServerErrorMiddleware turns it into a 500 response
            raise
        finally:
            self._record(scope, status or 500, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope.get("method", "")
        route = route_template(scope)
        metrics = self.metrics or _metrics_from_app(scope)
        if metrics is not None:
            metrics.observe(method, route, status, seconds)
        path = scope.get("path", "")
        if len(path) > MAX_LOGGED_PATH:
            path = path[:MAX_LOGGED_PATH] + "…"
        client = scope.get("client")
        level = "DEBUG" if path in QUIET_PATHS and status < 400 else "INFO"
        # No query string (it can carry tokens) and no headers (cookies, authorization) in the access record.
        logger.bind(
            logger="access",
            method=method,
            path=path,
            route=route,
            status=status,
            duration_ms=round(seconds * 1000, 2),
            client=client[0] if client else None,
        ).log(level, f"{method} {path} {status} {seconds * 1000:.1f}ms")
