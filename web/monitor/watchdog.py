"""Liveness: a loop task stamps a heartbeat; a plain thread kills the process when the stamp gets too old.

uvicorn's supervisor pings workers from a thread, so it cannot see a frozen event loop (reliability.md §0.6, C5).
The watchdog does not go through the log queue (its writer may be what is stuck): it writes straight to fd 2,
dumps every thread's stack with faulthandler, then calls `os._exit(70)`
(EX_SOFTWARE) so the platform restarts the process. Caveat: C code that holds the GIL without releasing it would
also stop this thread; Python-level blocking (sleep, locks, I/O, busy loops) does not.
"""

from __future__ import annotations

import asyncio
import faulthandler
import os
import threading
import time
from collections.abc import Callable

EXIT_CODE = 70
BACKSTOP_S = 3.0

StallHandler = Callable[[float], None]


class Heartbeat:
    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self.last = time.monotonic()  # a float store is atomic; the watchdog thread only reads it

    async def run(self) -> None:
        while True:
            self.last = time.monotonic()
            await asyncio.sleep(self.period_s)


def die_with_stacks(stalled_for_s: float) -> None:
    # If fd 2 is a pipe nobody reads (the very stall we may be diagnosing), the writes below block; a backstop
    # thread still ends the process so the platform can restart it.
    backstop = threading.Timer(BACKSTOP_S, os._exit, args=(EXIT_CODE,))
    backstop.daemon = True
    backstop.start()
    message = (
        f"watchdog: event loop has not ticked for {stalled_for_s:.1f}s; "
        f"dumping all thread stacks and exiting with status {EXIT_CODE} (pid {os.getpid()})\n"
    )
    try:
        os.write(2, message.encode())
        # faulthandler prints thread ids only; this line maps them to names (log-writer, db_0, …).
        names = ", ".join(f"0x{t.ident or 0:016x}={t.name}" for t in threading.enumerate())
        os.write(2, f"watchdog: threads: {names}\n".encode())
        faulthandler.dump_traceback(file=2, all_threads=True)
        os.write(2, b"watchdog: exiting\n")
    finally:
        os._exit(EXIT_CODE)


class Watchdog:
    def __init__(
        self,
        heartbeat: Heartbeat,
        timeout_s: float,
        on_stall: StallHandler = die_with_stacks,
        check_period_s: float | None = None,
    ) -> None:
        self.heartbeat = heartbeat
        self.timeout_s = timeout_s
        self.on_stall = on_stall
        self.check_period_s = check_period_s or min(1.0, max(0.05, timeout_s / 4))
        self.fired = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self.heartbeat.last = time.monotonic()  # start counting from now, not from construction
        self._thread = threading.Thread(target=self._run, name="loop-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)

    def _run(self) -> None:
        while not self._stop.wait(self.check_period_s):
            stalled_for = time.monotonic() - self.heartbeat.last
            if stalled_for > self.timeout_s:
                self.fired = True
                self.on_stall(stalled_for)
                return
