"""The diagnostics page in headless Chromium (fake microphone, every packet on loopback): 「全部检测」 passes every
check that can pass here; a denied microphone fails the permission check with the right advice; an upstream that
rejects the key fails the upstream check, naming the key."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, expect
from starlette.applications import Starlette

from tests.conftest import make_settings
from tests.fake_realtime import FakeOptions, FakeRealtimeServer
from tests.media_fixtures.wiring import wire_calls
from tests.support import free_port
from tests.support.browser import BrowserOptions, PageProblems, launch_chromium, new_context
from web.app import create_app

RUN_ALL = "全部检测"


@asynccontextmanager
async def serve(tmp_path: Path, **overrides: Any) -> AsyncIterator[tuple[str, Starlette]]:
    """The real app under uvicorn in this event loop, with the call endpoint wired (a no-op once app.py does it)."""
    app = create_app(make_settings(tmp_path, **overrides))
    registry = await wire_calls(app)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_config=None,
                                           access_log=False, lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # uvicorn offers no event to await for "listening"
        assert not task.done(), task.exception()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}", app
    finally:
        await registry.close_all()
        server.should_exit = True
        await task


async def sign_in(page: Page) -> None:
    await page.goto("/login?next=/diagnostics")
    await page.get_by_label("邮箱").fill("betty@123.com")
    await page.get_by_label("密码").fill("Betty@123.com")
    await page.get_by_role("button", name="登录").click()
    await expect(page).to_have_url(re.compile(r"^https?://[^/]+/diagnostics$"))


async def statuses(page: Page) -> dict[str, str]:
    result: dict[str, str] = await page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('.diag-row')].map(r => [r.dataset.check, r.dataset.status]))")
    return result


async def row_text(page: Page, check: str) -> str:
    return await page.get_by_test_id(f"diag-{check}").inner_text()


@pytest.fixture
async def fake_mic_browser() -> AsyncIterator[Browser]:
    async with launch_chromium(BrowserOptions()) as browser:
        yield browser


async def open_page(browser: Browser, base_url: str, *, grant_mic: bool = True) -> tuple[BrowserContext, Page,
                                                                                          PageProblems]:
    context, problems = await new_context(browser, base_url=base_url, grant_mic=grant_mic)
    page = await context.new_page()
    await sign_in(page)
    return context, page, problems


async def run_all(page: Page) -> None:
    await page.get_by_role("button", name=RUN_ALL).click()
    await expect(page.get_by_test_id("diag-summary")).to_be_visible(timeout=40_000)


async def test_run_all_passes_every_check_that_can_pass_here(fake_mic_browser: Browser, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    async with serve(tmp_path) as (base_url, app):
        context, page, problems = await open_page(fake_mic_browser, base_url)
        started = asyncio.get_running_loop().time()
        await run_all(page)
        elapsed = asyncio.get_running_loop().time() - started
        await page.get_by_role("button", name="是的，听到了").click()
        await expect(page.get_by_test_id("diag-speaker")).to_have_attribute("data-status", "pass")
        found = await statuses(page)
        with capsys.disabled():  # the measured numbers, for the record
            report_id = await page.get_by_test_id("diag-report-id").inner_text()
            print(f"\n[diagnostics] 全部检测 took {elapsed:.1f} s; report {report_id}")
            for check in found:
                value = page.get_by_test_id(f"diag-value-{check}")
                print(f"  {check:15} {found[check]:5} {await value.inner_text() if await value.count() else ''}")
        # /health/ready needs the monitor and the log pipeline, which app.py wires (or not yet): the row must say so.
        readiness = "pass" if getattr(app.state, "monitoring", None) is not None else "fail"
        assert found.pop("readiness") == readiness, await row_text(page, "readiness")
        not_passed = {k: v for k, v in found.items() if v != "pass"}
        assert not not_passed, {k: await row_text(page, k) for k in not_passed}
        assert elapsed < 20, elapsed
        summary = await page.get_by_test_id("diag-summary").inner_text()
        assert "报告编号" in summary, summary
        await problems.flush(page)
        if readiness == "fail":  # Chromium logs the expected 503 of /health/ready as a console error
            problems.console_errors = [e for e in problems.console_errors if "/health/ready" not in e]
        problems.assert_clean()
        await context.close()


async def test_denied_microphone_fails_the_permission_check_with_the_advice(tmp_path: Path) -> None:
    async with serve(tmp_path) as (base_url, _app), launch_chromium(BrowserOptions(deny_mic=True)) as browser:
        context, page, problems = await open_page(browser, base_url, grant_mic=False)
        row = page.get_by_test_id("diag-mic_permission")
        await row.get_by_role("button", name="检测").click()
        row = page.get_by_test_id("diag-mic_permission")
        await expect(row).to_have_attribute("data-status", "fail")
        await expect(page.get_by_test_id("diag-value-mic_permission")).to_have_text("被拒绝：NotAllowedError")
        await expect(page.get_by_test_id("diag-fixes-mic_permission")).to_contain_text("将“麦克风”设为“允许”")
        await problems.flush(page)
        problems.assert_clean()
        await context.close()


async def test_upstream_rejecting_the_key_fails_the_upstream_check_naming_the_key(
        fake_mic_browser: Browser, tmp_path: Path) -> None:
    async with FakeRealtimeServer(FakeOptions(reject_status=401)) as fake, \
            serve(tmp_path, **fake.settings_overrides("azure")) as (base_url, _app):
        context, page, problems = await open_page(fake_mic_browser, base_url)
        async with page.expect_response("**/diagnostics/checks/upstream") as answered:
            await page.get_by_test_id("diag-upstream").get_by_role("button", name="检测").click()
        assert (await answered.value).status == 200
        await expect(page.get_by_test_id("diag-upstream")).to_have_attribute("data-status", "fail")
        await expect(page.get_by_test_id("diag-value-upstream")).to_contain_text("key_rejected")
        await expect(page.get_by_test_id("diag-fixes-upstream")).to_contain_text("AZURE_OPENAI_REALTIME_API_KEY")
        await problems.flush(page)
        problems.assert_clean()
        await context.close()
