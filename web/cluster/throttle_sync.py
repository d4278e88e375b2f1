"""The sign-in throttle across processes: every process counts every failure, wherever it happened.

Local failures and successes are batched for `FLUSH_S` and then broadcast to the other processes (LISTEN/NOTIFY) and
stored in `gw_login_failures`, from which a process that starts loads the current window. Wall-clock times travel
between hosts, so a clock skew of a second shifts a failure's expiry by a second; the window is minutes long.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from loguru import logger

from web.accounts.throttle import LoginThrottle, ThrottleEvent
from web.cluster.base import Cluster, Message
from web.db import Database, DatabaseError, Transaction

FLUSH_S = 0.2
BATCH = 40  # entries per message, well under NOTIFY's 8,000 bytes with e-mail addresses of up to 100 characters
OP = "throttle"

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS gw_login_failures (
        account TEXT NOT NULL,
        ip TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS gw_login_failures_at ON gw_login_failures (at)",
]


class ThrottleSync:
    def __init__(self, throttle: LoginThrottle, cluster: Cluster, db: Database) -> None:
        self.throttle, self.cluster, self.db = throttle, cluster, db
        self._pending: list[tuple[str, str, str, float]] = []  # (event, account, ip, wall time)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if not self.cluster.shared:
            return

        def create(tx: Transaction) -> None:
            tx.execute("SELECT pg_advisory_xact_lock(?)", (72612,))
            for statement in SCHEMA:
                tx.execute(statement)

        await self.db.transaction(create, timeout=30)
        now = time.time()
        rows = await self.db.fetchall("SELECT account, ip, at FROM gw_login_failures WHERE at > ?",
                                      (now - self.throttle.window_s,))
        for row in rows:
            self.throttle.apply_failure(str(row["account"]), str(row["ip"]), now - float(row["at"]))
        self.cluster.on_broadcast(OP, self._heard)
        self.throttle.observer = self._observe
        self._task = asyncio.create_task(self._flush_loop(), name="throttle-sync")

    async def stop(self) -> None:
        self.throttle.observer = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            with contextlib.suppress(DatabaseError, ValueError):
                await self._flush()

    def _observe(self, event: ThrottleEvent, account: str, ip: str) -> None:
        self._pending.append((event, account, ip, time.time()))

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_S)
            try:
                await self._flush()
            except (DatabaseError, ValueError) as exc:
                logger.warning("sign-in throttle: could not share failures", error=str(exc))

    async def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        window_start = time.time() - self.throttle.window_s
        failures = [(a, i, at) for event, a, i, at in pending if event == "failure"]
        successes = sorted({a for event, a, _i, _at in pending if event == "success" and a})

        def store(tx: Transaction) -> None:
            for account, ip, at in failures:
                tx.execute("INSERT INTO gw_login_failures (account, ip, at) VALUES (?, ?, ?)", (account, ip, at))
            for account in successes:
                tx.execute("DELETE FROM gw_login_failures WHERE account = ?", (account,))
            tx.execute("DELETE FROM gw_login_failures WHERE at < ?", (window_start,))

        await self.db.transaction(store)
        entries: list[list[Any]] = [["f", a[:120], i[:64], round(at, 3)] for a, i, at in failures]
        entries += [["s", a[:120], "", 0] for a in successes]
        for start in range(0, len(entries), BATCH):
            await self.cluster.broadcast(OP, {"entries": entries[start:start + BATCH]})

    async def _heard(self, body: Message) -> None:
        now = time.time()
        entries = body.get("entries")
        for entry in entries if isinstance(entries, list) else []:
            if not (isinstance(entry, list) and len(entry) == 4):
                continue
            kind, account, ip, at = entry
            if kind == "f" and isinstance(at, int | float):
                self.throttle.apply_failure(str(account), str(ip), now - float(at))
            elif kind == "s":
                self.throttle.apply_success(str(account))
