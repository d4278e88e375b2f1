"""Run the real app in a subprocess (`python -m web serve`) for tests whose point is real I/O.

    with run_live_server(tmp_path, {"SESSION_IDLE_TIMEOUT_S": "5"}) as server:
        httpx.get(server.url("/health"))
        assert "Application startup complete" in server.log_text()

Or through the `live_server_factory` fixture (import it into a conftest), which stops every server at teardown.

The child's stdout and stderr go to a file, never a pipe: a pipe nobody drains fills up and then blocks the server's
logging, which is exactly the class of hang these tests hunt for. The child starts in its own data directory with an
environment stripped of every app setting inherited from the developer's shell (so a local .env, SECRET_KEY or Azure
key can never leak into a test or send traffic off the machine), then the test defaults, then the caller's overrides.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx
import pytest

from tests.support import free_port
from web.settings import Settings

STARTUP_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
_POLL_S = 0.05
_START_ATTEMPTS = 3

# Cheap argon2 parameters: the production ones cost ~250 ms per hash on a 2-core machine.
TEST_ENV: dict[str, str] = {
    "APP_ENV": "test",
    "LOG_LEVEL": "INFO",
    "PASSWORD_HASH_TIME_COST": "1",
    "PASSWORD_HASH_MEMORY_KIB": "8192",
    "PASSWORD_HASH_PARALLELISM": "1",
    "DRAIN_TIMEOUT_S": "3",  # a server stopped with live calls ends them after 3 s, inside STOP_TIMEOUT_S
}

# Variables the app reads besides the Settings fields; inherited values are dropped so every run starts clean.
_EXTRA_APP_VARS = {"APP_PORT", "DATABASE_URL", "SECRET_KEY", "PORT", "FORWARDED_ALLOW_IPS"}
# Families whose names are not all Settings fields (per-provider OIDC_<NAME>_* variables, upstream credentials).
_APP_PREFIXES = ("OIDC_", "AZURE_OPENAI_", "OPENAI_")


class LiveServerError(RuntimeError):
    """The server did not come up; the message carries the tail of its output."""


def app_env_names() -> set[str]:
    return {spec.name.upper() for spec in dataclasses.fields(Settings)} | _EXTRA_APP_VARS


def child_environment(data_dir: Path, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    names = app_env_names()
    env = {
        key: value for key, value in os.environ.items() if key not in names and not key.startswith(_APP_PREFIXES)
    }
    env.update(TEST_ENV)
    env["DATA_DIR"] = str(data_dir)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides or {})
    return env


@dataclass
class LiveServer:
    base_url: str
    port: int
    process: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def log_text(self) -> str:
        """Everything the server printed so far (stdout and stderr interleaved)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_for_log(self, needle: str, timeout: float = 5.0) -> str:
        """Wait until `needle` appears in the output; return the output. Polls: a file has no event to await."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_text()
            if needle in text:
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} not in server output after {timeout} s:\n{self.log_tail()}")
            time.sleep(_POLL_S)

    def stop(self) -> int:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT_S; return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def _wait_healthy(server: LiveServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while True:
            if server.process.poll() is not None:
                raise LiveServerError(
                    f"server exited with {server.process.returncode} before /health answered:\n{server.log_tail()}"
                )
            try:
                response = client.get(server.url("/health"))
                if response.status_code == 200:
                    return
            except httpx.TransportError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise LiveServerError(f"/health did not answer 200 within {timeout} s:\n{server.log_tail()}")
            time.sleep(_POLL_S)


def _spawn(tmp_dir: Path, data_dir: Path, env: Mapping[str, str] | None, extra_args: tuple[str, ...],
           uvicorn_args: tuple[str, ...] | None) -> LiveServer:
    port = free_port()
    log_path = tmp_dir / f"server-{port}.log"
    argv = [sys.executable, "-m", "web", "serve", "--host", "127.0.0.1", "--port", str(port), *extra_args]
    if uvicorn_args is not None:  # uvicorn's own command line, as a Procfile runs it, with the caller's options
        argv = [sys.executable, "-m", "uvicorn", "--factory", "web.app:create_app", "--host", "127.0.0.1",
                "--port", str(port), *uvicorn_args]
    with open(log_path, "wb") as log_file:
        # cwd is the temp dir, so the app never reads the developer's .env in the repository
        process = subprocess.Popen(
            argv,
            cwd=tmp_dir,
            env=child_environment(data_dir, env),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return LiveServer(f"http://127.0.0.1:{port}", port, process, data_dir, log_path)


@contextmanager
def run_live_server(
    tmp_dir: Path,
    env: Mapping[str, str] | None = None,
    *,
    extra_args: tuple[str, ...] = (),
    startup_timeout: float = STARTUP_TIMEOUT_S,
    uvicorn_args: tuple[str, ...] | None = None,
) -> Iterator[LiveServer]:
    """Start `python -m web serve` on a free loopback port with DATA_DIR under `tmp_dir`; stop it on exit.
    With `uvicorn_args`, start `python -m uvicorn --factory web.app:create_app` with those options instead."""
    data_dir = tmp_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, _START_ATTEMPTS + 1):
        server = _spawn(tmp_dir, data_dir, env, extra_args, uvicorn_args)
        try:
            _wait_healthy(server, startup_timeout)
            break
        except LiveServerError as exc:
            server.stop()
            # another process took the free port between our probe and uvicorn's bind: try a new one
            if "address already in use" not in str(exc).lower() or attempt == _START_ATTEMPTS:
                raise
    try:
        yield server
    finally:
        server.stop()


class LiveServerFactory(Protocol):
    def __call__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        extra_args: tuple[str, ...] = (),
        startup_timeout: float = STARTUP_TIMEOUT_S,
        uvicorn_args: tuple[str, ...] | None = None,
    ) -> LiveServer: ...


@pytest.fixture
def live_server_factory(tmp_path: Path) -> Iterator[LiveServerFactory]:
    """`live_server_factory({"ENV": "value"}, extra_args=(...))` starts a server; all are stopped at teardown."""
    with ExitStack() as stack:
        count = 0

        def start(
            env: Mapping[str, str] | None = None,
            *,
            extra_args: tuple[str, ...] = (),
            startup_timeout: float = STARTUP_TIMEOUT_S,
            uvicorn_args: tuple[str, ...] | None = None,
        ) -> LiveServer:
            nonlocal count
            count += 1
            directory = tmp_path / f"server{count}"
            directory.mkdir()
            return stack.enter_context(
                run_live_server(directory, env, extra_args=extra_args, startup_timeout=startup_timeout,
                                uvicorn_args=uvicorn_args)
            )

        yield start
