"""How many processes `python -m web serve` starts, and its refusal to share SQLite between processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.live_server import child_environment
from web.serve import WorkerCountError, worker_count
from web.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_sqlite_runs_one_process_by_default_and_postgres_one_per_core() -> None:
    assert worker_count(Settings()) == 1
    postgres = Settings(database_url="postgresql://app@db:5432/app")
    assert worker_count(postgres) == (os.cpu_count() or 1)
    assert worker_count(Settings(database_url="postgresql://app@db/app", web_concurrency=3)) == 3


def test_more_than_one_process_on_sqlite_is_refused_with_what_to_set() -> None:
    with pytest.raises(WorkerCountError, match="DATABASE_URL=postgresql"):
        worker_count(Settings(web_concurrency=2))


def test_the_server_says_so_at_start_up_and_exits(tmp_path: Path) -> None:
    env = child_environment(tmp_path, {"WEB_CONCURRENCY": "2"})
    result = subprocess.run([sys.executable, "-m", "web", "serve"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2
    assert "WEB_CONCURRENCY=2 needs PostgreSQL" in result.stderr and "WEB_CONCURRENCY=1" in result.stderr
