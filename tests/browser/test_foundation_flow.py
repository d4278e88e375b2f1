"""The newcomer's path in a real browser: sign in as the demo account, see the badges in Chinese, switch to
English, sign out — with the CSP enforced and no console errors."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.support.browser import new_context
from tests.support.live_server import LiveServerFactory


async def test_sign_in_badges_language_switch_and_sign_out(browser: Browser,
                                                           live_server_factory: LiveServerFactory) -> None:
    server = live_server_factory()
    context, problems = await new_context(browser, base_url=server.base_url)
    page = await context.new_page()

    await page.goto("/")
    await expect(page).to_have_url(f"{server.base_url}/login?next=/")
    await expect(page.get_by_test_id("badge-auth")).to_have_text("未登录")
    await page.get_by_label("邮箱").fill("betty@123.com")
    await page.get_by_label("密码").fill("Betty@123.com")
    await page.get_by_role("button", name="登录").click()

    await expect(page).to_have_url(f"{server.base_url}/")
    await expect(page.get_by_test_id("badge-auth")).to_contain_text("已登录")
    await expect(page.get_by_test_id("badge-service")).to_have_text("服务正常")
    await expect(page.get_by_test_id("badge-voice-mode")).to_contain_text("回声模式")

    # the badges refresh as an htmx fragment
    async with page.expect_response("**/status/badges") as fragment:
        await page.evaluate("htmx.trigger(document.body, 'refresh-badges')")
    assert (await fragment.value).status == 200

    await page.get_by_test_id("lang-en").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_test_id("badge-auth")).to_contain_text("Signed in")
    await expect(page.get_by_test_id("badge-voice-mode")).to_contain_text("Echo mode")

    await page.get_by_test_id("logout").click()
    await expect(page).to_have_url(f"{server.base_url}/login?reason=signed_out")
    await expect(page.get_by_test_id("login-notice")).to_have_text("You have signed out.")
    await page.goto("/")
    await expect(page).to_have_url(f"{server.base_url}/login?next=/")

    await problems.flush(page)
    problems.assert_clean()
    await context.close()


async def test_wrong_password_shows_the_generic_error_through_htmx(browser: Browser,
                                                                   live_server_factory: LiveServerFactory) -> None:
    server = live_server_factory()
    context, problems = await new_context(browser, base_url=server.base_url)
    page = await context.new_page()
    await page.goto("/login")
    await page.get_by_label("邮箱").fill("betty@123.com")
    await page.get_by_label("密码").fill("not-the-password")
    await page.get_by_role("button", name="登录").click()
    await expect(page.get_by_test_id("login-error")).to_have_text("邮箱或密码错误。")
    await problems.flush(page)
    # Chromium logs every 4xx fetch to the console; the 401 of the failed sign-in is the expected one.
    unexpected = [e for e in problems.console_errors if "status of 401" not in e]
    assert not unexpected and not problems.page_errors and not problems.csp_violations, problems.summary()
    await context.close()
