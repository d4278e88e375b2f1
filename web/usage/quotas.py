"""Quotas: conversation minutes and tokens per UTC day and month, per user (else the default for everyone).

Used = the conversations recorded in the database plus the ones still running in this process. A per-user value
of NULL inherits the default; 0 means no limit. Administrators are limited too unless QUOTA_EXEMPT_ADMINS is set.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from web.accounts.models import User
from web.db import Database
from web.i18n import N_
from web.settings import Settings

DAY_REACHED = N_("You have reached your voice usage limit for today. It resets at midnight (UTC); ask your "
                 "administrator if you need more.")
MONTH_REACHED = N_("You have reached your voice usage limit for this month. It resets on the first day of next "
                   "month (UTC); ask your administrator if you need more.")
FIELDS = ("minutes_per_day", "minutes_per_month", "tokens_per_day", "tokens_per_month")


@dataclass(frozen=True)
class Limits:
    minutes_per_day: float = 0.0
    minutes_per_month: float = 0.0
    tokens_per_day: int = 0
    tokens_per_month: int = 0

    @classmethod
    def defaults(cls, settings: Settings) -> Limits:
        return cls(settings.quota_minutes_per_day, settings.quota_minutes_per_month,
                   settings.quota_tokens_per_day, settings.quota_tokens_per_month)

    @property
    def unlimited(self) -> bool:
        return not any((self.minutes_per_day, self.minutes_per_month, self.tokens_per_day, self.tokens_per_month))


@dataclass(frozen=True)
class Used:
    day_s: float = 0.0
    month_s: float = 0.0
    day_tokens: int = 0
    month_tokens: int = 0


@dataclass(frozen=True)
class Budget:
    """What is left now; None where there is no limit."""

    seconds: float | None
    tokens: int | None
    msgid: str  # the message to show when this budget runs out (day or month)


def period_starts(now: float) -> tuple[float, float]:
    day = now - now % 86_400
    today = dt.datetime.fromtimestamp(now, dt.UTC)
    month = dt.datetime(today.year, today.month, 1, tzinfo=dt.UTC).timestamp()
    return day, month


def _left(limit: float, used: float) -> float | None:
    return None if limit <= 0 else limit - used


class QuotaPolicy:
    def __init__(self, db: Database, settings: Settings, live: Callable[[], Iterable[Any]],
                 clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.settings = settings
        self._live = live  # the running conversations' meters (user_id, started_at, duration_s, tokens.total)
        self.clock = clock

    def exempt(self, user: User) -> bool:
        return user.is_admin and self.settings.quota_exempt_admins

    async def overrides(self, user_id: int) -> dict[str, Any]:
        row = await self.db.fetchone(f"SELECT {', '.join(FIELDS)} FROM user_quotas WHERE user_id = ?", (user_id,))
        return dict(row) if row else dict.fromkeys(FIELDS)

    async def limits_for(self, user_id: int) -> Limits:
        limits = Limits.defaults(self.settings)
        own = {key: value for key, value in (await self.overrides(user_id)).items() if value is not None}
        return replace(limits, **own)

    async def set_overrides(self, user_id: int, values: dict[str, float | int | None]) -> None:
        row = [values.get(key) for key in FIELDS]
        await self.db.execute("DELETE FROM user_quotas WHERE user_id = ?", (user_id,))
        if any(value is not None for value in row):
            await self.db.execute(
                f"INSERT INTO user_quotas (user_id, {', '.join(FIELDS)}) VALUES (?, ?, ?, ?, ?)", (user_id, *row))

    async def used(self, user_id: int) -> Used:
        day, month = period_starts(self.clock())
        row = await self.db.fetchone(
            "SELECT COALESCE(SUM(CASE WHEN started_at >= ? THEN ended_at - started_at ELSE 0 END), 0) AS day_s, "
            "COALESCE(SUM(ended_at - started_at), 0) AS month_s, "
            "COALESCE(SUM(CASE WHEN started_at >= ? THEN total_tokens ELSE 0 END), 0) AS day_tokens, "
            "COALESCE(SUM(total_tokens), 0) AS month_tokens "
            "FROM conversations WHERE user_id = ? AND started_at >= ?", (day, day, user_id, month))
        day_s, month_s = float(row["day_s"]) if row else 0.0, float(row["month_s"]) if row else 0.0
        day_tokens, month_tokens = int(row["day_tokens"]) if row else 0, int(row["month_tokens"]) if row else 0
        for meter in self._live():
            if meter.user_id != user_id or meter.ended_at is not None:
                continue
            day_s, month_s = day_s + meter.duration_s, month_s + meter.duration_s
            day_tokens, month_tokens = day_tokens + meter.tokens.total, month_tokens + meter.tokens.total
        return Used(day_s, month_s, day_tokens, month_tokens)

    async def budget(self, user: User) -> Budget:
        """The tighter of the day's and the month's allowance, in seconds and tokens."""
        if self.exempt(user):
            return Budget(None, None, DAY_REACHED)
        limits, used = await self.limits_for(user.id), await self.used(user.id)
        day = (_left(limits.minutes_per_day * 60, used.day_s), _left(limits.tokens_per_day, used.day_tokens))
        month = (_left(limits.minutes_per_month * 60, used.month_s), _left(limits.tokens_per_month, used.month_tokens))
        seconds = _tighter(day[0], month[0])
        tokens = _tighter(day[1], month[1])
        month_first = any(m is not None and (d is None or m < d) for d, m in zip(day, month, strict=True))
        return Budget(seconds, None if tokens is None else int(tokens), MONTH_REACHED if month_first else DAY_REACHED)

    async def refusal(self, user: User) -> str | None:
        """The msgid to refuse a new call with, or None when the user may talk."""
        budget = await self.budget(user)
        if (budget.seconds is not None and budget.seconds <= 0) or (budget.tokens is not None and budget.tokens <= 0):
            return budget.msgid
        return None


def _tighter(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)
