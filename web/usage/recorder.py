"""`UsageRecorder`: meters every new session, queues each finished conversation's record, writes it off the audio path.

The session's close path only appends a dict to a bounded queue (`put_nowait`); one writer task inserts the rows.
A full queue (the database down for long) drops records and counts them rather than holding up any call. Records
older than USAGE_RETENTION_DAYS are deleted hourly. Totals since start-up feed the Prometheus counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from loguru import logger

from web.accounts.models import User
from web.db import Database, DatabaseError
from web.settings import Settings
from web.usage.guard import QuotaGuard
from web.usage.meter import ConversationMeter
from web.usage.quotas import QuotaPolicy
from web.usage.tokens import PriceTable

QUEUE_MAX = 10_000
PURGE_EVERY_S = 3600.0
COLUMNS = ("call_id", "user_id", "token_id", "transport", "upstream", "started_at", "ended_at", "end_reason",
           "audio_in_s", "audio_out_s", "responses", "input_text_tokens", "input_audio_tokens", "input_image_tokens",
           "cached_text_tokens", "cached_audio_tokens", "cached_image_tokens", "output_text_tokens",
           "output_audio_tokens", "transcription_input_tokens", "transcription_output_tokens", "transcription_s",
           "total_tokens", "cost_usd")
INSERT = f"INSERT INTO conversations ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
EndCall = Callable[[str, str, dict[str, Any]], Awaitable[bool]]  # (call id, reason, notice) → ended?


def upstream_label(settings: Settings) -> str:
    mode = settings.voice_mode
    if mode == "azure":
        return f"azure:{settings.azure_openai_realtime_deployment_name}"
    if mode == "openai":
        return f"openai:{settings.openai_realtime_model}"
    return mode


class UsageRecorder:
    def __init__(self, db: Database, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.prices = PriceTable.from_settings(settings)
        self.live: dict[str, ConversationMeter] = {}
        self.guards: dict[str, QuotaGuard] = {}
        self.quotas = QuotaPolicy(db, settings, lambda: list(self.live.values()), clock)
        self.totals: Counter[str] = Counter()  # tokens by kind, audio seconds, conversations, dropped records
        self.end_call: EndCall | None = None  # set by the app: ends a live call through the call registry
        self.user_lookup: Callable[[int], Awaitable[User | None]] | None = None
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_MAX)
        self._tasks: set[asyncio.Task[None]] = set()
        self._writer: asyncio.Task[None] | None = None
        self._purger: asyncio.Task[None] | None = None

    # --- the hook the call registry calls for every new session ------------------------------------------------------
    def session_made(self, session: Any, info: dict[str, Any]) -> None:
        if not hasattr(session, "observer"):
            return  # a session type without the observer interface (some tests plug their own in)
        meter = ConversationMeter(info, upstream=upstream_label(self.settings), prices=self.prices,
                                  on_end=self._ended, clock=self.clock)
        meter.attach(session)
        self.live[meter.call_id] = meter
        self._spawn(self._guard(meter, session), f"quota-{meter.call_id}")

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(self, meter: ConversationMeter, session: Any) -> None:
        try:
            user = await self.user_lookup(meter.user_id) if self.user_lookup else None
            if user is None or meter.ended_at is not None:
                return
            guard = QuotaGuard(meter, await self.quotas.budget(user), warning_s=self.settings.quota_warning_s,
                               notify=getattr(session, "notify", lambda _event: None),
                               end=lambda reason, note: self._end(meter, session, reason, note))
            self.guards[meter.call_id] = guard
            await guard.run()
        except DatabaseError:
            logger.warning("quota of a live call could not be read; the call goes on", call_id=meter.call_id)
        finally:
            self.guards.pop(meter.call_id, None)

    async def _end(self, meter: ConversationMeter, session: Any, reason: str, note: dict[str, Any]) -> None:
        if self.end_call is not None and await self.end_call(meter.call_id, reason, note):
            return
        notify = getattr(session, "notify", None)
        if callable(notify):
            notify(note)
        await session.close(reason)

    # --- the end of a conversation (on the session's close path: queue only) ----------------------------------------
    def _ended(self, meter: ConversationMeter) -> None:
        self.live.pop(meter.call_id, None)
        record = meter.record()
        for kind, count in meter.tokens.as_dict().items():
            self.totals["tokens_" + kind] += count
        self.totals["audio_in_s"] += record["audio_in_s"]
        self.totals["audio_out_s"] += record["audio_out_s"]
        self.totals["conversations"] += 1
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            self.totals["records_dropped"] += 1
            logger.error("usage record dropped: the write queue is full", call_id=meter.call_id)

    # --- writing, off the audio path ---------------------------------------------------------------------------------
    async def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop(), name="usage-writer")
        self._purger = asyncio.create_task(self._purge_loop(), name="usage-purge")

    async def _write_loop(self) -> None:
        while True:
            record = await self._queue.get()
            await self._write(record)

    async def _write(self, record: dict[str, Any]) -> None:
        for attempt in range(3):
            try:
                await self.db.execute(INSERT, [record[c] for c in COLUMNS])
                self.totals["records_written"] += 1
                return
            except DatabaseError as exc:
                logger.warning("usage record not written yet", call_id=record["call_id"], error=str(exc))
                await asyncio.sleep(0.5 * (attempt + 1))
        self.totals["records_dropped"] += 1

    async def flush(self, timeout: float = 5.0) -> None:
        """Write what is queued now (tests, shutdown)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not self._queue.empty():
                    await self._write(self._queue.get_nowait())

    async def purge(self) -> int:
        cutoff = self.clock() - self.settings.usage_retention_days * 86_400
        return await self.db.execute("DELETE FROM conversations WHERE ended_at < ?", (cutoff,))

    async def _purge_loop(self) -> None:
        while True:
            try:
                await self.purge()
            except DatabaseError:
                logger.warning("usage purge failed; next try in an hour")
            await asyncio.sleep(PURGE_EVERY_S)

    async def stop(self) -> None:
        for task in (self._writer, self._purger, *self._tasks):
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in (self._writer, self._purger, *self._tasks) if t), return_exceptions=True)
        await self.flush()
        # A cancelled task's query may still be running in the database thread; wait for it before the database
        # closes its connections (SQLite has one thread, so this query runs after it).
        with contextlib.suppress(DatabaseError):
            await self.db.ping()

    def metric(self, name: str) -> float:
        return float(self.totals[name])


