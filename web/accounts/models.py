"""The account as the rest of the app sees it (never carries the password hash)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ROLES = ("user", "admin")


@dataclass(frozen=True)
class User:
    id: int
    email: str
    display_name: str
    role: str
    disabled: bool
    created_at: float
    last_login_at: float | None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def name(self) -> str:
        return self.display_name or self.email

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> User:
        return cls(
            id=int(row["id"]),
            email=str(row["email"]),
            display_name=str(row["display_name"] or ""),
            role=str(row["role"]),
            disabled=bool(row["disabled"]),
            created_at=float(row["created_at"]),
            last_login_at=float(row["last_login_at"]) if row["last_login_at"] is not None else None,
        )
