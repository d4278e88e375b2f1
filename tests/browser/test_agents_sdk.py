"""The OpenAI Agents SDK's WebRTC transport (`@openai/agents-realtime`, from npm via tests/js), unchanged, in headless
Chromium against the real server in echo mode: an `ek_` key from our client_secrets endpoint, the SDK's own
candidate-free offer, its session.update answered, and the reply heard (inbound RTP audio). Same-origin, and from a
page on another origin allowed by CORS_ALLOWED_ORIGINS."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.media_fixtures.browser_run import sign_in
from tests.media_fixtures.speech import make_speech_wav, tools_missing
from tests.support import free_port
from tests.support.browser import BrowserOptions, launch_chromium, new_context
from tests.support.live_server import run_live_server

pytestmark = pytest.mark.browser

SDK = (Path(__file__).resolve().parents[1]
       / "js/node_modules/@openai/agents-realtime/dist/bundle/openai-realtime-agents.umd.js")
CONNECT = """
async ({ base, key }) => {
  const transport = new OpenAIAgentsRealtime.OpenAIRealtimeWebRTC({ baseUrl: base + "/v1/realtime/calls" });
  const events = [];
  transport.on("*", (e) => events.push(e.type));
  const began = performance.now();
  await transport.connect({ apiKey: key, model: "gpt-realtime", initialSessionConfig: { instructions: "Be brief." } });
  const connectMs = Math.round(performance.now() - began);
  const pc = transport.connectionState.peerConnection;
  let inbound = 0, level = 0;
  // until the reply is done, then 1.5 s more: its audio plays out in real time after the last event
  let after = 0;
  for (let i = 0; i < 300 && after < 30; i++) {
    if (events.includes("response.done")) after++;
    await new Promise((r) => setTimeout(r, 50));
    (await pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "audio") {
        inbound = s.packetsReceived;
        level = Math.max(level, s.audioLevel || 0);
      }
    });
  }
  transport.close();
  return { connect_ms: connectMs, inbound_packets: inbound, max_level: level, events };
}
"""


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert not tools_missing(), "run bash scripts/bootstrap.sh --test"
    return make_speech_wav(tmp_path_factory.mktemp("speech"))


@pytest.fixture
def foreign_site(tmp_path: Path) -> Iterator[str]:
    """A static page on another origin (another loopback port) that loads the SDK from a local file."""
    assert SDK.is_file(), "npm ci in tests/js (bash scripts/bootstrap.sh --test)"
    site = tmp_path / "site"
    site.mkdir()
    (site / "sdk.js").write_bytes(SDK.read_bytes())
    (site / "index.html").write_text('<!doctype html><title>app</title><script src="sdk.js"></script>\n')
    server = ThreadingHTTPServer(("127.0.0.1", free_port()),
                                 functools.partial(SimpleHTTPRequestHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


MINT = """
async () => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const response = await fetch("/v1/realtime/client_secrets", { method: "POST", credentials: "same-origin",
    headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" }, body: "{}" });
  return (await response.json()).value;
}
"""


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
            await page.add_script_tag(path=str(SDK))
            key, second_key = await page.evaluate(MINT), await page.evaluate(MINT)  # the app backend's job
            assert key.startswith("ek_") and second_key.startswith("ek_")
            check(await page.evaluate(CONNECT, {"base": base, "key": key}))
            # cross-origin: the app's own page elsewhere, allowed by CORS_ALLOWED_ORIGINS
            context, _problems = await new_context(browser, base_url=foreign_site, grant_mic=True)
            foreign = await context.new_page()
            await foreign.goto(foreign_site + "/index.html")
            check(await foreign.evaluate(CONNECT, {"base": base, "key": second_key}))
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
                await page.add_script_tag(path=str(SDK))
                key = await page.evaluate(MINT)
                check(await page.evaluate(CONNECT, {"base": base, "key": key}))
                await context.close()
    assert [c.protocol for c in fake.connections] == ["beta" if mode == "azure-preview" else "ga"]
