"""Server overload: MAX_CALLS_PER_PROCESS=1 and another user's real WebSocket call holds the one slot. The page
(Chromium) and the CLI both fail the call set-up row with 503 server_busy, named as the server being at its call
limit (not the network); the media rows and the WebSocket row (refused the same way) defer to it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from starlette.applications import Starlette
from websockets.asyncio.client import connect as ws_connect

from tests.browser.test_diagnostics_page import serve
from tests.faults.matrix import Fault, check_verdicts
from tests.faults.test_cli_faults import cli_rows
from tests.faults.test_page_faults import run_case
from tests.support.browser import BrowserOptions, launch_chromium
from tests.test_diagnostics_cli import DEMO, diagnose
from web.diagnostics import probe_http
from web.diagnostics.catalog import BY_ID
from web.i18n import translate

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(240)]
BUSY = Fault("server at its call limit", "signalling", ("server_busy", "MAX_CALLS_PER_PROCESS"))
OTHER = ("carol@example.com", "Carol-Passw0rd!x")


@asynccontextmanager
async def call_held_by_someone_else(url: str, app: Starlette) -> AsyncIterator[None]:
    """Another user signs in and keeps a real WebSocket call open (its session started) until the block ends."""
    await app.state.services.users.create(*OTHER, check_policy=False)
    async with probe_http.client(url) as http:
        assert await probe_http.sign_in(http, *OTHER) == 200
        cookie = "; ".join(f"{name}={value}" for name, value in http.cookies.items())
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    async with ws_connect(f"ws://{urlsplit(url).netloc}/v1/realtime", open_timeout=5,
                          additional_headers={"Cookie": cookie, "Origin": origin}) as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert first.get("type") == "session.created", first
        yield


async def test_page_and_cli_name_the_busy_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async with serve(tmp_path, max_calls_per_process=1) as (url, app), call_held_by_someone_else(url, app):
        async with launch_chromium(BrowserOptions()) as browser:
            line = await run_case(browser, url, BUSY)
        started = asyncio.get_running_loop().time()
        code, output = await diagnose(tmp_path, url, *DEMO, "--json", "--lang", "en", "--seconds", "1",
                                      "--no-report")
        elapsed = asyncio.get_running_loop().time() - started
    rows, summary = cli_rows(output)
    check_verdicts(BUSY, rows, summary, translate(BY_ID["signalling"].title, "en"))
    assert rows["websocket"]["deferred_to"] == "signalling", output
    assert code == 1 and elapsed < 15, (code, elapsed)
    with capsys.disabled():
        print(f"\n[faults] page {line}\n[faults] cli {BUSY.name}: signalling fail in {elapsed:.1f} s")
