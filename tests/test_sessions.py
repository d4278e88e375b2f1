"""Server-side sessions: revocation, idle and absolute timeouts, cookie attributes, fixation."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import FakeClock, make_client
from tests.support.auth import csrf_token, login


def _cookie_header(response: httpx.Response, name: str) -> str:
    for value in response.headers.get_list("set-cookie"):
        if value.startswith(name + "="):
            return value
    raise AssertionError(f"no {name} cookie in {response.headers.get_list('set-cookie')}")


async def test_replaying_a_cookie_after_logout_is_rejected(client: httpx.AsyncClient) -> None:
    await login(client)
    stolen = client.cookies.get("sid")
    assert stolen
    token = await csrf_token(client, "/")
    response = await client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["location"] == "/login?reason=signed_out"
    assert "no-store" in response.headers["cache-control"]
    client.cookies.set("sid", stolen)
    replay = await client.get("/")
    assert replay.status_code == 303 and replay.headers["location"].startswith("/login")


async def test_logout_is_post_only(client: httpx.AsyncClient) -> None:
    await login(client)
    assert (await client.get("/logout")).status_code == 405


async def test_expired_session_redirects_pages_with_the_predecessor_message(app_factory: Any) -> None:
    clock = FakeClock()
    app = await app_factory(clock=clock)
    async with make_client(app) as client:
        await login(client)
        clock.advance(29 * 60)
        assert (await client.get("/")).status_code == 200
        clock.advance(31 * 60)
        page = await client.get("/")
        assert page.status_code == 303 and "reason=expired" in page.headers["location"]
        login_page = await client.get(page.headers["location"])
        assert "认证失败，请重新登录" in login_page.text


async def test_idle_timeout_for_htmx_and_json_requests(app_factory: Any) -> None:
    clock = FakeClock()
    app = await app_factory(clock=clock)
    async with make_client(app) as client:
        await login(client)
        stolen = client.cookies.get("sid")
        clock.advance(31 * 60)
        fragment = await client.get("/", headers={"HX-Request": "true"})
        assert fragment.status_code == 200 and fragment.headers["HX-Redirect"].startswith("/login")
        client.cookies.set("sid", stolen or "")
        api = await client.get("/api/me")
        assert api.status_code == 401
        assert api.json()["error"]["message"] == "认证失败，请重新登录"


async def test_absolute_lifetime_ends_an_active_session(app_factory: Any) -> None:
    clock = FakeClock()
    app = await app_factory(clock=clock)
    async with make_client(app) as client:
        await login(client)
        for _ in range(71):  # a request every 10 minutes for 11 h 50 min
            clock.advance(600)
            assert (await client.get("/")).status_code == 200
        clock.advance(700)
        assert (await client.get("/")).status_code == 303


async def test_login_issues_a_new_session_id_and_revokes_the_old_one(client: httpx.AsyncClient) -> None:
    await login(client)
    first = client.cookies.get("sid")
    token = await csrf_token(client, "/")  # a second sign-in from the same browser (e.g. a form left open)
    again = await client.post("/login", data={"email": "betty@123.com", "password": "Betty@123.com",
                                              "csrf_token": token})
    assert again.status_code == 303
    second = client.cookies.get("sid")
    assert first and second and first != second
    async with make_client(client._transport.app, cookies={"sid": first}) as replay:  # type: ignore[attr-defined]
        assert (await replay.get("/")).status_code == 303


async def test_cookie_carries_only_a_signed_random_id(client: httpx.AsyncClient) -> None:
    response = await login(client)
    header = _cookie_header(response, "sid")
    assert "HttpOnly" in header and "SameSite=lax" in header.replace("Lax", "lax") and "Path=/" in header
    value = header.split(";")[0].split("=", 1)[1]
    raw_id, signature = value.rsplit(".", 1)
    assert len(raw_id) >= 43 and len(signature) == 43  # 256-bit id, HMAC-SHA256 signature
    assert "betty" not in value.lower()


async def test_production_cookies_are_secure_host_prefixed_and_hsts_is_sent(app_factory: Any) -> None:
    app = await app_factory(app_env="production", public_origin="https://testserver")
    async with make_client(app, base_url="https://testserver") as client:
        token = await csrf_token(client)
        response = await client.post("/login", data={"email": "betty@123.com", "password": "Betty@123.com",
                                                     "csrf_token": token})
        # production creates no demo account, so the sign-in fails; the page still carries HSTS
        assert response.status_code == 401
        assert response.headers["strict-transport-security"].startswith("max-age=31536000")
        await app.state.services.users.create("ops@example.com", "a-strong-password-1")
        token = await csrf_token(client)
        ok = await client.post("/login", data={"email": "ops@example.com", "password": "a-strong-password-1",
                                               "csrf_token": token})
        header = _cookie_header(ok, "__Host-sid")
        assert "Secure" in header and "HttpOnly" in header and "Domain" not in header


async def test_password_change_ends_the_other_sessions(app: Any) -> None:
    async with make_client(app) as first, make_client(app) as second:
        await login(first)
        await login(second)
        token = await csrf_token(first, "/account")
        response = await first.post("/account/password", data={
            "csrf_token": token, "current_password": "Betty@123.com", "new_password": "a-new-good-password"})
        assert response.status_code == 200 and "密码已修改" in response.text
        assert (await first.get("/")).status_code == 200
        assert (await second.get("/")).status_code == 303


async def test_disabling_an_account_ends_its_sessions_and_notifies_listeners(
    app: Any, client: httpx.AsyncClient
) -> None:
    revoked: list[str] = []

    async def listener(ids: list[str]) -> None:
        revoked.extend(ids)

    app.state.session_store.add_revocation_listener(listener)
    await login(client)
    svc = app.state.services
    user = await svc.users.get_by_email("betty@123.com")
    await svc.users.set_disabled(user.id, True)
    await svc.sessions.revoke_user(user.id)
    assert len(revoked) == 1
    assert (await client.get("/")).status_code == 303
