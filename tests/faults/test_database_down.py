"""The database stops under a live app (a private PostgreSQL, stopped as a crash would): 「全部检测」 in Chromium
and `python -m web diagnose URL` both fail the readiness row naming the database, defer the session and every
sign-in row to it, and name it as the first cause; the page still shows a summary (the report cannot be saved)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.browser.test_diagnostics_page import serve, sign_in
from tests.faults.matrix import Fault, check_verdicts
from tests.faults.test_cli_faults import cli_rows
from tests.faults.test_page_faults import NAMED_WITHIN_S, page_rows
from tests.support import postgres
from tests.support.browser import BrowserOptions, launch_chromium, new_context
from tests.test_diagnostics_cli import DEMO, diagnose
from web.diagnostics.catalog import BY_ID
from web.i18n import translate

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(240)]
DOWN = Fault("database stopped", "readiness", ("database", "DATABASE_URL"))
DOWN_ON_PAGE = ("database", "数据库")


@pytest.fixture
async def database() -> AsyncIterator[tuple[str, Path]]:
    try:
        postgres.find_bin_dir()
    except postgres.PostgresError as exc:
        pytest.skip(str(exc))
    base = Path(tempfile.mkdtemp(prefix="test-pg-"))  # not under pytest's tmp dir: the postgres user cannot enter it
    url = await asyncio.to_thread(postgres.start, base)
    try:
        yield url, base
    finally:
        await asyncio.to_thread(postgres.stop, base)


async def test_page_and_cli_name_a_stopped_database(database: tuple[str, Path], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    url, base = database
    async with serve(tmp_path / "app", database_url=url) as (app_url, _app), \
            launch_chromium(BrowserOptions()) as browser:
        context, _problems = await new_context(browser, base_url=app_url)
        page = await context.new_page()
        await sign_in(page)  # signed in while the database runs …
        await asyncio.to_thread(postgres.halt, base)  # … then it stops
        started = asyncio.get_running_loop().time()
        await page.get_by_role("button", name="全部检测").click()
        await expect(page.get_by_test_id("diag-readiness")).to_have_attribute("data-status", "fail",
                                                                               timeout=NAMED_WITHIN_S * 1000)
        named = asyncio.get_running_loop().time() - started
        await expect(page.get_by_test_id("diag-summary")).to_be_visible(timeout=40_000)
        rows, summary = await page_rows(page)
        rows.pop("speaker", None)  # waits for the person's answer
        await context.close()
        check_verdicts(DOWN, rows, summary, translate(BY_ID["readiness"].title, "zh-CN"), DOWN_ON_PAGE)
        assert rows["session"]["deferred_to"] == "readiness", rows["session"]
        assert "报告无法保存" in summary, summary

        code, output = await diagnose(tmp_path, app_url, *DEMO, "--json", "--lang", "en", "--seconds", "1")
    assert code == 1 and "Traceback" not in output, output
    cli, cli_summary = cli_rows(output)
    check_verdicts(DOWN, cli, cli_summary, translate(BY_ID["readiness"].title, "en"))
    assert cli["session"]["deferred_to"] == "readiness" and cli["upstream"]["deferred_to"] == "readiness", output
    with capsys.disabled():
        print(f"\n[faults] page database stopped: readiness fail after {named:.1f} s — {rows['readiness']['text'][:90]}"
              f"\n[faults] cli database stopped: readiness {cli['readiness']['status']} — "
              f"{cli['readiness']['text'][:90]}")
