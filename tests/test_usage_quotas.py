"""Quota arithmetic: periods, per-user overrides over the defaults, admins, the token-rate warning, retention."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FakeClock, make_settings
from web.services import Services, build_services
from web.usage.guard import QuotaGuard
from web.usage.quotas import DAY_REACHED, MONTH_REACHED, Budget, period_starts
from web.usage.tokens import TokenCounts


@pytest.fixture
async def svc(tmp_path: Path) -> AsyncIterator[Services]:
    services = build_services(make_settings(tmp_path, quota_minutes_per_day=10.0, quota_minutes_per_month=100.0,
                                            usage_retention_days=30), FakeClock(1_800_000_000.0))
    await services.db.migrate()
    yield services
    await services.db.close()
    services.passwords.close()


def test_periods_are_utc_days_and_months() -> None:
    now = dt.datetime(2026, 3, 15, 13, 30, tzinfo=dt.UTC).timestamp()
    day, month = period_starts(now)
    assert day == dt.datetime(2026, 3, 15, tzinfo=dt.UTC).timestamp()
    assert month == dt.datetime(2026, 3, 1, tzinfo=dt.UTC).timestamp()


async def _talk(svc: Services, user_id: int, start: float, seconds: float, tokens: int = 0) -> None:
    await svc.db.execute("INSERT INTO conversations (call_id, user_id, transport, upstream, started_at, ended_at, "
                         "total_tokens) VALUES ('c', ?, 'webrtc', 'echo', ?, ?, ?)",
                         (user_id, start, start + seconds, tokens))


async def test_defaults_overrides_and_admins(svc: Services) -> None:
    user = await svc.users.create("u@example.com", "a-good-password")
    now = svc.usage.clock()
    day, month = period_starts(now)
    assert month < day  # the fake clock is mid-month (2027-01-15)
    await _talk(svc, user.id, day + 1, 9 * 60)
    await _talk(svc, user.id, month + 1, 60 * 60)
    budget = await svc.usage.quotas.budget(user)
    assert budget.seconds == pytest.approx(60) and budget.msgid == DAY_REACHED
    await _talk(svc, user.id, day + 2000, 120)
    assert await svc.usage.quotas.refusal(user) == DAY_REACHED
    await svc.usage.quotas.set_overrides(user.id, {"minutes_per_day": 0, "minutes_per_month": 11})
    assert await svc.usage.quotas.refusal(user) == MONTH_REACHED  # 71 of 11 minutes this month
    await svc.usage.quotas.set_overrides(user.id, {"minutes_per_day": 0, "minutes_per_month": 0})
    assert await svc.usage.quotas.refusal(user) is None
    admin = await svc.users.create("a@example.com", "a-good-password", role="admin")
    await _talk(svc, admin.id, day + 1, 11 * 60)
    assert await svc.usage.quotas.refusal(admin) == DAY_REACHED  # admins are limited unless configured


async def test_old_records_are_purged(svc: Services) -> None:
    user = await svc.users.create("old@example.com", "a-good-password")
    now = svc.usage.clock()
    await _talk(svc, user.id, now - 40 * 86_400, 60)
    await _talk(svc, user.id, now - 10 * 86_400, 60)
    assert await svc.usage.purge() == 1
    rows = await svc.db.fetchall("SELECT started_at FROM conversations")
    assert len(rows) == 1 and rows[0]["started_at"] == pytest.approx(now - 10 * 86_400)


class _Meter:
    def __init__(self, duration_s: float, tokens: int) -> None:
        self.duration_s, self.tokens, self.ended_at = duration_s, TokenCounts(input_audio=tokens), None
        self.call_id, self.user_id = "rtc_t", 1


async def _noop(_reason: str, _note: dict[str, Any]) -> None:
    return None


def test_tokens_are_warned_by_the_calls_own_rate() -> None:
    meter: Any = _Meter(duration_s=100.0, tokens=1000)  # 10 tokens a second
    guard = QuotaGuard(meter, Budget(None, 1500, DAY_REACHED), warning_s=60, notify=lambda _e: None, end=_noop)
    assert guard.seconds_left() == pytest.approx(50.0)  # 500 left at 10 a second: inside the warning minute
    assert QuotaGuard(meter, Budget(None, 1000, DAY_REACHED), warning_s=60, notify=lambda _e: None,
                      end=_noop).seconds_left() == -1.0
    assert QuotaGuard(meter, Budget(300.0, None, DAY_REACHED), warning_s=60, notify=lambda _e: None,
                      end=_noop).seconds_left() == pytest.approx(200.0)
    assert QuotaGuard(meter, Budget(None, None, DAY_REACHED), warning_s=60, notify=lambda _e: None,
                      end=_noop).seconds_left() is None
