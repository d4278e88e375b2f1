"""The result of one check: a verdict, the measured value, what to do about it, and the raw numbers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from web.diagnostics.text import Text

PASS = "pass"
WARN = "warn"
FAIL = "fail"
SKIP = "skip"
STATUSES = (PASS, WARN, FAIL, SKIP)
ICONS = {PASS: "✅", WARN: "⚠️", FAIL: "❌", SKIP: "⏭️"}


@dataclass(frozen=True)
class CheckResult:
    check_id: str
    status: str
    value: Text | None = None
    fixes: tuple[Text, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)  # the measured numbers, JSON-safe

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"check": self.check_id, "status": self.status}
        if self.value is not None:
            out["value"] = self.value.to_json()
        if self.fixes:
            out["fixes"] = [f.to_json() for f in self.fixes]
        if self.data:
            out["data"] = dict(self.data)
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> CheckResult:
        status = raw.get("status")
        fixes = [Text.from_json(f) for f in raw.get("fixes") or []]
        data = raw.get("data")
        return cls(
            check_id=str(raw.get("check", "")),
            status=status if status in STATUSES else SKIP,
            value=Text.from_json(raw.get("value")),
            fixes=tuple(f for f in fixes if f is not None),
            data=dict(data) if isinstance(data, Mapping) else {},
        )
