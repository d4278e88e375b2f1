"""`python -m web users …` against a real database file, as an operator would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _run(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY", "APP_ENV"}}
    env.update(DATA_DIR=str(tmp_path), APP_ENV="test", PASSWORD_HASH_TIME_COST="1", PASSWORD_HASH_MEMORY_KIB="8192",
               PASSWORD_HASH_PARALLELISM="1")
    return subprocess.run([sys.executable, "-m", "web", *args], input=stdin, capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=60)


@pytest.mark.slow
def test_user_lifecycle_from_the_command_line(tmp_path: Path) -> None:
    added = _run(tmp_path, "users", "add", "ops@example.com", "--name", "Ops", stdin="a-strong-password-1\n")
    assert added.returncode == 0, added.stderr
    assert "created user ops@example.com" in added.stdout
    listed = _run(tmp_path, "users", "list")
    assert "ops@example.com" in listed.stdout and "user" in listed.stdout and "active" in listed.stdout
    assert _run(tmp_path, "users", "promote", "ops@example.com").returncode == 0
    assert "admin" in _run(tmp_path, "users", "list").stdout
    disabled = _run(tmp_path, "users", "disable", "ops@example.com")
    assert disabled.returncode == 0 and "disabled" in _run(tmp_path, "users", "list").stdout
    assert _run(tmp_path, "users", "enable", "ops@example.com").returncode == 0
    changed = _run(tmp_path, "users", "set-password", "ops@example.com", "--password", "another-strong-pw")
    assert changed.returncode == 0 and "password changed" in changed.stdout


@pytest.mark.slow
def test_errors_are_clear_and_exit_non_zero(tmp_path: Path) -> None:
    missing = _run(tmp_path, "users", "disable", "ghost@example.com")
    assert missing.returncode == 1 and "no user with email ghost@example.com" in missing.stderr
    weak = _run(tmp_path, "users", "add", "weak@example.com", "--password", "short")
    assert weak.returncode == 1 and "at least 8 characters" in weak.stderr
    bad = _run(tmp_path, "users", "add", "not-an-email", "--password", "long-enough-pw")
    assert bad.returncode == 1 and "valid email" in bad.stderr
    _run(tmp_path, "users", "add", "dup@example.com", "--password", "long-enough-pw")
    dup = _run(tmp_path, "users", "add", "dup@example.com", "--password", "long-enough-pw")
    assert dup.returncode == 1 and "already exists" in dup.stderr


@pytest.mark.slow
def test_production_refuses_to_start_without_a_strong_secret(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update(DATA_DIR=str(tmp_path), APP_ENV="production", SECRET_KEY="short")
    result = subprocess.run([sys.executable, "-m", "web", "serve", "--port", "0"], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=60)
    assert result.returncode != 0
    assert "strong SECRET_KEY" in result.stderr
