"""User accounts in the database."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from web.accounts.models import ROLES, User
from web.accounts.passwords import PasswordService, check_password_policy
from web.db import Database

_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
KNOWN_NETWORK_MAX_AGE_S = 180 * 24 * 3600
KNOWN_NETWORKS_PER_USER = 16
_COLUMNS = "id, email, display_name, role, disabled, created_at, last_login_at"


class AccountError(ValueError):
    """An account operation was refused; the message is a msgid suitable for the user or the CLI."""


def normalize_email(email: str) -> str:
    return email.strip().lower()


class UserRepository:
    def __init__(self, db: Database, passwords: PasswordService, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.passwords = passwords
        self.clock = clock

    async def get(self, user_id: int) -> User | None:
        row = await self.db.fetchone(f"SELECT {_COLUMNS} FROM users WHERE id = ?", (user_id,))
        return User.from_row(row) if row else None

    async def get_by_email(self, email: str) -> User | None:
        row = await self.db.fetchone(f"SELECT {_COLUMNS} FROM users WHERE email = ?", (normalize_email(email),))
        return User.from_row(row) if row else None

    async def get_with_hash(self, email: str) -> tuple[User, str] | None:
        row = await self.db.fetchone(
            f"SELECT {_COLUMNS}, password_hash FROM users WHERE email = ?", (normalize_email(email),)
        )
        return (User.from_row(row), str(row["password_hash"])) if row else None

    async def list(self) -> list[User]:
        return [User.from_row(r) for r in await self.db.fetchall(f"SELECT {_COLUMNS} FROM users ORDER BY id")]

    async def count_active(self) -> int:
        row = await self.db.fetchone("SELECT COUNT(*) AS n FROM users WHERE disabled = 0")
        return int(row["n"]) if row else 0

    async def create(self, email: str, password: str, *, display_name: str = "", role: str = "user",
                     check_policy: bool = True) -> User:
        email = normalize_email(email)
        if not _EMAIL_RE.match(email):
            raise AccountError("Enter a valid email address.")
        if role not in ROLES:
            raise AccountError("Role must be user or admin.")
        if check_policy:
            check_password_policy(password)
        if await self.get_by_email(email):
            raise AccountError("An account with this email already exists.")
        password_hash = await self.passwords.hash(password)
        user_id = await self.db.insert(
            "INSERT INTO users (email, password_hash, display_name, role, disabled, created_at) "
            "VALUES (?, ?, ?, ?, 0, ?)",
            (email, password_hash, display_name.strip(), role, self.clock()),
        )
        user = await self.get(user_id)
        assert user is not None
        return user

    async def set_password(self, user_id: int, password: str, *, check_policy: bool = True) -> None:
        if check_policy:
            check_password_policy(password)
        password_hash = await self.passwords.hash(password)
        await self.db.execute("UPDATE users SET password_hash = ?, password_login = 1, must_change_password = 0 "
                              "WHERE id = ?",
                              (password_hash, user_id))

    async def has_password_login(self, user_id: int) -> bool:
        """False for accounts created by single sign-on, whose random password nobody knows."""
        row = await self.db.fetchone("SELECT password_login FROM users WHERE id = ?", (user_id,))
        return bool(row and row["password_login"])

    async def mark_sso_only(self, user_id: int) -> None:
        await self.db.execute("UPDATE users SET password_login = 0 WHERE id = ?", (user_id,))

    async def store_rehash(self, user_id: int, password: str) -> None:
        password_hash = await self.passwords.hash(password)
        await self.db.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id))

    async def set_disabled(self, user_id: int, disabled: bool) -> None:
        await self.db.execute("UPDATE users SET disabled = ? WHERE id = ?", (1 if disabled else 0, user_id))

    async def set_role(self, user_id: int, role: str) -> None:
        if role not in ROLES:
            raise AccountError("Role must be user or admin.")
        await self.db.execute("UPDATE users SET role = ? WHERE id = ?", (role, user_id))

    async def record_login(self, user_id: int, network: str = "") -> None:
        """Note the sign-in, and the network it came from (web/accounts/networks.py `home_network`)."""
        now = self.clock()
        await self.db.execute("UPDATE users SET last_login_at = ? WHERE id = ?", (now, user_id))
        if not network:
            return
        await self.db.execute(
            "INSERT INTO login_networks (user_id, network, last_at) VALUES (?, ?, ?) "
            "ON CONFLICT (user_id, network) DO UPDATE SET last_at = excluded.last_at", (user_id, network[:64], now))
        await self.db.execute(  # bounded: the most recent few, within the known-device cookie's lifetime
            "DELETE FROM login_networks WHERE user_id = ? AND (last_at < ? OR network NOT IN "
            "(SELECT network FROM login_networks WHERE user_id = ? ORDER BY last_at DESC LIMIT ?))",
            (user_id, now - KNOWN_NETWORK_MAX_AGE_S, user_id, KNOWN_NETWORKS_PER_USER))

    async def signed_in_from(self, email: str, network: str) -> bool:
        """True when the account signed in from `network` within the last KNOWN_NETWORK_MAX_AGE_S."""
        if not email or not network:
            return False
        row = await self.db.fetchone(
            "SELECT 1 AS hit FROM login_networks n JOIN users u ON u.id = n.user_id "
            "WHERE u.email = ? AND n.network = ? AND n.last_at >= ?",
            (normalize_email(email), network, self.clock() - KNOWN_NETWORK_MAX_AGE_S))
        return row is not None
