"""CSRF gate on every non-safe method (login included): Fetch Metadata / Origin plus a token."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import BASE_URL, make_client
from tests.support.auth import csrf_token, login


@pytest.mark.parametrize(("headers", "use_token", "expected"), [
    ({"Sec-Fetch-Site": "cross-site", "Origin": BASE_URL}, True, 403),
    ({"Sec-Fetch-Site": "same-site", "Origin": BASE_URL}, True, 403),
    ({"Sec-Fetch-Site": "none"}, True, 403),
    ({"Origin": "https://evil.example"}, True, 403),
    ({"Origin": "null"}, True, 403),
    ({}, True, 403),  # neither Sec-Fetch-Site nor Origin
    ({"Sec-Fetch-Site": "same-origin", "Origin": BASE_URL}, False, 403),  # missing token
    ({"Sec-Fetch-Site": "same-origin", "Origin": BASE_URL}, "wrong", 403),
    ({"Sec-Fetch-Site": "same-origin", "Origin": BASE_URL}, True, 303),
    ({"Origin": BASE_URL}, True, 303),  # older browsers without Fetch Metadata
    ({"Sec-Fetch-Site": "same-origin"}, True, 303),
])
async def test_login_csrf_table(app: object, headers: dict[str, str], use_token: object, expected: int) -> None:
    async with make_client(app, headers={}) as client:  # type: ignore[arg-type]
        client.headers.pop("Origin", None)
        token = await csrf_token(client)
        data = {"email": "betty@123.com", "password": "Betty@123.com"}
        if use_token is True:
            data["csrf_token"] = token
        elif use_token:
            data["csrf_token"] = str(use_token)
        response = await client.post("/login", data=data, headers=headers)
        assert response.status_code == expected, response.text[:200]


async def test_token_in_header_works_for_htmx_and_json(client: httpx.AsyncClient) -> None:
    await login(client)
    token = await csrf_token(client, "/")
    ok = await client.post("/logout", headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert ok.status_code == 200 and ok.headers["HX-Redirect"].startswith("/login")


async def test_a_pre_login_token_stops_working_after_login(client: httpx.AsyncClient) -> None:
    old = await csrf_token(client)
    await login(client)
    response = await client.post("/logout", data={"csrf_token": old})
    assert response.status_code == 403


async def test_csrf_rejection_on_api_paths_is_json(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/me", headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"


async def test_bearer_requests_without_cookies_skip_csrf(client: httpx.AsyncClient) -> None:
    client.cookies.clear()
    response = await client.post("/api/me", headers={"Authorization": "Bearer abc", "Origin": "https://x.example"})
    assert response.status_code == 405  # reached the router: the route itself decides (GET only here)


async def test_a_device_keeping_the_csrf_seed_cookie_still_skips_csrf(client: httpx.AsyncClient) -> None:
    await client.get("/login")  # a device's HTTP client that stores every cookie it is given
    assert "csrf" in client.cookies and "sid" not in client.cookies
    response = await client.post("/api/me", headers={"Authorization": "Bearer abc", "Origin": "https://x.example"})
    assert response.status_code == 405


async def test_a_session_cookie_cancels_the_bearer_exemption(client: httpx.AsyncClient) -> None:
    await login(client)
    response = await client.post("/logout", headers={"Authorization": "Bearer abc", "Origin": "https://x.example"})
    assert response.status_code == 403
