"""「全部检测」 in headless Chromium run inside a client namespace of a simulated network (tests/faults):

    ip netns exec <client ns> python -m tests.faults.netns_page --url http://10.75.0.1:PORT --owner media_path \
        --status fail --out rows.json

Signs in as the demo user, runs every check, and writes JSON: every row (status, text, deferred_to), the summary,
and the seconds from the click to the owner row's verdict (null when it never came).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from tests.browser.test_diagnostics_page import sign_in
from tests.faults.test_page_faults import page_rows
from tests.media_fixtures.netsim_browser import wait_up
from tests.support.browser import BrowserOptions, launch_chromium, new_context


async def run(args: argparse.Namespace) -> dict[str, Any]:
    await wait_up(args.url)
    options = BrowserOptions(extra_args=(f"--unsafely-treat-insecure-origin-as-secure={args.url}",))
    async with launch_chromium(options) as browser:
        context, _problems = await new_context(browser, base_url=args.url)
        page = await context.new_page()
        try:
            await sign_in(page)
            started = time.monotonic()
            await page.get_by_role("button", name="全部检测").click()
            named: float | None = None
            try:
                await expect(page.get_by_test_id(f"diag-{args.owner}")).to_have_attribute(
                    "data-status", args.status, timeout=30_000)
                named = time.monotonic() - started
            except AssertionError:
                pass
            await expect(page.get_by_test_id("diag-summary")).to_be_visible(timeout=60_000)
            rows, summary = await page_rows(page)
        finally:
            await context.close()
    rows.pop("speaker", None)  # waits for the person's answer
    return {"rows": rows, "summary": summary, "named_s": named}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--owner", required=True)
    parser.add_argument("--status", default="fail")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    try:
        result = asyncio.run(run(args))
    except Exception as exc:  # noqa: BLE001 - reported to the test, which fails with it
        result = {"error": f"{type(exc).__name__}: {exc}"}
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
