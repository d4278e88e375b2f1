"""Every failure of a single sign-on ends on a clear page in the user's language, with a way back, the right status,
a log record, and no session: cancelled, forged or missing state, replayed or expired code, tampered ID tokens,
an unreachable provider (within the timeout) and a misconfigured one."""

# ruff: noqa: F811  (the provider fixtures are imported by name, and tests take them as arguments)

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import make_client
from tests.oidc_provider.fixtures import (  # noqa: F401  (fixtures)
    authorize,
    callback_url,
    flow_cookies,
    log_records,
    oidc_provider,
    oidc_provider_session,
    register_app,
    sso_login,
    sso_overrides,
    start_login,
)
from tests.oidc_provider.provider import OIDCProvider
from tests.support import free_port


async def _assert_failure(response: httpx.Response, client: httpx.AsyncClient, status: int, reason: str,
                          records: list[dict[str, Any]] | None = None) -> None:
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert 'data-testid="sso-error"' in response.text and f'data-reason="{reason}"' in response.text
    assert 'data-testid="sso-error-back"' in response.text and 'href="/login' in response.text  # a way back
    assert "sid" not in client.cookies or not client.cookies["sid"]
    assert (await client.get("/account")).status_code == 303, "no session was created"
    if records is not None:
        failures = [r for r in records if r["message"] == "sso sign-in failed"]
        assert failures and failures[-1]["extra"]["reason"] == reason


@pytest.fixture
async def app(app_factory: Any, oidc_provider: OIDCProvider) -> Any:
    return await app_factory(**sso_overrides(oidc_provider.issuer))


async def test_a_direct_hit_on_the_callback_is_a_400(app: Any, log_records: list[dict[str, Any]]) -> None:
    async with make_client(app) as client:
        response = await client.get("/auth/sso/test/callback")
        await _assert_failure(response, client, 400, "bad_state", log_records)
        assert "此登录链接无效或已过期" in response.text


async def test_a_wrong_state_is_refused(app: Any, oidc_provider: OIDCProvider) -> None:
    async with make_client(app) as client:
        url = await callback_url(client)
        forged = url.replace("state=", "state=x")
        response = await client.get(forged)
        await _assert_failure(response, client, 400, "bad_state")
        assert oidc_provider.hits["token"] == 0, "the code is never redeemed for a foreign state"


async def test_a_callback_from_another_browser_is_refused(app: Any) -> None:
    """Login CSRF: an attacker's own callback URL, sent to a victim, carries a state this browser never started."""
    async with make_client(app) as attacker:
        url = await callback_url(attacker)
    async with make_client(app) as victim:
        await _assert_failure(await victim.get(url), victim, 400, "bad_state")


async def test_a_tampered_flow_cookie_is_refused(app: Any) -> None:
    async with make_client(app) as client:
        url = await callback_url(client)
        (cookie,) = [c for c in client.cookies.jar if c.name in flow_cookies(client)]
        value = cookie.value or ""
        client.cookies.set(cookie.name, value[:-2] + ("AA" if not value.endswith("AA") else "BB"),
                           domain=cookie.domain, path=cookie.path)
        assert len(flow_cookies(client)) == 1
        await _assert_failure(await client.get(url), client, 400, "bad_state")


async def test_a_replayed_code_is_refused(app: Any, oidc_provider: OIDCProvider,
                                          log_records: list[dict[str, Any]]) -> None:
    async with make_client(app) as client:
        url = await callback_url(client)
        stolen = flow_cookies(client)
        assert (await client.get(url)).status_code == 303
        assert (await client.get(url)).status_code == 400, "the same browser cannot replay: its flow is spent"
    async with make_client(app) as thief:  # even with the flow cookie copied, the provider refuses the used code
        for name, value in stolen.items():
            thief.cookies.set(name, value, path="/auth/sso/")
        response = await thief.get(url)
        await _assert_failure(response, thief, 400, "bad_code", log_records)
    failures = [r for r in log_records if r["message"] == "sso sign-in failed"]
    assert "invalid_grant" in failures[-1]["extra"]["detail"]


async def test_an_expired_code_is_refused(app: Any, oidc_provider: OIDCProvider) -> None:
    async with make_client(app) as client:
        url = await callback_url(client)
        for code in oidc_provider.codes.values():
            code.expires_at = 0.0
        await _assert_failure(await client.get(url), client, 400, "bad_code")


@pytest.mark.parametrize("tamper", ["aud", "nonce", "iss", "signature", "expired"])
async def test_a_tampered_id_token_is_refused(app: Any, oidc_provider: OIDCProvider, tamper: str,
                                              log_records: list[dict[str, Any]]) -> None:
    oidc_provider.behaviour.tamper = tamper
    async with make_client(app) as client:
        response = await sso_login(client)
        await _assert_failure(response, client, 400, "invalid_token", log_records)
    assert "无法验证身份提供方的响应" in response.text
    assert await app.state.services.users.get_by_email("alice@example.com") is None


async def test_cancelling_at_the_provider_shows_a_page_with_a_way_back(
        app: Any, oidc_provider: OIDCProvider, log_records: list[dict[str, Any]]) -> None:
    oidc_provider.behaviour.deny = True
    async with make_client(app) as client:
        started = await start_login(client, next_url="/account")
        answer = await authorize(started.headers["location"])
        assert "error=access_denied" in answer.headers["location"]
        response = await client.get(answer.headers["location"])
        await _assert_failure(response, client, 400, "cancelled", log_records)
        assert "您在身份提供方处取消了登录" in response.text
        assert 'href="/login?next=/account"' in response.text
        assert 'href="/auth/sso/test/start?next=/account"' in response.text
        assert flow_cookies(client) == {}


async def test_failure_pages_follow_the_user_language(app: Any, oidc_provider: OIDCProvider) -> None:
    oidc_provider.behaviour.deny = True
    async with make_client(app, headers={"Accept-Language": "en-US,en;q=0.9"}) as client:
        response = await sso_login(client)
    assert response.status_code == 400 and "You cancelled the sign-in" in response.text and 'lang="en"' in response.text


async def test_an_unknown_provider_is_a_404(app: Any) -> None:
    async with make_client(app) as client:
        assert (await client.get("/auth/sso/nope/start")).status_code == 404
        assert (await client.get("/auth/sso/nope/callback?state=x&code=y")).status_code == 404


# --- an unreachable or misbehaving provider ---------------------------------------------------------------------

@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never answers (a hung provider)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


async def test_a_refused_connection_gives_a_502_page(app_factory: Any, log_records: list[dict[str, Any]]) -> None:
    app = await app_factory(**sso_overrides(f"http://127.0.0.1:{free_port()}"))
    async with make_client(app) as client:
        response = await client.get("/auth/sso/test/start")
        await _assert_failure(response, client, 502, "unreachable", log_records)
    assert "无法连接身份提供方" in response.text
    assert [r for r in log_records if r["message"] == "sso sign-in failed"][-1]["level"].name == "ERROR"


async def test_a_hung_provider_gives_a_502_page_within_the_timeout(app_factory: Any, silent_port: int) -> None:
    app = await app_factory(**(sso_overrides(f"http://127.0.0.1:{silent_port}") | {"oidc_http_timeout_s": 0.5}))
    async with make_client(app) as client:
        started = time.monotonic()
        response = await client.get("/auth/sso/test/start")
        elapsed = time.monotonic() - started
        await _assert_failure(response, client, 502, "unreachable")
    assert 0.4 < elapsed < 2.0, elapsed


async def test_concurrent_sign_ins_during_an_outage_all_fail_within_the_timeout(app_factory: Any,
                                                                                   silent_port: int) -> None:
    """They must not queue behind the discovery lock for one timeout each."""
    app = await app_factory(**(sso_overrides(f"http://127.0.0.1:{silent_port}") | {"oidc_http_timeout_s": 0.5}))
    async with make_client(app) as client:
        started = time.monotonic()
        responses = await asyncio.gather(*(client.get("/auth/sso/test/start") for _ in range(8)))
        elapsed = time.monotonic() - started
    assert [r.status_code for r in responses] == [502] * 8
    assert elapsed < 2.0, elapsed


async def test_a_provider_that_dies_before_the_callback_gives_a_502(app_factory: Any) -> None:
    provider = OIDCProvider().start()
    try:
        register_app(provider, "http://testserver")
        app = await app_factory(**sso_overrides(provider.issuer))
        async with make_client(app) as client:
            url = await callback_url(client)
            provider.stop()
            started = time.monotonic()
            response = await client.get(url)
            await _assert_failure(response, client, 502, "unreachable")
            assert time.monotonic() - started < 3.0
    finally:
        provider.stop()


async def test_a_discovery_document_for_another_issuer_is_refused(
        app_factory: Any, oidc_provider: OIDCProvider, log_records: list[dict[str, Any]]) -> None:
    # Same server, but configured under another name: the document's issuer does not match the configured one.
    app = await app_factory(**sso_overrides(oidc_provider.issuer.replace("127.0.0.1", "localhost")))
    async with make_client(app) as client:
        response = await client.get("/auth/sso/test/start")
        await _assert_failure(response, client, 502, "bad_provider", log_records)
    assert "OIDC_TEST_ISSUER" in [r for r in log_records if r["message"] == "sso sign-in failed"][-1]["extra"]["detail"]


async def test_a_wrong_client_secret_is_a_provider_error_not_a_500(app_factory: Any,
                                                                  oidc_provider: OIDCProvider) -> None:
    overrides = sso_overrides(oidc_provider.issuer)
    env = dict(overrides["oidc_provider_env"]) | {"OIDC_TEST_CLIENT_SECRET": "wrong"}
    app = await app_factory(**(overrides | {"oidc_provider_env": tuple(sorted(env.items()))}))
    async with make_client(app) as client:
        await _assert_failure(await sso_login(client), client, 502, "bad_provider")
