"""The operator's console in Chromium: every people action, quota, the usage chart and CSV, the audit log, and a
non-admin refused — with the strict CSP enforced and no console errors on the admin's pages."""

from __future__ import annotations

import os
import subprocess
import sys

from playwright.async_api import Browser, Page, expect

from tests.support.browser import new_context
from tests.support.live_server import LiveServer, LiveServerFactory, child_environment

ADMIN_EMAIL, ADMIN_PASSWORD = "ops@example.com", "Ops-password-123"


def add_admin(server: LiveServer) -> None:
    env = child_environment(server.data_dir)
    env["PYTHONPATH"] = os.getcwd()
    subprocess.run([sys.executable, "-m", "web", "users", "add", ADMIN_EMAIL, "--admin", "--password",
                    ADMIN_PASSWORD], env=env, cwd=server.data_dir, check=True, capture_output=True, timeout=60)


async def sign_in(page: Page, email: str, password: str) -> None:
    await page.goto("/login")
    await page.locator("input[name=email]").fill(email)
    await page.locator("input[name=password]").fill(password)
    await page.locator("form button[type=submit]").last.click()
    await page.wait_for_url("**/")


async def test_every_console_action_in_the_browser(browser: Browser, live_server_factory: LiveServerFactory) -> None:
    server = live_server_factory()
    add_admin(server)
    # the demo user makes a device token for the admin to revoke
    demo_context, _ = await new_context(browser, base_url=server.base_url)
    demo = await demo_context.new_page()
    await sign_in(demo, "betty@123.com", "Betty@123.com")
    await demo.goto("/account/tokens")
    await demo.locator("#token-name").fill("glasses")
    await demo.locator("#token-panel button.primary").click()
    await expect(demo.get_by_test_id("new-token")).to_be_visible()
    # … and is refused everywhere in the console
    for path in ("/admin", "/admin/people", "/admin/people/1", "/admin/calls", "/admin/usage", "/admin/audit"):
        response = await demo.goto(path)
        assert response is not None and response.status == 403, path

    context, problems = await new_context(browser, base_url=server.base_url)
    page = await context.new_page()
    await sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    await page.goto("/admin")
    await expect(page).to_have_url(f"{server.base_url}/admin/people")
    await page.locator("#new-email").fill("new@example.com")
    await page.locator("#new-name").fill("Newcomer")
    await page.get_by_test_id("create-person").locator("button").click()
    await expect(page.get_by_test_id("temporary-password")).not_to_be_empty()
    await page.locator("#people-search").fill("betty")
    await page.locator("form[role=search] button").click()
    await expect(page.get_by_test_id("person-row")).to_have_count(1)
    await page.get_by_role("link", name="betty@123.com").click()

    for action, status_text, role_text in (("disable", "已停用", "用户"), ("enable", "正常", "用户"),
                                           ("promote", "正常", "管理员"), ("demote", "正常", "用户")):
        await page.get_by_test_id(f"action-{action}").click()
        await expect(page.get_by_test_id("notice")).to_be_visible()
        await expect(page.get_by_test_id("status")).to_have_text(status_text)
        await expect(page.get_by_test_id("role")).to_have_text(role_text)
    response = await demo.goto("/account")
    assert response is not None and "/login" in demo.url  # disabling ended the demo user's session
    await page.get_by_test_id("action-reset-password").click()
    await expect(page.get_by_test_id("temporary-password")).not_to_be_empty()
    await page.get_by_test_id("action-end-sessions").click()
    await expect(page.get_by_test_id("notice")).to_be_visible()
    rows = page.get_by_test_id("person-tokens").locator("tbody tr")
    await expect(rows).to_have_count(1)
    await page.get_by_test_id("person-tokens").locator("button").click()
    await expect(page.get_by_test_id("notice")).to_have_text("设备令牌已撤销。")
    await expect(rows).to_have_count(0)
    await page.locator("#q-minutes_per_day").fill("15")
    await page.get_by_test_id("quota-form").locator("button").click()
    await expect(page.locator("#q-minutes_per_day")).to_have_value("15.0")

    await page.get_by_test_id("admin-nav").get_by_role("link", name="实时通话").click()
    await expect(page.get_by_test_id("no-calls")).to_be_visible()
    await page.get_by_test_id("admin-nav").get_by_role("link", name="用量与费用").click()
    await expect(page.get_by_test_id("usage-chart").locator("rect.bar")).to_have_count(30)
    async with page.expect_download() as download:
        await page.get_by_test_id("csv-link").click()
    saved = server.data_dir / "export.csv"
    await (await download.value).save_as(saved)
    assert saved.read_text(encoding="utf-8").startswith("id,email,call_id")  # noqa: ASYNC240 - a small local file
    await page.get_by_test_id("admin-nav").get_by_role("link", name="审计日志").click()
    log = page.get_by_test_id("audit-log")
    for action in ("user.create", "user.disable", "user.enable", "user.promote", "user.demote", "user.reset_password",
                   "user.end_sessions", "user.revoke_token", "user.quota", "usage.export"):
        await expect(log).to_contain_text(action)
    await expect(page.get_by_test_id("admin-nav").get_by_role("link", name="诊断报告")).to_have_attribute(
        "href", "/support/reports")

    await problems.flush(page)
    problems.assert_clean()
    await context.close()
    await demo_context.close()
