"""Reports in the database: one row per run (meta as JSON) and one row per check result, upserted, so the page's
concurrent check requests never overwrite each other. Old reports are purged when new ones are created."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from web.db import Database
from web.diagnostics.catalog import CHECKS
from web.diagnostics.model import CheckResult
from web.diagnostics.report_id import new_report_id

RETENTION_S = 30 * 24 * 3600
MAX_META_BYTES = 32 * 1024
_ORDER = {spec.id: index for index, spec in enumerate(CHECKS)}


class MetaTooLarge(ValueError):
    """The merged metadata would exceed MAX_META_BYTES; nothing was saved."""


@dataclass(frozen=True)
class StoredReport:
    id: str
    created_at: float
    updated_at: float
    user_id: int | None
    source: str
    meta: dict[str, Any] = field(default_factory=dict)
    results: tuple[CheckResult, ...] = ()

    def result(self, check_id: str) -> CheckResult | None:
        return next((r for r in self.results if r.check_id == check_id), None)


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


class ReportStore:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    async def create(self, *, user_id: int | None, source: str, meta: dict[str, Any]) -> str:
        now = self.clock()
        await self.db.execute("DELETE FROM diagnostic_reports WHERE created_at < ?", (now - RETENTION_S,))
        for _attempt in range(5):  # 40 random bits: a collision is rare, but never overwrite a report
            report_id = new_report_id()
            if await self.db.fetchone("SELECT id FROM diagnostic_reports WHERE id = ?", (report_id,)) is None:
                await self.db.execute(
                    "INSERT INTO diagnostic_reports (id, created_at, updated_at, user_id, source, meta) "
                    "VALUES (?, ?, ?, ?, ?, ?)", (report_id, now, now, user_id, source[:20], _dump(meta)))
                return report_id
        raise RuntimeError("could not allocate a report id")

    async def save_result(self, report_id: str, result: CheckResult, user_id: int | None = None) -> None:
        now = self.clock()
        await self.db.execute(
            "INSERT INTO diagnostic_results (report_id, check_id, measured_at, result) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (report_id, check_id) DO UPDATE SET measured_at = excluded.measured_at, "
            "result = excluded.result", (report_id, result.check_id, now, _dump(result.to_json())))
        await self.db.execute("UPDATE diagnostic_reports SET updated_at = ?, user_id = COALESCE(user_id, ?) "
                              "WHERE id = ?", (now, user_id, report_id))

    async def update_meta(self, report_id: str, changes: dict[str, Any], user_id: int | None = None) -> None:
        row = await self.db.fetchone("SELECT meta, user_id FROM diagnostic_reports WHERE id = ?", (report_id,))
        if row is None:
            return
        meta = json.loads(row["meta"] or "{}")
        meta.update(changes)
        text = _dump(meta)
        if len(text.encode()) > MAX_META_BYTES:
            raise MetaTooLarge(f"the report metadata would be larger than {MAX_META_BYTES // 1024} KiB")
        owner = row["user_id"] if row["user_id"] is not None else user_id
        await self.db.execute("UPDATE diagnostic_reports SET meta = ?, updated_at = ?, user_id = ? WHERE id = ?",
                              (text, self.clock(), owner, report_id))

    async def get(self, report_id: str) -> StoredReport | None:
        row = await self.db.fetchone(
            "SELECT id, created_at, updated_at, user_id, source, meta FROM diagnostic_reports WHERE id = ?",
            (report_id,))
        if row is None:
            return None
        rows = await self.db.fetchall("SELECT result FROM diagnostic_results WHERE report_id = ?", (report_id,))
        results = sorted((CheckResult.from_json(json.loads(r["result"])) for r in rows),
                         key=lambda r: _ORDER.get(r.check_id, len(_ORDER)))
        return StoredReport(
            id=str(row["id"]), created_at=float(row["created_at"]), updated_at=float(row["updated_at"]),
            user_id=int(row["user_id"]) if row["user_id"] is not None else None, source=str(row["source"]),
            meta=json.loads(row["meta"] or "{}"), results=tuple(results))
