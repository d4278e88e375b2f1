"""Shared pieces of the WebSocket benchmarks: the app and the fake upstream each in their own process (so the server
measured shares its event loop with nothing else), a device token, test speech, and the machine description.

The app runs under uvicorn with the real `web.app:create_app` factory.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from tests.support import free_port

ROOT = Path(__file__).resolve().parents[1]
_APP_VARS = ("AZURE_OPENAI_", "OPENAI_", "REALTIME_", "RTC_", "MAX_CALLS_", "LOG_", "DATABASE_URL", "SECRET_KEY")


@dataclass
class Stack:
    app: subprocess.Popen[bytes]
    fake: subprocess.Popen[bytes]
    http_url: str

    @property
    def ws_url(self) -> str:
        return self.http_url.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime"


@contextlib.contextmanager
def stack(workdir: Path, **env: str) -> Iterator[Stack]:
    """The fake Azure (answers at once, 600 ms reply tone) and the app pointed at it, each a child process."""
    workdir.mkdir(parents=True, exist_ok=True)
    fake = subprocess.Popen([sys.executable, "-m", "tests.fake_realtime", "--port", "0"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    app: subprocess.Popen[bytes] | None = None
    try:
        assert fake.stdout is not None
        ready = fake.stdout.readline().decode()
        assert ready.startswith("FAKE_REALTIME_READY"), ready
        port = free_port()
        child_env = {k: v for k, v in os.environ.items() if not k.startswith(_APP_VARS)}
        child_env.update(APP_ENV="test", DATA_DIR=str(workdir / "data"), LOG_LEVEL="WARNING",
                         PASSWORD_HASH_TIME_COST="1", PASSWORD_HASH_MEMORY_KIB="8192", PASSWORD_HASH_PARALLELISM="1",
                         REALTIME_UPSTREAM="azure", AZURE_OPENAI_REALTIME_ENDPOINT=ready.split()[1],
                         AZURE_OPENAI_REALTIME_API_KEY="test-key", AZURE_OPENAI_REALTIME_DEPLOYMENT_NAME="gpt-realtime",
                         RTC_HOST_ADDRESSES="127.0.0.1", MAX_CALLS_PER_USER="200", MAX_CALLS_PER_PROCESS="200", **env)
        log = open(workdir / "app.log", "wb")  # noqa: SIM115 - the child owns it
        app = subprocess.Popen([sys.executable, "-m", "uvicorn", "web.app:create_app", "--factory",
                                "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                                "--ws-max-size", str(16 * 1024 * 1024)],
                               cwd=ROOT, env=child_env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            if app.poll() is not None or time.monotonic() > deadline:
                tail = (workdir / "app.log").read_text(errors="replace")[-2000:]
                raise RuntimeError("the app did not start: " + tail)
            time.sleep(0.1)
        yield Stack(app, fake, url)
    finally:
        for process in (app, fake):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()


async def device_token(http_url: str) -> str:
    """Sign in as the demo user and create a device token on the account page, as a user would."""
    async with httpx.AsyncClient(base_url=http_url, headers={"Origin": http_url}) as http:
        page = await http.get("/login")
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
        assert csrf
        await http.post("/login", data={"email": "betty@123.com", "password": "Betty@123.com",
                                        "csrf_token": csrf.group(1), "next": "/"})
        page = await http.get("/account/tokens")
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
        assert csrf
        made = await http.post("/account/tokens", data={"csrf_token": csrf.group(1), "name": "bench",
                                                         "expires_in_days": ""})
    token = re.search(r'data-testid="new-token">([^<]+)<', made.text)
    assert token, made.text[:300]
    return token.group(1)


def speech(rate: int, ms: int, level: float = 0.2) -> np.ndarray:
    """A voiced-sounding signal (harmonics, syllable envelope) well above the fake's -40 dBFS VAD threshold."""
    t = np.arange(rate * ms // 1000) / rate
    wave = (np.sin(2 * np.pi * 220 * t) + 0.5 * np.sin(2 * np.pi * 440 * t)) / 1.5
    return (wave * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) * level * 32767).astype(np.int16)


def rms(pcm: bytes | np.ndarray) -> float:
    samples = np.frombuffer(pcm, dtype="<i2") if isinstance(pcm, bytes) else pcm
    return float(np.sqrt(np.mean((samples.astype(np.float64) / 32768) ** 2))) if len(samples) else 0.0


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError, StopIteration):
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next(ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name"))
    return {"cpu": model or platform.processor(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "load_avg_1m_at_start": round(os.getloadavg()[0], 2)}  # other work on the machine skews the numbers
