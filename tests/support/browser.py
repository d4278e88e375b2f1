"""Launch Debian's headless Chromium under Playwright (async API) and record what goes wrong on the page.

Never `playwright install`: the browser is /usr/bin/chromium from Debian's package (bootstrap.sh --test installs it).
Flags and the reasons for them: shared/reference/browser-testing.md §2.

    async with launch_chromium(BrowserOptions(fake_mic_wav=wav)) as browser:
        context, problems = await new_context(browser, base_url=server.base_url)
        page = await context.new_page()
        ...
        await problems.flush(page)
        problems.assert_clean()   # no console errors, uncaught exceptions or CSP violations
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Response,
    WebError,
    async_playwright,
)

CHROMIUM = Path("/usr/bin/chromium")
DEFAULT_TIMEOUT_MS = 10_000

# Keep Chromium off the network (it otherwise calls Google's hosts), let the page autoplay the reply audio, and let
# WebRTC gather 127.0.0.1 candidates for loopback-only tests.
BASE_ARGS: tuple[str, ...] = (
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--autoplay-policy=no-user-gesture-required",
    "--allow-loopback-in-peer-connection",
    "--use-fake-device-for-media-stream",
)

_CSP_BINDING = "__reportCspViolation"
# Runs before any page script in every frame; the binding is added by Playwright over CDP, so the page's CSP
# does not apply to it and a violation is reported even if the page navigates away right after. Each call returns a
# promise that resolves once Python has recorded the report: `PageProblems.flush(page)` waits for them.
_CSP_LISTENER = f"""
window.__cspPending = [];
document.addEventListener('securitypolicyviolation', (e) => {{
  window.__cspPending.push(window.{_CSP_BINDING}({{
    directive: e.violatedDirective, effective: e.effectiveDirective, blocked: e.blockedURI,
    source: e.sourceFile, line: e.lineNumber, sample: e.sample, disposition: e.disposition,
    page: document.location.href,
  }}));
}}, true);
"""


class BrowserUnavailable(RuntimeError):
    """/usr/bin/chromium is missing: run `bash scripts/bootstrap.sh --test`."""


@dataclass(frozen=True)
class BrowserOptions:
    fake_mic_wav: Path | None = None  # None → Chromium's built-in fake device (a beep)
    loop_mic: bool = True  # False → the WAV plays once (`%noloop`)
    deny_mic: bool = False  # True → getUserMedia rejects with NotAllowedError
    extra_args: tuple[str, ...] = ()
    headless: bool = True
    mute_audio: bool = True  # Playwright's headless default; False to hear the page while debugging
    fake_device: bool = True  # False → no fake capture device: on a host without a sound card, no microphone at all


def chromium_executable() -> Path:
    if not CHROMIUM.is_file():
        raise BrowserUnavailable(f"{CHROMIUM} not found: run `bash scripts/bootstrap.sh --test`")
    return CHROMIUM


def chromium_args(options: BrowserOptions) -> list[str]:
    args = [a for a in BASE_ARGS if options.fake_device or a != "--use-fake-device-for-media-stream"]
    # The fake UI accepts every media prompt; without it, --deny-permission-prompts refuses them.
    args.append("--deny-permission-prompts" if options.deny_mic else "--use-fake-ui-for-media-stream")
    if options.fake_mic_wav is not None:
        wav = options.fake_mic_wav.resolve()
        # Chromium silently treats anything that is not a WAV file as silence, so refuse it here.
        if wav.suffix.lower() != ".wav" or not wav.is_file():
            raise ValueError(f"fake microphone must be an existing .wav file, got {wav}")
        args.append(f"--use-file-for-fake-audio-capture={wav}{'' if options.loop_mic else '%noloop'}")
    args.extend(options.extra_args)
    return args


@asynccontextmanager
async def launch_chromium(options: BrowserOptions | None = None) -> AsyncIterator[Browser]:
    """A fresh headless Chromium (new temporary profile); closed on exit."""
    options = options or BrowserOptions()
    executable, args = chromium_executable(), chromium_args(options)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(executable),
            args=args,
            headless=options.headless,
            ignore_default_args=[] if options.mute_audio else ["--mute-audio"],
        )
        try:
            yield browser
        finally:
            await browser.close()


def _is_favicon_404(message: ConsoleMessage) -> bool:
    # Chromium fetches /favicon.ico on its own; its 404 is not a page error (browser-testing.md §8).
    return str(message.location.get("url", "")).endswith("/favicon.ico") and "404" in message.text


@dataclass
class PageProblems:
    """Console errors, uncaught exceptions, CSP violations and HTTP errors seen in one browser context."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[dict[str, Any]] = field(default_factory=list)
    http_errors: list[str] = field(default_factory=list)  # responses >= 400, informational: not in assert_clean

    async def attach(self, context: BrowserContext) -> None:
        await context.expose_binding(_CSP_BINDING, self._on_csp)
        await context.add_init_script(script=_CSP_LISTENER)
        context.on("console", self._on_console)
        context.on("weberror", self._on_web_error)
        context.on("response", self._on_response)

    def _on_csp(self, _source: dict[str, Any], report: dict[str, Any]) -> None:
        self.csp_violations.append(report)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not _is_favicon_404(message):
            self.console_errors.append(f"{message.text} ({message.location.get('url', '')})")

    def _on_web_error(self, error: WebError) -> None:
        self.page_errors.append(str(error.error))

    def _on_response(self, response: Response) -> None:
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.http_errors.append(f"{response.status} {response.request.method} {response.url}")

    async def flush(self, page: Page) -> None:
        """Wait until every CSP violation the page has raised so far is recorded here."""
        await page.evaluate("Promise.all(window.__cspPending || [])")

    def summary(self) -> str:
        parts = [
            f"console errors: {self.console_errors}",
            f"uncaught exceptions: {self.page_errors}",
            f"CSP violations: {self.csp_violations}",
            f"HTTP errors: {self.http_errors}",
        ]
        return "\n".join(parts)

    def assert_clean(self) -> None:
        if self.console_errors or self.page_errors or self.csp_violations:
            raise AssertionError("the page reported problems:\n" + self.summary())


async def new_context(
    browser: Browser,
    *,
    base_url: str | None = None,
    locale: str = "zh-CN",
    grant_mic: bool = True,
    **context_options: Any,
) -> tuple[BrowserContext, PageProblems]:
    """A new context with the problem recorders attached (before any page opens) and, if asked, mic permission."""
    context = await browser.new_context(base_url=base_url, locale=locale, **context_options)
    # Fail in seconds, not Playwright's 30 s: every page here is served from loopback.
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    problems = PageProblems()
    await problems.attach(context)
    if grant_mic:
        await context.grant_permissions(["microphone"], origin=base_url)
    return context, problems
