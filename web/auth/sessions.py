"""Server-side sessions: the cookie carries only a signed random id; the record decides.

The database stores a SHA-256 of the id, never the id itself, and that hash is the session's public handle
(`request.state.session_id`, the key other parts of the app use, e.g. to close a session's voice calls).
Every request checks the record, so logout, a password change or a disabled account end a session at once.
"""

from __future__ import annotations

import hashlib
import inspect
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from itsdangerous import BadSignature, Signer
from loguru import logger

from web.accounts.models import User
from web.db import Database
from web.settings import Settings

TOUCH_INTERVAL_S = 60.0  # write last_seen at most this often: fewer writes, and idle timing stays within a minute
_COLUMNS = "u.id, u.email, u.display_name, u.role, u.disabled, u.created_at, u.last_login_at"

RevocationListener = Callable[[list[str]], Awaitable[None] | None]


def hash_session_id(raw_id: str) -> str:
    return hashlib.sha256(raw_id.encode()).hexdigest()


def cookie_name(settings: Settings) -> str:
    # __Host- makes the browser refuse the cookie unless it is Secure, host-only and Path=/.
    return "__Host-sid" if settings.is_production else "sid"


@dataclass(frozen=True)
class ActiveSession:
    session_id: str  # the id hash: safe to log and to use as a key
    user: User
    created_at: float
    last_seen_at: float
    expires_at: float  # the earlier of idle and absolute expiry


@dataclass(frozen=True)
class Resolution:
    session: ActiveSession | None
    failure: str = ""  # "", "invalid", "expired", "revoked", "disabled"


class SessionStore:
    def __init__(self, db: Database, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self._signer = Signer(settings.secret_key, salt="session-cookie", digest_method=hashlib.sha256)
        self._listeners: list[RevocationListener] = []
        # Other credentials of a user (device tokens) whose live calls must also end when the user is revoked.
        self.extra_handles: Callable[[int], Awaitable[list[str]]] | None = None

    # --- cookie ---
    def sign(self, raw_id: str) -> str:
        return self._signer.sign(raw_id).decode()

    def unsign(self, cookie_value: str) -> str | None:
        try:
            return self._signer.unsign(cookie_value).decode()
        except (BadSignature, UnicodeDecodeError):
            return None

    # --- lifecycle ---
    async def create(self, user_id: int, *, ip: str, user_agent: str) -> tuple[str, str]:
        """Start a session; return (raw id for the cookie, id hash)."""
        raw_id = secrets.token_urlsafe(32)
        id_hash = hash_session_id(raw_id)
        now = self.clock()
        await self.db.execute(
            "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, ip, user_agent) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (id_hash, user_id, now, now, ip[:64], user_agent[:256]),
        )
        return raw_id, id_hash

    async def resolve(self, raw_id: str) -> Resolution:
        id_hash = hash_session_id(raw_id)
        row = await self.db.fetchone(
            f"SELECT s.created_at AS s_created, s.last_seen_at AS s_seen, {_COLUMNS} "
            "FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?",
            (id_hash,),
        )
        if row is None:
            return Resolution(None, "revoked")
        user = User.from_row(row)
        now = self.clock()
        created, seen = float(row["s_created"]), float(row["s_seen"])
        idle_deadline = seen + self.settings.session_idle_timeout_s
        absolute_deadline = created + self.settings.session_absolute_lifetime_s
        if user.disabled:
            await self._delete([id_hash])
            return Resolution(None, "disabled")
        if now >= idle_deadline or now >= absolute_deadline:
            await self._delete([id_hash])
            logger.info("session expired", session_id=id_hash[:12], user_id=user.id)
            return Resolution(None, "expired")
        if now - seen >= TOUCH_INTERVAL_S:
            await self.db.execute("UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?", (now, id_hash))
            seen = now
        expires = min(seen + self.settings.session_idle_timeout_s, absolute_deadline)
        return Resolution(ActiveSession(id_hash, user, created, seen, expires))

    async def revoke(self, session_id: str) -> None:
        await self._delete([session_id])
        await self._notify([session_id])

    async def revoke_user(self, user_id: int, *, except_session: str | None = None,
                          include_devices: bool = True) -> int:
        """End the user's sessions (and, with `include_devices`, the live calls of their device tokens)."""
        rows = await self.db.fetchall("SELECT id_hash FROM sessions WHERE user_id = ?", (user_id,))
        ids = [str(r["id_hash"]) for r in rows if r["id_hash"] != except_session]
        await self._delete(ids)
        extra = await self.extra_handles(user_id) if self.extra_handles and include_devices else []
        await self._notify(ids + extra)
        if ids:
            logger.info("sessions revoked", user_id=user_id, count=len(ids))
        return len(ids)

    async def is_active(self, session_id: str) -> bool:
        row = await self.db.fetchone(
            "SELECT s.last_seen_at AS seen, s.created_at AS created, u.disabled AS disabled "
            "FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?",
            (session_id,),
        )
        if row is None or row["disabled"]:
            return False
        now = self.clock()
        return (now < float(row["seen"]) + self.settings.session_idle_timeout_s
                and now < float(row["created"]) + self.settings.session_absolute_lifetime_s)

    async def count_active(self) -> int:
        cutoff = self.clock() - self.settings.session_idle_timeout_s
        row = await self.db.fetchone("SELECT COUNT(*) AS n FROM sessions WHERE last_seen_at > ?", (cutoff,))
        return int(row["n"]) if row else 0

    async def purge_expired(self) -> int:
        now = self.clock()
        return await self.db.execute(
            "DELETE FROM sessions WHERE last_seen_at <= ? OR created_at <= ?",
            (now - self.settings.session_idle_timeout_s, now - self.settings.session_absolute_lifetime_s),
        )

    # --- listeners (e.g. the voice call registry closes a revoked session's calls) ---
    def add_revocation_listener(self, listener: RevocationListener) -> None:
        self._listeners.append(listener)

    async def notify_revoked(self, handles: list[str]) -> None:
        """Tell the listeners that these credentials (session ids or token handles) no longer grant access."""
        await self._notify(handles)

    async def _delete(self, ids: Sequence[str]) -> None:
        for id_hash in ids:
            await self.db.execute("DELETE FROM sessions WHERE id_hash = ?", (id_hash,))

    async def _notify(self, ids: list[str]) -> None:
        if not ids:
            return
        for listener in list(self._listeners):
            try:
                result = listener(list(ids))
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("session revocation listener failed")
