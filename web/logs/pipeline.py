"""The non-blocking log path: loguru sink → bounded queue.Queue → one writer thread → output.

The sink runs in the logging caller's thread (often the event loop). It formats and redacts (CPU only), appends to the
in-memory ring, and does `put_nowait`; when the queue is full the line is dropped and counted. Nothing on that path
waits for I/O, so a stalled stderr pipe or a slow log shipper can never stall requests (predecessor bug #2; loguru's
`enqueue=True` still blocks once its OS pipe fills, see reliability.md G1).
"""

from __future__ import annotations

import asyncio
import queue
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from web.logs.format import build_entry, to_human_line, to_json_line
from web.logs.ring import RecordRing, TimeBound

Writer = Callable[[str], None]


def stderr_writer(line: str) -> None:
    stream = sys.stderr
    if stream is not None:
        stream.write(line)
        stream.flush()


@dataclass(frozen=True, slots=True)
class LogStats:
    depth: int
    capacity: int
    dropped: int
    written: int
    write_errors: int
    writer_alive: bool


class LogPipeline:
    def __init__(
        self, *, capacity: int, writer: Writer = stderr_writer, json_lines: bool, ring_size: int = 5000
    ) -> None:
        self.capacity = max(1, capacity)
        self.json_lines = json_lines
        self.ring = RecordRing(ring_size)
        self.handler_id: int | None = None
        self._queue: queue.Queue[str] = queue.Queue(maxsize=self.capacity)
        self._writer = writer
        # Counters are only incremented inside sink() (serialised by loguru's per-handler lock) or by the single
        # writer thread, so plain ints are safe without a lock of our own.
        self._dropped = 0
        self._reentrant = 0
        self._written = 0
        self._write_errors = 0
        self._closed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)

    # -- request path -------------------------------------------------------------------------------------------
    def sink(self, message: Any) -> None:
        """loguru sink. Never blocks, never logs (logging is not reentrant: reliability.md G5)."""
        if self._closed:
            self._dropped += 1
            return
        if threading.current_thread() is self._thread:
            # A record emitted by the writer itself (e.g. a writer that logs) would loop forever: drop it.
            self._reentrant += 1
            self._dropped += 1
            return
        record = message.record
        try:
            entry = build_entry(record, str(message))
            line = to_json_line(entry) if self.json_lines else to_human_line(entry)
        except Exception as exc:  # formatting must never raise into the caller
            entry = {"time": None, "level": "ERROR", "message": f"log formatting failed: {type(exc).__name__}"}
            line = to_json_line(entry)
        self.ring.append(record["time"].timestamp(), entry)
        try:
            self._queue.put_nowait(line)
        except queue.Full:
            self._dropped += 1

    # -- writer thread ------------------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                line = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            try:
                self._writer(line)
                self._written += 1
            except Exception:
                # Counted, not logged: logging from here would feed this very queue.
                self._write_errors += 1

    # -- observation --------------------------------------------------------------------------------------------
    @property
    def dropped(self) -> int:
        return self._dropped

    @property
    def reentrant_dropped(self) -> int:
        return self._reentrant

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    def stats(self) -> LogStats:
        return LogStats(
            depth=self._queue.qsize(),
            capacity=self.capacity,
            dropped=self._dropped,
            written=self._written,
            write_errors=self._write_errors,
            writer_alive=self._thread.is_alive(),
        )

    def recent_records(
        self,
        since: TimeBound = None,
        until: TimeBound = None,
        user_id: str | int | None = None,
        request_id: str | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        return self.ring.query(since, until, user_id=user_id, request_id=request_id, limit=limit)

    # -- shutdown -----------------------------------------------------------------------------------------------
    def close(self, timeout: float = 5.0) -> bool:
        """Detach from loguru, let the writer drain what is queued, wait at most `timeout` s. True if fully flushed.

        Blocking: call it from a thread (see `aclose`), never on the event loop."""
        from loguru import logger  # local: keeps this module importable without touching loguru's global state

        if self.handler_id is not None:
            try:
                logger.remove(self.handler_id)
            except ValueError:
                pass  # already removed (e.g. by a later setup_logging)
            self.handler_id = None
        self._closed = True
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive() and self._queue.empty()

    async def aclose(self, timeout: float = 5.0) -> bool:
        """Lifespan helper: `close()` in a worker thread, bounded by `timeout` on the loop side too."""
        try:
            return await asyncio.wait_for(asyncio.to_thread(self.close, timeout), timeout + 1.0)
        except TimeoutError:
            return False
