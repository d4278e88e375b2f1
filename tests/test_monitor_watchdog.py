"""C5: a stalled event loop is detected by a thread, which dumps every stack and exits non-zero."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from web.monitor.watchdog import EXIT_CODE, Heartbeat, Watchdog

ROOT = Path(__file__).resolve().parents[1]

BLOCKED_LOOP_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, time
    from web.monitor import Monitoring
    from web.settings import Settings

    def block_the_loop_forever():
        time.sleep(float(sys.argv[1]))  # a synchronous call inside async code: the loop cannot tick

    async def main():
        monitoring = Monitoring(Settings(watchdog_timeout_s=1.0, monitor_interval_s=0.05))
        await monitoring.start()
        await asyncio.sleep(0.3)
        print("loop blocked", flush=True)
        block_the_loop_forever()
        print("survived", flush=True)
        await monitoring.stop()

    asyncio.run(main())
    """
)


def _run_blocked(tmp_path: Path, block_s: float) -> tuple[subprocess.CompletedProcess[str], float]:
    script = tmp_path / "blocked.py"
    script.write_text(BLOCKED_LOOP_SCRIPT, encoding="utf-8")
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(script), str(block_s)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return proc, time.monotonic() - started


def test_blocked_loop_process_exits_with_stack_dump(tmp_path: Path) -> None:
    proc, elapsed = _run_blocked(tmp_path, block_s=8.0)
    assert proc.returncode == EXIT_CODE, proc.stderr
    assert "loop blocked" in proc.stdout and "survived" not in proc.stdout
    assert elapsed < 6.0, f"took {elapsed:.1f}s to notice a 1 s stall"
    assert "event loop has not ticked" in proc.stderr
    # faulthandler's dump: every thread, including the main thread stuck in the blocking call.
    assert "Thread 0x" in proc.stderr or "Current thread 0x" in proc.stderr
    assert "block_the_loop_forever" in proc.stderr
    assert "=loop-watchdog" in proc.stderr and "=MainThread" in proc.stderr


FULL_STDERR_SCRIPT = textwrap.dedent(
    """
    import asyncio, os, time
    from web.monitor import Monitoring
    from web.settings import Settings

    os.set_blocking(2, False)
    try:
        while True:
            os.write(2, b"x" * 4096)  # fill the stderr pipe: nobody is reading it
    except BlockingIOError:
        pass
    os.set_blocking(2, True)

    async def main():
        monitoring = Monitoring(Settings(watchdog_timeout_s=1.0, monitor_interval_s=0.05))
        await monitoring.start()
        await asyncio.sleep(0.3)
        time.sleep(30)

    asyncio.run(main())
    """
)


def test_watchdog_exits_even_when_stderr_is_a_full_pipe(tmp_path: Path) -> None:
    script = tmp_path / "full_stderr.py"
    script.write_text(FULL_STDERR_SCRIPT, encoding="utf-8")
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, str(script)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        returncode = proc.wait(timeout=20)  # not reading stderr on purpose until the process is gone
    finally:
        proc.kill()
        assert proc.stderr is not None
        proc.stderr.read()
        proc.stderr.close()
    assert returncode == EXIT_CODE
    assert time.monotonic() - started < 10.0


def test_short_stall_below_the_timeout_is_tolerated(tmp_path: Path) -> None:
    """Guard: the watchdog is not trigger-happy; a 0.5 s stall with a 1 s timeout survives."""
    proc, _ = _run_blocked(tmp_path, block_s=0.5)
    assert proc.returncode == 0, proc.stderr
    assert "survived" in proc.stdout


async def test_watchdog_thread_fires_on_stall_and_not_before() -> None:
    fired = threading.Event()
    stalls: list[float] = []

    def on_stall(stalled_for: float) -> None:
        stalls.append(stalled_for)
        fired.set()

    heartbeat = Heartbeat(period_s=0.02)
    beat = asyncio.create_task(heartbeat.run())
    dog = Watchdog(heartbeat, timeout_s=0.3, on_stall=on_stall, check_period_s=0.02)
    dog.start()
    try:
        await asyncio.sleep(0.6)  # healthy loop for twice the timeout
        assert not fired.is_set()
        time.sleep(0.5)  # noqa: ASYNC251 - stall the loop past the timeout
        assert fired.wait(1.0)
    finally:
        dog.stop()
        beat.cancel()
    assert dog.fired and stalls[0] > 0.3


def test_stopped_watchdog_never_fires() -> None:
    heartbeat = Heartbeat(period_s=1.0)
    fired: list[float] = []
    dog = Watchdog(heartbeat, timeout_s=0.05, on_stall=fired.append, check_period_s=0.01)
    dog.start()
    dog.stop()
    time.sleep(0.2)
    assert fired == []
