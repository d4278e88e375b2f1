"""Personal access tokens for devices (smart glasses and other clients that cannot hold a cookie session).

A token is shown once; the database keeps only its SHA-256 (tokens carry 256 random bits, so a fast hash is
enough) and a short prefix to tell tokens apart in the list. A bearer request's handle is `token:<id>`, which the
revocation listeners receive like a session id, so revoking a token ends that device's live calls.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from web.accounts.models import User
from web.db import Database

TOKEN_PREFIX = "sgv_"
MAX_TOKENS_PER_USER = 50
MAX_NAME_LENGTH = 80
LAST_USED_INTERVAL_S = 60.0
_USER_COLUMNS = "u.id, u.email, u.display_name, u.role, u.disabled, u.created_at, u.last_login_at"


class TokenError(ValueError):
    """A token operation was refused; the message is a msgid for the user."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_handle(token_id: int) -> str:
    return f"token:{token_id}"


@dataclass(frozen=True)
class ApiToken:
    id: int
    user_id: int
    name: str
    prefix: str
    created_at: float
    expires_at: float | None
    last_used_at: float | None
    revoked_at: float | None

    @property
    def handle(self) -> str:
        return token_handle(self.id)

    def is_expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ApiToken:
        def opt(key: str) -> float | None:
            return float(row[key]) if row[key] is not None else None

        return cls(id=int(row["id"]), user_id=int(row["user_id"]), name=str(row["name"]), prefix=str(row["prefix"]),
                   created_at=float(row["created_at"]), expires_at=opt("expires_at"),
                   last_used_at=opt("last_used_at"), revoked_at=opt("revoked_at"))


@dataclass(frozen=True)
class TokenResolution:
    user: User | None
    token: ApiToken | None
    failure: str = ""  # "", "invalid", "expired", "revoked", "disabled"


_TOKEN_COLUMNS = "id, user_id, name, prefix, created_at, expires_at, last_used_at, revoked_at"


class TokenStore:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    async def create(self, user_id: int, name: str, *, expires_in_days: int | None) -> tuple[str, ApiToken]:
        """Return (the secret token, shown once; its record)."""
        name = name.strip()
        if not name or len(name) > MAX_NAME_LENGTH:
            raise TokenError("Give the device a name of 1 to 80 characters.")
        if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
            raise TokenError("Expiry must be between 1 and 3650 days, or never.")
        existing = await self.db.fetchone(
            "SELECT COUNT(*) AS n FROM api_tokens WHERE user_id = ? AND revoked_at IS NULL", (user_id,))
        if existing and int(existing["n"]) >= MAX_TOKENS_PER_USER:
            raise TokenError("You have too many device tokens. Revoke one you no longer use.")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self.clock()
        expires = now + expires_in_days * 86400 if expires_in_days else None
        token_id = await self.db.insert(
            "INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (user_id, name, hash_token(secret), secret[: len(TOKEN_PREFIX) + 6], now, expires),
        )
        token = await self.get(token_id)
        assert token is not None
        return secret, token

    async def get(self, token_id: int) -> ApiToken | None:
        row = await self.db.fetchone(f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE id = ?", (token_id,))
        return ApiToken.from_row(row) if row else None

    async def list_for_user(self, user_id: int) -> list[ApiToken]:
        rows = await self.db.fetchall(
            f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE user_id = ? AND revoked_at IS NULL ORDER BY id DESC",
            (user_id,))
        return [ApiToken.from_row(r) for r in rows]

    async def handles_for_user(self, user_id: int) -> list[str]:
        rows = await self.db.fetchall("SELECT id FROM api_tokens WHERE user_id = ? AND revoked_at IS NULL", (user_id,))
        return [token_handle(int(r["id"])) for r in rows]

    async def revoke(self, user_id: int, token_id: int) -> bool:
        changed = await self.db.execute(
            "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
            (self.clock(), token_id, user_id))
        return changed > 0

    async def revoke_all(self, user_id: int) -> int:
        """Every live device token of the user (a password change): returns how many."""
        return await self.db.execute("UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
                                     (self.clock(), user_id))

    async def resolve(self, secret: str) -> TokenResolution:
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return TokenResolution(None, None, "invalid")
        row = await self.db.fetchone(
            f"SELECT t.id AS t_id, t.user_id AS t_user_id, t.name AS t_name, t.prefix AS t_prefix, "
            f"t.created_at AS t_created, t.expires_at AS t_expires, t.last_used_at AS t_used, "
            f"t.revoked_at AS t_revoked, {_USER_COLUMNS} "
            "FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?",
            (hash_token(secret),),
        )
        if row is None:
            return TokenResolution(None, None, "invalid")
        token = ApiToken(id=int(row["t_id"]), user_id=int(row["t_user_id"]), name=str(row["t_name"]),
                         prefix=str(row["t_prefix"]), created_at=float(row["t_created"]),
                         expires_at=float(row["t_expires"]) if row["t_expires"] is not None else None,
                         last_used_at=float(row["t_used"]) if row["t_used"] is not None else None,
                         revoked_at=float(row["t_revoked"]) if row["t_revoked"] is not None else None)
        user = User.from_row(row)
        now = self.clock()
        if token.revoked_at is not None:
            return TokenResolution(None, token, "revoked")
        if token.is_expired(now):
            return TokenResolution(None, token, "expired")
        if user.disabled:
            return TokenResolution(None, token, "disabled")
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_INTERVAL_S:
            await self.db.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (now, token.id))
        return TokenResolution(user, token)

    async def is_active(self, token_id: int) -> bool:
        row = await self.db.fetchone(
            "SELECT t.revoked_at AS revoked, t.expires_at AS expires, u.disabled AS disabled "
            "FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?", (token_id,))
        if row is None or row["revoked"] is not None or row["disabled"]:
            return False
        return row["expires"] is None or self.clock() < float(row["expires"])
