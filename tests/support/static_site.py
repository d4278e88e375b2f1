"""Tiny loopback HTTP servers for browser tests: pages on an origin that is not the app's.

`serve` runs any request handler on 127.0.0.1 (a free port) in a thread; `sdk_app_site` is an app builder's static
site that loads the OpenAI Agents SDK's browser bundle, once plain and once under a strict CSP of its own. The SDK's
browser-side scripts the tests run (`MINT`, `AGENTS_SDK_CALL`) live in tests/js, so Chromium (Playwright) and Firefox
(tests/js/firefox_pages.mjs) run the same code.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

JS = Path(__file__).resolve().parents[1] / "js"
SDK_BUNDLE = JS / "node_modules/@openai/agents-realtime/dist/bundle/openai-realtime-agents.umd.js"
MINT = (JS / "mint_client_secret.js").read_text(encoding="utf-8")
AGENTS_SDK_CALL = (JS / "agents_sdk_call.js").read_text(encoding="utf-8")

_PAGE = '<!doctype html>{}<title>app</title><script src="sdk.js"></script>\n'
_STRICT_CSP = '<meta http-equiv="Content-Security-Policy" content="script-src \'self\'">'


@contextmanager
def serve(handler: Callable[..., BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on 127.0.0.1 until the block ends; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (signature of the base class)
        pass


@contextmanager
def sdk_app_site(directory: Path) -> Iterator[str]:
    """An app's static site in `directory`: /index.html and /strict.html (`script-src 'self'`), each loading the SDK's
    bundle as /sdk.js. Yields its base URL (put it in the gateway's CORS_ALLOWED_ORIGINS)."""
    assert SDK_BUNDLE.is_file(), "npm ci in tests/js (bash scripts/bootstrap.sh --test)"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sdk.js").write_bytes(SDK_BUNDLE.read_bytes())
    (directory / "index.html").write_text(_PAGE.format(""), encoding="utf-8")
    (directory / "strict.html").write_text(_PAGE.format(_STRICT_CSP), encoding="utf-8")
    with serve(functools.partial(_QuietFiles, directory=str(directory))) as url:
        yield url
