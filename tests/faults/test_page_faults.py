"""The fault matrix on the page: 「全部检测」 in headless Chromium with one real fault at a time: upstream faults
(the fake's modes), browser faults (no RTCPeerConnection, an old browser, an audio engine that stays suspended, a
denied microphone, no microphone, a microphone that delivers digital silence) and server faults (an expired
session). The owning row gets its verdict within 15 s of the click; every row ends with a verdict; nothing else
fails or blames another row; the summary names the first cause. One browser for all cases; one server per upstream
configuration."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.test_diagnostics_page import serve, sign_in
from tests.faults.matrix import UPSTREAM_FAULTS, Fault, check_verdicts, upstream
from tests.support.browser import BrowserOptions, launch_chromium, new_context
from web.diagnostics.catalog import BY_ID
from web.i18n import translate

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(400)]
NAMED_WITHIN_S = 15.0
NO_PEER_CONNECTION = "delete window.RTCPeerConnection; delete window.webkitRTCPeerConnection;"
# an audio engine that never starts (as Firefox without an output device): every context is suspended for good
SUSPENDED_AUDIO = """(() => {
  const Real = window.AudioContext;
  window.AudioContext = class extends Real {
    constructor(options) { super(options); super.suspend(); }
    resume() { return new Promise(() => {}); }
  };
})();"""
OLD_CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.77 "
              "Safari/537.36")


async def page_rows(page: Page) -> tuple[dict[str, dict[str, Any]], str]:
    rows: dict[str, dict[str, Any]] = await page.evaluate("""Object.fromEntries([...document.querySelectorAll(
        '.diag-row')].map(r => [r.dataset.check, {status: r.dataset.status, deferred_to: r.dataset.deferred,
        text: [...r.querySelectorAll('.diag-value, .diag-fixes li')].map(e => e.textContent).join(' ')}]))""")
    return rows, await page.get_by_test_id("diag-summary").inner_text()


async def run_case(browser: Browser, base_url: str, fault: Fault, *, init_script: str = "",
                   user_agent: str | None = None, grant_mic: bool = True, before_run: Any = None) -> str:
    options: dict[str, Any] = {"user_agent": user_agent} if user_agent else {}
    context, _problems = await new_context(browser, base_url=base_url, grant_mic=grant_mic, **options)
    try:
        if init_script:
            await context.add_init_script(init_script)
        page = await context.new_page()
        await sign_in(page)
        if before_run is not None:
            await before_run()
        loop = asyncio.get_running_loop()
        started = loop.time()
        await page.get_by_role("button", name="全部检测").click()
        owner = page.get_by_test_id(f"diag-{fault.owner}")
        await expect(owner).to_have_attribute("data-status", fault.status, timeout=NAMED_WITHIN_S * 1000)
        named = loop.time() - started
        await expect(page.get_by_test_id("diag-summary")).to_be_visible(timeout=40_000)
        rows, summary = await page_rows(page)
        rows.pop("speaker", None)  # waits for the person's answer (「是的，听到了」), by design
        check_verdicts(fault, rows, summary, translate(BY_ID[fault.owner].title, "zh-CN"), fault.on_page)
        return f"{fault.name}: {fault.owner} {fault.status} after {named:.1f} s — {rows[fault.owner]['text'][:90]}"
    finally:
        await context.close()


async def test_page_names_each_upstream_fault(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = []
    async with launch_chromium(BrowserOptions()) as browser:
        for index, fault in enumerate(UPSTREAM_FAULTS):
            async with upstream(fault) as overrides, serve(tmp_path / str(index), **overrides) as (url, _app):
                lines.append(await run_case(browser, url, fault))
    with capsys.disabled():
        print("\n" + "\n".join(f"[faults] page {line}" for line in lines))


BROWSER_FAULTS: tuple[tuple[Fault, dict[str, Any]], ...] = (
    (Fault("no RTCPeerConnection", "browser", ("RTCPeerConnection", "Chrome 或 Edge 80+")),
     {"init_script": NO_PEER_CONNECTION}),
    (Fault("old browser", "browser", ("低于已测试的版本", "Chrome 或 Edge 80+", "Safari 14.1+"), status="warn"),
     {"user_agent": OLD_CHROME}),
    (Fault("suspended audio", "mic_level", ("suspended", "扬声器或耳机"), also=("echo",)),
     {"init_script": SUSPENDED_AUDIO}),
)


async def test_page_names_each_browser_and_session_fault(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = []
    async with serve(tmp_path) as (url, app), launch_chromium(BrowserOptions()) as browser:
        for fault, options in BROWSER_FAULTS:
            lines.append(await run_case(browser, url, fault, **options))

        async def expire_sessions() -> None:  # the session dies while the page is open
            await app.state.db.execute("UPDATE sessions SET created_at = 0, last_seen_at = 0")

        expired = Fault("expired session", "session", ("认证失败，请重新登录",))
        lines.append(await run_case(browser, url, expired, before_run=expire_sessions))
        async with launch_chromium(BrowserOptions(deny_mic=True)) as denying:
            denied = Fault("microphone denied", "mic_permission", ("NotAllowedError", "麦克风"))
            lines.append(await run_case(denying, url, denied, grant_mic=False))
        async with launch_chromium(BrowserOptions(fake_device=False)) as deviceless:  # this host has no sound card
            missing = Fault("no microphone", "mic_permission", ("NotFoundError", "未找到麦克风"))
            lines.append(await run_case(deviceless, url, missing))
        silence = tmp_path / "silence.wav"  # a microphone muted by its hardware switch delivers zeros
        with wave.open(str(silence), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(48_000)
            out.writeframes(b"\0\0" * 48_000 * 5)
        async with launch_chromium(BrowserOptions(fake_mic_wav=silence)) as silent:
            muted = Fault("silent microphone", "mic_level", ("完全静音", "麦克风"))
            lines.append(await run_case(silent, url, muted))
    with capsys.disabled():
        print("\n" + "\n".join(f"[faults] page {line}" for line in lines))
