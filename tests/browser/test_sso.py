"""Single sign-on in headless Chromium against the real app (uvicorn subprocess) and the local OIDC provider: one
click on 「使用 … 登录」, Continue at the provider, signed in; sign out, then sign out at the provider too. And a cancel
at the provider lands on a clear page in Chinese with a way back. The app's CSP stays clean throughout."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.async_api import Browser, expect

from tests.oidc_provider.fixtures import oidc_provider_session, provider_env, register_app  # noqa: F401  (fixture)
from tests.oidc_provider.provider import OIDCProvider
from tests.support.browser import PageProblems, new_context
from tests.support.live_server import LiveServer, LiveServerFactory


@pytest.fixture
def idp(oidc_provider_session: OIDCProvider) -> Iterator[OIDCProvider]:  # noqa: F811
    oidc_provider_session.reset()
    oidc_provider_session.behaviour.interactive = True  # a consent page the browser has to click through
    yield oidc_provider_session


def _start(live_server_factory: LiveServerFactory, idp: OIDCProvider) -> LiveServer:
    server = live_server_factory(provider_env(idp.issuer))
    register_app(idp, server.base_url)
    return server


def _app_problems(problems: PageProblems, base_url: str) -> list[str]:
    """Console errors of the app's pages; the test provider's bare pages are not under test."""
    return [e for e in problems.console_errors if base_url in e and "status of 400" not in e]


async def test_sign_in_with_the_provider_then_sign_out_there_too(browser: Browser, idp: OIDCProvider,
                                                                 live_server_factory: LiveServerFactory) -> None:
    server = _start(live_server_factory, idp)
    context, problems = await new_context(browser, base_url=server.base_url)
    page = await context.new_page()

    await page.goto("/account")
    await expect(page).to_have_url(f"{server.base_url}/login?next=/account")
    await page.get_by_role("link", name="使用 Test IdP 登录").click()
    await expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible()
    await page.get_by_role("button", name="Continue as Alice Example").click()

    await expect(page).to_have_url(f"{server.base_url}/account")
    await expect(page.get_by_test_id("badge-auth")).to_contain_text("已登录")
    await expect(page.locator("main")).to_contain_text("alice@example.com")
    assert idp.authorize_requests[-1]["code_challenge_method"] == "S256"

    await page.get_by_test_id("logout").click()
    await expect(page).to_have_url(f"{server.base_url}/login?reason=signed_out")
    offer = page.get_by_test_id("sso-logout-test")
    await expect(offer).to_have_text("同时退出 Test IdP")
    await problems.flush(page)
    await offer.click()
    await expect(page).to_have_url(f"{server.base_url}/login?reason=signed_out")
    await expect(page.get_by_test_id("sso-logout-offer")).to_have_count(0)
    assert idp.logouts == [{"sub": "alice-0001", "with_hint": True}]
    await page.goto("/account")
    await expect(page).to_have_url(f"{server.base_url}/login?next=/account")

    await problems.flush(page)
    assert not problems.csp_violations and not problems.page_errors, problems.summary()
    assert not _app_problems(problems, server.base_url), problems.summary()
    assert "sso started" in server.log_text() and "login succeeded" in server.log_text()
    await context.close()


async def test_cancelling_at_the_provider_shows_a_clear_page_with_a_way_back(
        browser: Browser, idp: OIDCProvider, live_server_factory: LiveServerFactory) -> None:
    server = _start(live_server_factory, idp)
    context, problems = await new_context(browser, base_url=server.base_url)
    page = await context.new_page()
    await page.goto("/login")
    await page.get_by_test_id("sso-test").click()
    await page.get_by_role("button", name="Cancel").click()

    error = page.get_by_test_id("sso-error")
    await expect(error).to_contain_text("登录已取消")
    await expect(error).to_contain_text("您在身份提供方处取消了登录。")
    await page.get_by_test_id("sso-error-back").click()
    await expect(page).to_have_url(f"{server.base_url}/login")
    await expect(page.get_by_test_id("badge-auth")).to_have_text("未登录")

    await problems.flush(page)
    assert not problems.csp_violations and not problems.page_errors, problems.summary()
    assert not _app_problems(problems, server.base_url), problems.summary()
    assert "sso sign-in failed" in server.log_text()
    await context.close()
