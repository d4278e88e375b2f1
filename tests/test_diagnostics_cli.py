"""`python -m web diagnose` against a running server (the real app under uvicorn, loopback only): exit 0 when healthy;
non-zero, naming the right check, when the upstream rejects the key, the server is down or the password is wrong."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_diagnostics_page import serve
from tests.fake_realtime import FakeOptions, FakeRealtimeServer
from tests.support import free_port
from tests.support.live_server import child_environment
from web.diagnostics.report_id import normalize_report_id
from web.diagnostics.store import ReportStore

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
DEMO = ("--email", "betty@123.com", "--password", "Betty@123.com")


async def diagnose(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "web", "diagnose", *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, env=child_environment(tmp_path / "cli-data", env))
    output, _ = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode is not None
    return process.returncode, output.decode()


def by_check(output: str) -> dict[str, dict[str, Any]]:
    report = json.loads(output[output.index("{"):])
    return {c["check"]: c for c in report["checks"]} | {"_report": report}


async def test_healthy_server_exits_zero_and_saves_the_run(tmp_path: Path) -> None:
    async with serve(tmp_path) as (url, app):
        code, output = await diagnose(tmp_path, url, *DEMO, "--json", "--seconds", "2")
        checks = by_check(output)
        report = checks.pop("_report")
        statuses = {name: c["status"] for name, c in checks.items()}
        ready = getattr(app.state, "monitoring", None) is not None  # app.py wires the monitor (or not yet)
        assert statuses.pop("readiness") == ("pass" if ready else "fail"), output
        assert set(statuses) >= {"server_health", "session", "upstream", "signalling", "media_path", "echo", "rtt",
                                 "jitter", "packet_loss", "mos", "server_view", "websocket"}
        assert all(s == "pass" for s in statuses.values()), output
        assert code == (0 if ready else 1)
        assert checks["echo"]["data"]["heard"] is True and checks["echo"]["data"]["delay_ms"] < 2000
        saved = await ReportStore(app.state.db).get(normalize_report_id(report["report_id"]) or "")
        assert saved is not None and saved.source == "cli"
        assert {r.check_id for r in saved.results} >= {"server_health", "upstream", "echo", "server_view"}


async def test_rejected_key_fails_the_upstream_check_and_names_the_key(tmp_path: Path) -> None:
    async with FakeRealtimeServer(FakeOptions(reject_status=401)) as fake, \
            serve(tmp_path, **fake.settings_overrides("azure")) as (url, _app):
        code, output = await diagnose(tmp_path, url, *DEMO, "--seconds", "1", "--lang", "en", "--no-report")
    assert code == 1, output
    upstream = next(line for i, line in enumerate(output.splitlines()) if "(upstream)" in line)
    assert upstream.startswith("❌") and "key_rejected" in upstream, output
    assert "AZURE_OPENAI_REALTIME_API_KEY" in output.split("(upstream)", 1)[1].split("\n(", 1)[0]


async def test_server_down_fails_the_health_check(tmp_path: Path) -> None:
    code, output = await diagnose(tmp_path, f"http://127.0.0.1:{free_port()}", *DEMO, "--json")
    checks = by_check(output)
    assert code == 1
    assert checks["server_health"]["status"] == "fail" and "systemctl" in checks["server_health"]["fixes"][0]
    assert checks["upstream"]["status"] == "skip"


async def test_wrong_password_fails_the_sign_in_check(tmp_path: Path) -> None:
    async with serve(tmp_path) as (url, _app):
        code, output = await diagnose(tmp_path, url, "--email", "betty@123.com", "--password", "wrong-password",
                                      "--lang", "zh-CN", "--json", "--no-report")
    checks = by_check(output)
    assert code == 1
    assert checks["session"]["status"] == "fail" and checks["session"]["value"] == "登录失败（HTTP 401）"
    assert checks["upstream"]["status"] == "skip" and checks["signalling"]["status"] == "skip"


async def test_local_checks_on_the_server_host(tmp_path: Path) -> None:
    async with serve(tmp_path) as (url, _app):
        env = {"REALTIME_UPSTREAM": "echo", "DATA_DIR": str(tmp_path / "local-data")}
        code, output = await diagnose(tmp_path, "--local", "--json", env={**env, "PORT": url.rsplit(":", 1)[1]})
    checks = by_check(output)
    assert checks["database"]["status"] == "pass" and checks["upstream_config"]["status"] == "pass"
    assert checks["event_loop"]["status"] in ("pass", "skip") and checks["log_queue"]["status"] in ("pass", "skip")
    assert code == 0, output


async def test_usage_error_exits_two(tmp_path: Path) -> None:
    code, output = await diagnose(tmp_path)
    assert code == 2 and "URL" in output


async def test_the_one_click_script_wraps_the_cli(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "diagnose-connection.sh"
    process = await asyncio.create_subprocess_exec(
        "bash", str(script), f"http://127.0.0.1:{free_port()}", "--no-report", "--lang", "en",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env=child_environment(tmp_path / "script-data"))
    output = (await asyncio.wait_for(process.communicate(), 60))[0].decode()
    assert process.returncode == 1, output
    assert output.splitlines()[1].startswith("❌ Server reachable (server_health)"), output
