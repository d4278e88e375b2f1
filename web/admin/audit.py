"""The audit log: every admin action in the console, who did it to whom, and when."""

from __future__ import annotations

from typing import Any

from web.accounts.models import User
from web.db import Database


async def record(db: Database, now: float, actor: User, action: str, target: str, detail: str = "") -> None:
    await db.execute("INSERT INTO audit_log (at, actor_id, actor_email, action, target, detail) "
                     "VALUES (?, ?, ?, ?, ?, ?)",
                     (now, actor.id, actor.email, action, target[:200], detail[:500]))


async def recent(db: Database, limit: int = 200) -> list[dict[str, Any]]:
    return await db.fetchall("SELECT at, actor_email, action, target, detail FROM audit_log ORDER BY id DESC LIMIT ?",
                             (limit,))
