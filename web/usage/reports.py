"""Reading the conversation records back: per-day series, top users, one user's period totals, CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from web.db import Database
from web.usage.recorder import COLUMNS

DAY_S = 86_400


@dataclass(frozen=True)
class DayTotal:
    day: float  # UTC midnight, UNIX seconds
    minutes: float
    cost_usd: float
    conversations: int


async def daily(db: Database, now: float, days: int = 30, user_id: int | None = None) -> list[DayTotal]:
    """One entry per UTC day, oldest first, the last one today (days without conversations are zero)."""
    first = now - now % DAY_S - (days - 1) * DAY_S
    sql = "SELECT started_at, ended_at, cost_usd FROM conversations WHERE started_at >= ?"
    params: list[Any] = [first]
    if user_id is not None:
        sql += " AND user_id = ?"
        params.append(user_id)
    minutes = [0.0] * days
    cost = [0.0] * days
    count = [0] * days
    for row in await db.fetchall(sql, params):
        index = int((float(row["started_at"]) - first) // DAY_S)
        if 0 <= index < days:
            minutes[index] += (float(row["ended_at"]) - float(row["started_at"])) / 60
            cost[index] += float(row["cost_usd"])
            count[index] += 1
    return [DayTotal(first + i * DAY_S, minutes[i], cost[i], count[i]) for i in range(days)]


async def top_users(db: Database, since: float, limit: int = 10) -> list[dict[str, Any]]:
    return await db.fetchall(
        "SELECT c.user_id AS user_id, COALESCE(u.email, '') AS email, COUNT(*) AS conversations, "
        "SUM(c.ended_at - c.started_at) / 60.0 AS minutes, SUM(c.total_tokens) AS tokens, "
        "SUM(c.cost_usd) AS cost_usd FROM conversations c LEFT JOIN users u ON u.id = c.user_id "
        "WHERE c.started_at >= ? GROUP BY c.user_id, u.email ORDER BY SUM(c.cost_usd) DESC, c.user_id LIMIT ?",
        (since, limit))


async def csv_export(db: Database, since: float) -> str:
    rows = await db.fetchall(
        f"SELECT c.id, u.email, {', '.join('c.' + c for c in COLUMNS)} FROM conversations c "
        "LEFT JOIN users u ON u.id = c.user_id WHERE c.started_at >= ? ORDER BY c.started_at, c.id", (since,))
    return "".join(_csv_lines(["id", "email", *COLUMNS], rows))


def _csv_lines(header: list[str], rows: list[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        # a leading =, +, - or @ would be a formula in a spreadsheet: emails and reasons are quoted as text
        writer.writerow([_cell(row.get(name)) for name in header])
    yield buffer.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return "" if value is None else value
