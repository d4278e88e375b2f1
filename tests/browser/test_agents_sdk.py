"""The OpenAI Agents SDK's WebRTC transport (`@openai/agents-realtime`, from npm via tests/js), unchanged, in headless
Chromium against the real server in echo mode: an `ek_` key from our client_secrets endpoint, the SDK's own
candidate-free offer, its session.update answered, and the reply heard (inbound RTP audio). Same-origin, and from a
page on another origin allowed by CORS_ALLOWED_ORIGINS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from tests.media_fixtures.browser_run import sign_in
from tests.media_fixtures.speech import make_speech_wav, tools_missing
from tests.support.browser import BrowserOptions, launch_chromium, new_context
from tests.support.live_server import run_live_server
from tests.support.static_site import AGENTS_SDK_CALL, MINT, SDK_BUNDLE, sdk_app_site

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert not tools_missing(), "run bash scripts/bootstrap.sh --test"
    return make_speech_wav(tmp_path_factory.mktemp("speech"))


@pytest.fixture
def foreign_site(tmp_path: Path) -> Iterator[str]:
    """A static page on another origin (another loopback port) that loads the SDK from a local file."""
    with sdk_app_site(tmp_path / "site") as url:
        yield url


async def mint(page: Page) -> str:
    """An `ek_` key, as the app's backend would get one (here with the signed-in page's session)."""
    return str(await page.evaluate(f"() => ({MINT})()"))


async def connect(page: Page, base: str, key: str) -> dict[str, Any]:
    """The SDK's WebRTC transport on `page` (tests/js/agents_sdk_call.js), until the reply is done and heard."""
    result: dict[str, Any] = await page.evaluate(f"([base, key]) => ({AGENTS_SDK_CALL})(base, key)", [base, key])
    return result


def check(result: dict[str, Any]) -> None:
    print(f"Agents SDK connect() → {result['connect_ms']} ms, inbound packets {result['inbound_packets']}, "
          f"max level {result['max_level']:.3f}")
    assert result["connect_ms"] < 10_000, result
    assert "response.done" in result["events"], result  # the echoed reply came …
    assert result["max_level"] > 0.01, result  # … and was heard (inbound RTP audio level)
    assert "session.created" in result["events"] and result["events"].count("session.updated") <= 2, result


async def test_agents_sdk_webrtc_same_and_cross_origin(tmp_path: Path, speech_wav: Path, foreign_site: str) -> None:
    with run_live_server(tmp_path, {"CORS_ALLOWED_ORIGINS": foreign_site, "REALTIME_UPSTREAM": "echo"}) as server:
        base = server.url("").rstrip("/")
        async with launch_chromium(BrowserOptions(fake_mic_wav=speech_wav, loop_mic=True)) as browser:
            # same-origin: a page of the gateway itself (the SDK injected, the app's CSP bypassed for the test)
            context, _problems = await new_context(browser, base_url=base, bypass_csp=True)
            page = await context.new_page()
            await sign_in(page)
            await page.add_script_tag(path=str(SDK_BUNDLE))
            key, second_key = await mint(page), await mint(page)  # the app backend's job
            assert key.startswith("ek_") and second_key.startswith("ek_")
            check(await connect(page, base, key))
            # cross-origin: the app's own page elsewhere, allowed by CORS_ALLOWED_ORIGINS
            context, _problems = await new_context(browser, base_url=foreign_site, grant_mic=True)
            foreign = await context.new_page()
            await foreign.goto(foreign_site + "/index.html")
            check(await connect(foreign, base, second_key))
            await context.close()


@pytest.mark.parametrize("mode", ["azure", "azure-preview"])
async def test_agents_sdk_webrtc_relayed_to_the_fake_azure(tmp_path: Path, speech_wav: Path, mode: str) -> None:
    """The same SDK code, with the gateway relaying to an Azure upstream (the project's fake) instead of echoing: the
    GA path, and the preview path whose events the gateway translates to GA ones."""
    from tests.fake_realtime import FakeRealtimeServer

    async with FakeRealtimeServer() as fake:
        env = {key.upper(): str(value) for key, value in fake.settings_overrides(mode).items()}
        with run_live_server(tmp_path, env) as server:
            base = server.url("").rstrip("/")
            async with launch_chromium(BrowserOptions(fake_mic_wav=speech_wav, loop_mic=True)) as browser:
                context, _problems = await new_context(browser, base_url=base, bypass_csp=True)
                page = await context.new_page()
                await sign_in(page)
                await page.add_script_tag(path=str(SDK_BUNDLE))
                check(await connect(page, base, await mint(page)))
                await context.close()
    assert [c.protocol for c in fake.connections] == ["beta" if mode == "azure-preview" else "ga"]
