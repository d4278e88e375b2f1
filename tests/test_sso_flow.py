"""Single sign-on against a real local OpenID Connect provider: the login page, the whole round trip (PKCE, exact
redirect URI), sessions shared with password sign-in, metadata caching and RP-initiated logout."""

# ruff: noqa: F811  (the provider fixtures are imported by name, and tests take them as arguments)

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.conftest import make_client
from tests.oidc_provider.fixtures import (  # noqa: F401  (oidc_provider* are fixtures)
    CLIENT_ID,
    authorize,
    flow_cookies,
    oidc_provider,
    oidc_provider_session,
    sso_login,
    sso_overrides,
    start_login,
)
from tests.oidc_provider.provider import OIDCProvider
from tests.support.auth import login, page_token


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def test_the_login_page_shows_only_the_password_form_without_providers(client: httpx.AsyncClient) -> None:
    page = await client.get("/login")
    assert page.status_code == 200 and 'data-testid="login-form"' in page.text
    assert "sso-buttons" not in page.text and "/auth/sso/" not in page.text
    assert (await client.get("/auth/sso/test/start")).status_code == 404


async def test_the_login_page_has_a_button_per_provider(app_factory: Any, oidc_provider: OIDCProvider) -> None:
    env = dict(sso_overrides(oidc_provider.issuer)["oidc_provider_env"])
    env |= {"OIDC_OTHER_ISSUER": oidc_provider.issuer, "OIDC_OTHER_CLIENT_ID": "x", "OIDC_OTHER_CLIENT_SECRET": "y"}
    app = await app_factory(oidc_providers=("test", "other"), oidc_provider_env=tuple(sorted(env.items())))
    async with make_client(app) as client:
        page = await client.get("/login?next=/account")
        english = await client.get("/login", headers={"Accept-Language": "en"})
        fragment = await client.get("/login", headers={"HX-Request": "true"})
    assert "使用 Test IdP 登录" in page.text and "使用 Other 登录" in page.text
    assert 'href="/auth/sso/test/start?next=/account"' in page.text
    assert "Sign in with Test IdP" in english.text and "Sign in with Other" in english.text
    assert "使用 Test IdP 登录" in fragment.text  # the htmx-swapped form keeps the buttons


async def test_a_full_sign_in_creates_the_account_and_a_server_side_session(
        app_factory: Any, oidc_provider: OIDCProvider) -> None:
    app = await app_factory(**sso_overrides(oidc_provider.issuer))
    async with make_client(app) as client:
        started = await start_login(client, next_url="/account")
        location = started.headers["location"]
        answer = await authorize(location)
        done = await client.get(answer.headers["location"])
        assert done.status_code == 303 and done.headers["location"] == "/account"
        assert flow_cookies(client) == {}, "the spent flow cookie is deleted"
        account = await client.get("/account")
    assert account.status_code == 200 and "Alice Example" in account.text
    query = _query(location)
    assert location.startswith(f"{oidc_provider.issuer}/authorize?")
    assert query["redirect_uri"] == "http://testserver/auth/sso/test/callback"
    assert query["client_id"] == CLIENT_ID and query["response_type"] == "code"
    assert set(query["scope"].split()) == {"openid", "email", "profile"}
    assert query["code_challenge_method"] == "S256" and len(query["state"]) >= 43 and len(query["nonce"]) >= 43
    assert query["ui_locales"] == "zh-CN"
    # PKCE: the verifier sent to the token endpoint hashes to the challenge the authorization request carried
    token_request = oidc_provider.token_requests[-1]
    assert create_s256_code_challenge(token_request["code_verifier"]) == query["code_challenge"]
    assert token_request["redirect_uri"] == query["redirect_uri"]
    user = await app.state.services.users.get_by_email("alice@example.com")
    assert user is not None and user.role == "user" and user.display_name == "Alice Example"
    assert await app.state.sso.identities.find_user_id(oidc_provider.issuer, "alice-0001") == user.id


async def test_signing_in_again_reuses_the_account_and_the_metadata_cache(
        app_factory: Any, oidc_provider: OIDCProvider) -> None:
    app = await app_factory(**sso_overrides(oidc_provider.issuer))
    for _ in range(2):
        async with make_client(app) as client:
            assert (await sso_login(client)).status_code == 303
    users = [u for u in await app.state.services.users.list() if u.email == "alice@example.com"]
    assert len(users) == 1
    assert oidc_provider.hits["discovery"] == 1 and oidc_provider.hits["jwks"] == 1
    assert oidc_provider.hits["token"] == 2


async def test_the_sso_session_is_the_same_revocable_session_as_a_password_one(
        app_factory: Any, oidc_provider: OIDCProvider) -> None:
    app = await app_factory(**sso_overrides(oidc_provider.issuer))
    async with make_client(app) as client:
        assert (await sso_login(client)).status_code == 303
        sid = client.cookies["sid"]
        assert "." in sid and len(sid) < 200  # a signed random id, nothing else
        rows = await app.state.db.fetchall("SELECT user_id FROM sessions")
        assert len(rows) == 1
        out = await client.post("/logout", data={"csrf_token": await page_token(client)})
        assert out.status_code == 303
    async with make_client(app, cookies={"sid": sid}) as replay:
        assert (await replay.get("/account")).status_code == 303  # revoked server-side: back to the login page
    # a password sign-in afterwards works as before
    async with make_client(app) as client:
        assert (await login(client)).status_code == 303


async def test_start_keeps_next_local_and_skips_signed_in_users(app_factory: Any, oidc_provider: OIDCProvider) -> None:
    app = await app_factory(**sso_overrides(oidc_provider.issuer))
    async with make_client(app) as client:
        done = await sso_login(client, next_url="//evil.example/x")
        assert done.headers["location"] == "/"
        again = await client.get("/auth/sso/test/start", params={"next": "/account"})
        assert again.status_code == 303 and again.headers["location"] == "/account"


async def test_a_parallel_htmx_poll_does_not_disturb_a_started_sign_in(
        app_factory: Any, oidc_provider: OIDCProvider) -> None:
    app = await app_factory(**sso_overrides(oidc_provider.issuer))
    async with make_client(app) as client:
        started = await start_login(client)
        poll = await client.get("/status/badges", headers={"HX-Request": "true"})
        assert poll.status_code == 200
        assert not any("sso-" in v for v in poll.headers.get_list("set-cookie"))
        answer = await authorize(started.headers["location"])
        assert (await client.get(answer.headers["location"])).status_code == 303


async def test_rp_initiated_logout_after_signing_out(app_factory: Any, oidc_provider: OIDCProvider) -> None:
    app = await app_factory(**sso_overrides(oidc_provider.issuer))
    async with make_client(app) as client:
        assert (await sso_login(client)).status_code == 303
        assert "sso-logout" in client.cookies
        # still signed in: the provider link does nothing to our session and sends the user home
        early = await client.get("/auth/sso/test/logout")
        assert early.status_code == 303 and early.headers["location"] == "/"
        await client.post("/logout", data={"csrf_token": await page_token(client)})
        page = await client.get("/login?reason=signed_out")
        assert "同时退出 Test IdP" in page.text and 'href="/auth/sso/test/logout"' in page.text
        out = await client.get("/auth/sso/test/logout")
        assert out.status_code == 302
        assert "sso-logout" not in client.cookies
        query = _query(out.headers["location"])
        assert out.headers["location"].startswith(f"{oidc_provider.issuer}/logout?")
        assert query["client_id"] == CLIENT_ID and query["id_token_hint"].count(".") == 2
        assert query["post_logout_redirect_uri"] == "http://testserver/auth/sso/test/signed-out"
        async with httpx.AsyncClient(timeout=5.0) as idp:
            back = await idp.get(out.headers["location"])
        assert back.status_code == 302 and back.headers["location"] == query["post_logout_redirect_uri"]
        assert oidc_provider.logouts == [{"sub": "alice-0001", "with_hint": True}]
        landed = await client.get(back.headers["location"])
        assert landed.status_code == 303 and landed.headers["location"] == "/login?reason=signed_out"
        page = await client.get("/login?reason=signed_out")
        assert "同时退出" not in page.text  # offered once
    rows = await app.state.db.fetchall("SELECT * FROM oidc_logout_hints")
    assert rows == []


async def test_no_logout_offer_when_the_provider_has_no_end_session_endpoint(
        app_factory: Any, oidc_provider: OIDCProvider) -> None:
    oidc_provider.behaviour.end_session = False
    app = await app_factory(**sso_overrides(oidc_provider.issuer))
    async with make_client(app) as client:
        assert (await sso_login(client)).status_code == 303
        assert "sso-logout" not in client.cookies
        await client.post("/logout", data={"csrf_token": await page_token(client)})
        page = await client.get("/login?reason=signed_out")
        assert "使用 Test IdP 登录" in page.text and "同时退出" not in page.text
        direct = await client.get("/auth/sso/test/logout")
        assert direct.status_code == 404 and 'data-reason="no_logout"' in direct.text
