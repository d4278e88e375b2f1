"""Short-lived client secrets (`ek_…`), as OpenAI's `POST /v1/realtime/client_secrets` mints them.

An app's backend, holding a device token or a signed-in session (the *parent*), mints one for a browser; the browser
uses it as its bearer key to start calls (`POST /v1/realtime/calls`, `GET /v1/realtime`) and for nothing else. A
secret lives 60 s by default (10 s to 2 h on request); calls it started may outlive it.

Kept in the database, only as SHA-256 hashes, so a key minted by one worker or node starts calls on any other, and the
minting rate limit holds for the whole cluster. Each one is bound to its user and its parent's handle: the caller
checks the parent is still active on every use, so a key stops working the moment the parent is revoked or signed
out, and the calls it started are the parent's calls (revoking the parent ends them too).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from web.db import Database, Transaction
from web.i18n import N_

SECRET_PREFIX = "ek_"
CALL_PATHS = frozenset({"/v1/realtime/calls", "/v1/realtime"})  # an ek_ key starts calls, nothing else
DEFAULT_TTL_S = 60
MIN_TTL_S = 10
MAX_TTL_S = 7200
MAX_ACTIVE_PER_USER = 100
MINTS_PER_MINUTE = 30
RATE_WINDOW_S = 60.0
TOO_MANY = N_("Too many client secrets requested. Wait a minute and try again.")


class ClientSecretError(ValueError):
    """Minting was refused; `code` is the API error code, the message a msgid."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ClientSecret:
    user_id: int
    parent_handle: str  # the session id hash or `token:<id>` that minted it
    expires_at: float
    session: dict[str, Any] = field(default_factory=dict)  # sanitised session config for the calls it starts


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ClientSecretStore:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    async def mint(self, user_id: int, parent_handle: str, ttl_s: int,
                   session: dict[str, Any]) -> tuple[str, ClientSecret]:
        """Return (the secret, shown once; its record). Raises `ClientSecretError` when rate-limited or full."""
        now = self.clock()
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        record = ClientSecret(user_id, parent_handle, now + max(MIN_TTL_S, min(MAX_TTL_S, ttl_s)), session)

        def work(tx: Transaction) -> bool:
            # expired keys go once they no longer count towards the minting rate
            tx.execute("DELETE FROM client_secrets WHERE expires_at <= ? AND created_at <= ?",
                       (now, now - RATE_WINDOW_S))
            row = tx.fetchone(
                "SELECT SUM(CASE WHEN created_at > ? THEN 1 ELSE 0 END) AS recent, "
                "SUM(CASE WHEN expires_at > ? THEN 1 ELSE 0 END) AS active FROM client_secrets WHERE user_id = ?",
                (now - RATE_WINDOW_S, now, user_id))
            recent, active = (int((row or {}).get(k) or 0) for k in ("recent", "active"))
            if recent >= MINTS_PER_MINUTE or active >= MAX_ACTIVE_PER_USER:
                return False
            tx.execute("INSERT INTO client_secrets (secret_hash, user_id, parent_handle, created_at, expires_at, "
                       "session) VALUES (?, ?, ?, ?, ?, ?)",
                       (hash_secret(secret), user_id, parent_handle, now, record.expires_at, json.dumps(session)))
            return True

        if not await self.db.transaction(work):
            raise ClientSecretError("rate_limited", TOO_MANY)
        return secret, record

    async def resolve(self, secret: str) -> ClientSecret | None:
        """The live record for `secret`, or None (unknown or expired). The caller checks the parent is active."""
        if not secret.startswith(SECRET_PREFIX) or len(secret) > 200:
            return None
        row = await self.db.fetchone(
            "SELECT user_id, parent_handle, expires_at, session FROM client_secrets WHERE secret_hash = ?",
            (hash_secret(secret),))
        if row is None or self.clock() >= float(row["expires_at"]):
            return None
        try:
            session = json.loads(str(row["session"]))
        except ValueError:
            session = {}
        return ClientSecret(int(row["user_id"]), str(row["parent_handle"]), float(row["expires_at"]),
                            session if isinstance(session, dict) else {})
