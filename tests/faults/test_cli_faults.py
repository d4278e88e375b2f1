"""The fault matrix in the terminal: `python -m web diagnose URL --json` against the real app under uvicorn with
one real fault at a time, each row with a verdict, the owning row naming the cause, the summary naming it first;
and a server whose answers break (reset, garbage) never crashes the CLI: a failed row, JSON, exit 1."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_diagnostics_page import serve
from tests.faults.matrix import UPSTREAM_FAULTS, Fault, check_verdicts, upstream
from tests.test_diagnostics_cli import DEMO, diagnose
from web.diagnostics.catalog import BY_ID
from web.i18n import translate

pytestmark = pytest.mark.slow
NAMED_WITHIN_S = 15.0  # the whole CLI run, start to JSON


def cli_rows(output: str) -> tuple[dict[str, dict[str, Any]], str]:
    report = json.loads(output[output.index("{"):])
    rows = {c["check"]: {"status": c["status"], "text": " ".join([c.get("value") or "", *c.get("fixes", [])]),
                         "deferred_to": (c.get("data") or {}).get("deferred_to")} for c in report["checks"]}
    return rows, str(report["summary"])


@pytest.mark.parametrize("fault", UPSTREAM_FAULTS, ids=lambda f: f.name)
async def test_cli_names_the_upstream_fault(fault: Fault, tmp_path: Path) -> None:
    async with upstream(fault) as overrides, serve(tmp_path, **overrides) as (url, _app):
        started = asyncio.get_running_loop().time()
        code, output = await diagnose(tmp_path, url, *DEMO, "--json", "--seconds", "1", "--lang", "en",
                                      "--no-report")
        elapsed = asyncio.get_running_loop().time() - started
    rows, summary = cli_rows(output)
    check_verdicts(fault, rows, summary, translate(BY_ID[fault.owner].title, "en"))
    assert code == (1 if fault.status == "fail" else 0), output
    assert elapsed < NAMED_WITHIN_S, (fault.name, elapsed)  # a dropped call ends the round trip at once
    print(f"[faults] cli {fault.name}: {fault.owner} {rows[fault.owner]['status']} in {elapsed:.1f} s")


async def _broken_server(answer: bytes | None) -> tuple[asyncio.Server, str]:
    """An HTTP server on loopback that answers /health with 200 and every other request with `answer` (None:
    reset the connection)."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if head.startswith(b"GET /health "):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        elif answer is not None:
            writer.write(answer)
        else:
            writer.transport.abort()
            return
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


@pytest.mark.parametrize("answer", [None, b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 5\r\n\r\noops!",
                                    b"\x00\xffgarbage that is not HTTP\r\n\r\n"], ids=["reset", "5xx", "garbage"])
async def test_cli_never_crashes_on_a_broken_server_answer(answer: bytes | None, tmp_path: Path) -> None:
    server, url = await _broken_server(answer)
    async with server:
        code, output = await diagnose(tmp_path, url, *DEMO, "--json", "--lang", "en")
    assert code == 1 and "Traceback" not in output, output
    rows, summary = cli_rows(output)
    failed = [k for k, r in rows.items() if r["status"] == "fail"]
    assert failed, output
    first = rows[failed[0]]
    assert "server" in first["text"].lower(), first
    assert all(r["status"] in ("pass", "warn", "fail", "skip") for r in rows.values())
    assert "First cause" in summary, summary
