"""Serving the app: uvicorn in one process, or `WEB_CONCURRENCY` worker processes on one port, each draining on SIGTERM.

Every deployment file runs `python -m web serve`, which calls `serve()`:
- one worker: a `DrainingServer` in this process;
- several: this process binds the port once and supervises that many spawned workers, each a `DrainingServer` on the
  shared socket (the kernel spreads the connections). A worker that dies is replaced; SIGTERM or SIGINT is passed to
  every worker, and the supervisor exits when they all have.

`DrainingServer` is uvicorn's server with one change: the first SIGTERM does not stop it at once. It calls the app's
drain (`app.state.drain`, web/cluster/drain.py: readiness 503, no new calls, up to `DRAIN_TIMEOUT_S` for the live
ones) while it goes on serving, and only then lets uvicorn shut down. A second signal, or SIGINT, stops it at once.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

import uvicorn

from web.server_protocol import HTTP_PROTOCOL, LIMIT_CONCURRENCY, TIMEOUT_KEEP_ALIVE_S
from web.settings import Settings

STARTUP_FAILURE = 3  # uvicorn's exit code when the app's start-up failed: restarting would fail the same way
RESTART_BACKOFF_S = 1.0
EXTRA_SHUTDOWN_S = 10.0  # uvicorn's own graceful shutdown after the drain (open HTTP requests, WebSocket close)


class WorkerCountError(ValueError):
    """The settings ask for more processes than the database can serve."""


def worker_count(settings: Settings) -> int:
    """`WEB_CONCURRENCY`, or by default one worker per core with PostgreSQL and one with SQLite."""
    postgres = settings.effective_database_url.startswith(("postgres://", "postgresql://"))
    wanted = settings.web_concurrency or ((os.cpu_count() or 1) if postgres else 1)
    if wanted > 1 and not postgres:
        raise WorkerCountError(
            f"WEB_CONCURRENCY={wanted} needs PostgreSQL: more than one process shares the live calls, the per-user "
            "limits and the sign-in throttle through the database, and SQLite cannot be shared. Set DATABASE_URL="
            "postgresql://… or WEB_CONCURRENCY=1.")
    return max(1, wanted)


def uvicorn_config(settings: Settings, host: str, port: int, workers: int) -> uvicorn.Config:
    return uvicorn.Config(
        "web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        log_config=None,  # the app routes uvicorn's logging into its own non-blocking pipeline
        access_log=False,  # one access record per request comes from the app's request-context middleware
        timeout_graceful_shutdown=int(EXTRA_SHUTDOWN_S),
        # headers within 10 s, a connection cap per process, idle keep-alive 5 s
        http=HTTP_PROTOCOL,
        limit_concurrency=LIMIT_CONCURRENCY,
        timeout_keep_alive=TIMEOUT_KEEP_ALIVE_S,
        ws_max_size=16 * 1024 * 1024,
        # Notice a vanished WebSocket client within ~10 s (uvicorn's default is 20 s + 20 s).
        ws_ping_interval=5.0,
        ws_ping_timeout=5.0,
        lifespan="on",
    )


def _find_drain(asgi: Any) -> Callable[[], Awaitable[None]] | None:
    """`app.state.drain` of the Starlette app inside uvicorn's middleware wrappers."""
    for _ in range(10):
        state = getattr(asgi, "state", None)
        drain = getattr(state, "drain", None) if state is not None else None
        if callable(drain):
            return drain
        asgi = getattr(asgi, "app", None)
        if asgi is None:
            return None
    return None


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._draining = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig != signal.SIGTERM or self._draining or not self.started:
            super().handle_exit(sig, frame)
            return
        drain = _find_drain(getattr(self.config, "loaded_app", None))
        loop = self._loop
        if drain is None or loop is None:
            super().handle_exit(sig, frame)
            return
        self._draining = True
        loop.call_soon_threadsafe(lambda: self._tasks.add(loop.create_task(self._drain_then_exit(drain, sig))))

    async def _drain_then_exit(self, drain: Callable[[], Awaitable[None]], sig: int) -> None:
        try:
            await drain()
        finally:
            super().handle_exit(sig, None)


def _run_worker(config: uvicorn.Config, sock: socket.socket) -> None:
    DrainingServer(config).run(sockets=[sock])


class Supervisor:
    """Keeps `count` spawned workers serving `sock`, and passes the stop signals on."""

    def __init__(self, config: uvicorn.Config, sock: socket.socket, count: int) -> None:
        self.config, self.sock, self.count = config, sock, count
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[BaseProcess] = []
        self.stopping = False
        self.exit_code = 0

    def _start_one(self) -> BaseProcess:
        process = self.context.Process(target=_run_worker, args=(self.config, self.sock), name="web-worker")
        process.start()
        return process

    def _signal(self, sig: int, frame: FrameType | None) -> None:
        self.stopping = True
        for process in self.workers:
            if process.pid is not None and process.exitcode is None:
                os.kill(process.pid, sig)

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._signal)
        self.workers = [self._start_one() for _ in range(self.count)]
        print(f"supervisor {os.getpid()}: {self.count} workers", file=sys.stderr, flush=True)
        while not self.stopping:
            time.sleep(0.5)
            for index, process in enumerate(self.workers):
                if process.exitcode is None or self.stopping:
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    print(f"worker {process.pid} failed to start; stopping", file=sys.stderr, flush=True)
                    self.exit_code = 1
                    self._signal(signal.SIGTERM, None)
                    break
                print(f"worker {process.pid} exited ({process.exitcode}); starting another", file=sys.stderr,
                      flush=True)
                time.sleep(RESTART_BACKOFF_S)
                self.workers[index] = self._start_one()
        for process in self.workers:
            process.join()
        return self.exit_code


def serve(settings: Settings, host: str, port: int) -> int:
    workers = worker_count(settings)
    config = uvicorn_config(settings, host, port, workers)
    if workers == 1:
        DrainingServer(config).run()
        return 0
    sock = config.bind_socket()
    try:
        return Supervisor(config, sock, workers).run()
    finally:
        sock.close()
