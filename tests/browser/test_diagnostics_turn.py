"""The connection check against a real coturn and a dead STUN server, in headless Chromium on loopback: the ICE row
gets a relay candidate from coturn (per-call credentials), names the dead server, and the call still connects with an
answer that waited for the dead server no longer than RTC_ICE_GATHER_TIMEOUT_S."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from playwright.async_api import Browser

from tests.browser.test_diagnostics_page import open_page, run_all, serve, statuses
from tests.support.coturn import run_coturn

pytestmark = pytest.mark.slow
SECRET = "diagnostics-turn-secret-0123456789abcdef"
GATHER_LIMIT_S = 1.5


async def test_ice_row_reaches_coturn_and_names_the_dead_stun_server(browser: Browser, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as dead, \
            run_coturn(tmp_path / "turn", secret=SECRET) as turn:
        dead.bind(("127.0.0.1", 0))  # bound and never read: a STUN server that does not answer
        dead_url = f"stun:127.0.0.1:{dead.getsockname()[1]}"
        async with serve(tmp_path, rtc_ice_servers=dead_url, rtc_turn_secret=SECRET,
                         rtc_turn_urls=(turn.url("udp"),), rtc_ice_gather_timeout_s=GATHER_LIMIT_S) as (url, _app):
            context, page, _problems = await open_page(browser, url)
            await run_all(page)
            found = await statuses(page)
            ice = await page.get_by_test_id("diag-ice").inner_text()
            signalling = await page.get_by_test_id("diag-value-signalling").inner_text()
            media = await page.get_by_test_id("diag-value-media_path").inner_text()
            await context.close()
    with capsys.disabled():
        print(f"\n[diagnostics with coturn + dead STUN] ice={found['ice']} signalling: {signalling}; media: {media}")
    assert found["ice"] == "warn", ice
    assert dead_url in ice and turn.url("udp").split("?")[0] not in ice, ice  # only the dead one is named
    assert re.search(r"中继 [1-9]|relay [1-9]", ice), ice  # coturn handed out a relay candidate
    assert found["media_path"] in ("pass", "warn") and found["signalling"] in ("pass", "warn"), found
    answer_ms = int(re.search(r"(\d+)", signalling).group(1))  # type: ignore[union-attr]
    assert answer_ms < GATHER_LIMIT_S * 1000 + 1000, signalling  # the dead server cost at most the gathering limit
