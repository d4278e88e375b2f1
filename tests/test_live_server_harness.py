"""The live-server harness itself: it starts the real app, captures its output, stops it cleanly, keeps the developer's
settings out of the child, and reports a failed start with the server's own words."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from tests.support.live_server import LiveServerError, child_environment, run_live_server

pytestmark = pytest.mark.slow


def test_starts_serves_health_captures_output_and_stops(tmp_path: Path) -> None:
    with run_live_server(tmp_path) as server:
        assert httpx.get(server.url("/health")).json() == {"status": "ok"}
        assert server.data_dir.is_dir() and server.data_dir.parent == tmp_path
        assert server.log_text().strip(), "the server's output is captured"
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it: -SIGTERM, not the harness's fallback SIGKILL
    assert server.process.returncode in {0, -signal.SIGTERM}, server.log_tail()


def test_inherited_app_settings_do_not_reach_the_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_REALTIME_API_KEY", "from-the-developer-shell")
    monkeypatch.setenv("DATABASE_URL", "postgresql://elsewhere/db")
    monkeypatch.setenv("OIDC_ENTRA_CLIENT_SECRET", "from-the-developer-shell")
    env = child_environment(tmp_path, {"LOG_LEVEL": "DEBUG"})
    assert not {"AZURE_OPENAI_REALTIME_API_KEY", "DATABASE_URL", "OIDC_ENTRA_CLIENT_SECRET"} & set(env)
    assert env["APP_ENV"] == "test" and env["DATA_DIR"] == str(tmp_path) and env["LOG_LEVEL"] == "DEBUG"
    assert env["PASSWORD_HASH_MEMORY_KIB"] == "8192"


def test_failed_start_reports_the_server_output(tmp_path: Path) -> None:
    with pytest.raises(LiveServerError, match="SECRET_KEY"), run_live_server(tmp_path, {"APP_ENV": "production"}):
        pass
