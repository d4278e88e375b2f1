"""The diagnostics CLI's call probe (an aiortc client) run inside a client namespace of a simulated network:

    ip netns exec <client ns> python -m tests.media_fixtures.netsim_probe --url http://100.72.0.10:PORT --out r.json

Signs in as the demo user, makes one call (web/diagnostics/probe_rtc.py), and writes the measured values plus the
media-path and round-trip verdicts (English) as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from tests.media_fixtures.netsim_browser import wait_up
from web.diagnostics import probe_http, probe_rtc, rules_call
from web.diagnostics.values import Values


async def run(url: str) -> dict[str, Any]:
    await wait_up(url)
    async with probe_http.client(url) as http:
        assert await probe_http.sign_in(http, "betty@123.com", "Betty@123.com") == 200
        csrf = await probe_http.csrf_token(http, "/diagnostics")
        config = await probe_http.rtc_config(http) or {}
        started = time.monotonic()
        measured = await probe_rtc.run_call(http, csrf, mode=str(config.get("mode") or ""), ice=config,
                                            quality_seconds=1)
        elapsed_ms = round((time.monotonic() - started) * 1000)
    media = rules_call.media_path(Values(measured.media_path))
    echo = rules_call.echo(Values(measured.echo))
    return {"media_path": measured.media_path, "echo": measured.echo, "elapsed_ms": elapsed_ms,
            "media_status": media.status, "media_value": media.value.render("en") if media.value else "",
            "media_fixes": [f.render("en") for f in media.fixes], "echo_status": echo.status}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    try:
        result = asyncio.run(run(args.url))
    except Exception as exc:  # noqa: BLE001 - reported to the test, which fails with it
        result = {"error": f"{type(exc).__name__}: {exc}"}
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
