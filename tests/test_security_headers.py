"""Security headers on every response (404 and 500 included), trusted hosts and body limits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.routing import Route

from tests.support.auth import csrf_token, login

REQUIRED = {
    "content-security-policy": "script-src 'self'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "permissions-policy": "microphone=(self)",
    "x-frame-options": "DENY",
}


def _assert_headers(response: httpx.Response) -> None:
    for name, fragment in REQUIRED.items():
        assert fragment in response.headers.get(name, ""), (name, response.status_code)
    csp = response.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "frame-ancestors 'none'" in csp


@pytest.mark.parametrize("path", ["/login", "/", "/static/app.css", "/no-such-page", "/health", "/api/me"])
async def test_every_response_carries_the_security_headers(client: httpx.AsyncClient, path: str) -> None:
    _assert_headers(await client.get(path))


async def test_a_500_page_carries_them_too(app: Any) -> None:
    async def boom(request: Any) -> Any:
        raise RuntimeError("boom with password=hunter2")

    app.router.routes.insert(0, Route("/boom", boom))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                 base_url="http://testserver") as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert "出错了" in response.text
    _assert_headers(response)


async def test_404_uses_the_site_layout(client: httpx.AsyncClient) -> None:
    response = await client.get("/no-such-page")
    assert response.status_code == 404 and 'data-testid="error-page"' in response.text


async def test_untrusted_host_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/login", headers={"Host": "evil.example"})
    assert response.status_code == 400


async def test_oversized_body_gets_413(client: httpx.AsyncClient) -> None:
    token = await csrf_token(client)
    response = await client.post("/login", content=b"x" * (300 * 1024),
                                 headers={"Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": token})
    assert response.status_code == 413


async def test_oversized_chunked_body_gets_413_after_reading_at_most_one_chunk_more() -> None:
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse

    from web.security.limits import BodySizeLimitMiddleware

    read = 0

    async def reader(scope: Any, receive: Any, send: Any) -> None:
        nonlocal read
        async for chunk in Request(scope, receive).stream():
            read += len(chunk)
        await PlainTextResponse("read it all")(scope, receive, send)

    async def chunks() -> Any:
        for _ in range(40):
            yield b"y" * 16384

    app = BodySizeLimitMiddleware(reader, max_bytes=64 * 1024)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        response = await client.post("/", content=chunks())
    assert response.status_code == 413
    assert read <= 64 * 1024 + 16384


async def test_authenticated_pages_are_not_cached_and_vary_on_hx_request(client: httpx.AsyncClient) -> None:
    await login(client)
    response = await client.get("/")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["vary"].lower().count("hx-request") == 1
