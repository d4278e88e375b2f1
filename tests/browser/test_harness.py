"""The browser harness itself: it must see CSP violations and console errors, ignore the favicon 404, and give the
page a microphone or refuse it as asked. Served by a tiny loopback HTTP server, independent of the app."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from playwright.async_api import Browser

from tests.support.browser import BrowserOptions, launch_chromium, new_context
from tests.support.static_site import serve

_CSP = "default-src 'self'; script-src 'self'; style-src 'self'"
_PAGES = {
    "/clean": "<!doctype html><title>clean</title><script src='/ok.js'></script>",
    "/inline": "<!doctype html><title>inline</title><script>document.title = 'ran';</script>",
    "/error": "<!doctype html><title>error</title><script src='/error.js'></script>",
    "/mic": "<!doctype html><title>mic</title><script src='/mic.js'></script>",
}
_SCRIPTS = {
    "/ok.js": "document.documentElement.setAttribute('data-ok', '1');",
    "/error.js": "console.error('boom from the page');",
    "/mic.js": (
        "navigator.mediaDevices.getUserMedia({audio: true})"
        ".then(() => { document.title = 'mic:granted'; })"
        ".catch((e) => { document.title = 'mic:' + e.name; });"
    ),
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path in _PAGES:
            self._send(200, "text/html; charset=utf-8", _PAGES[self.path])
        elif self.path in _SCRIPTS:
            self._send(200, "text/javascript", _SCRIPTS[self.path])
        else:
            self._send(404, "text/plain", "not found")

    def _send(self, status: int, content_type: str, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Security-Policy", _CSP)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (signature of the base class)
        pass


@pytest.fixture
def site() -> Iterator[str]:
    with serve(_Handler) as url:
        yield url


async def test_clean_page_has_no_problems_and_favicon_404_is_ignored(browser: Browser, site: str) -> None:
    context, problems = await new_context(browser, base_url=site)
    page = await context.new_page()
    await page.goto("/clean")
    await page.wait_for_selector("html[data-ok='1']", state="attached")
    # Chromium's own favicon fetch is not guaranteed to happen in headless mode, so make the same 404 happen.
    async with page.expect_console_message(lambda m: "404" in m.text):
        await page.evaluate("fetch('/favicon.ico')")
    await problems.flush(page)
    await context.close()
    problems.assert_clean()


async def test_inline_script_is_reported_as_csp_violation(browser: Browser, site: str) -> None:
    context, problems = await new_context(browser, base_url=site)
    page = await context.new_page()
    await page.goto("/inline")
    await problems.flush(page)
    assert await page.title() == "inline", "the inline script must have been blocked"
    await context.close()
    assert [v["effective"] for v in problems.csp_violations] == ["script-src-elem"]
    with pytest.raises(AssertionError, match="CSP violations"):
        problems.assert_clean()


async def test_console_error_is_reported(browser: Browser, site: str) -> None:
    context, problems = await new_context(browser, base_url=site)
    page = await context.new_page()
    async with page.expect_console_message(lambda m: m.type == "error"):
        await page.goto("/error")
    await context.close()
    assert problems.console_errors and "boom from the page" in problems.console_errors[0]
    with pytest.raises(AssertionError, match="boom"):
        problems.assert_clean()


async def test_fake_microphone_is_granted(browser: Browser, site: str) -> None:
    context, _ = await new_context(browser, base_url=site)
    page = await context.new_page()
    await page.goto("/mic")
    await page.wait_for_function("() => document.title.startsWith('mic:')")
    assert await page.title() == "mic:granted"
    await context.close()


async def test_denied_microphone_is_refused(site: str) -> None:
    async with launch_chromium(BrowserOptions(deny_mic=True)) as denied:
        context, _ = await new_context(denied, base_url=site, grant_mic=False)
        page = await context.new_page()
        await page.goto("/mic")
        await page.wait_for_function("() => document.title.startsWith('mic:')")
        assert await page.title() == "mic:NotAllowedError"
        await context.close()
