"""Who signed in: the (issuer, subject) pair an ID token names, and the table linking it to an account.

`sub` is unique only within its issuer, and emails change and get reassigned, so an account is found by the pair,
never by email alone (OIDC Core §5.7).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from web.db import Database, DatabaseError

_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")


@dataclass(frozen=True)
class Identity:
    issuer: str
    subject: str
    email: str  # the `email` claim, lower case; "" when absent or malformed
    email_verified: bool | None  # None: the provider did not say (Entra ID never does)
    fallback_email: str  # `preferred_username` when it looks like an address (Entra's UPN); for new accounts only
    name: str
    claims: dict[str, Any]

    @property
    def email_domain(self) -> str:
        return self.email.rpartition("@")[2]

    @property
    def account_email(self) -> str:
        return self.email or self.fallback_email


def _address(value: Any) -> str:
    text = value.strip().lower() if isinstance(value, str) else ""
    return text if _EMAIL_RE.match(text) else ""


def identity_from_claims(claims: dict[str, Any]) -> Identity:
    verified = claims.get("email_verified")
    if isinstance(verified, str):  # some providers send "true"/"false" strings
        verified = verified.strip().lower() == "true"
    name = claims.get("name")
    return Identity(
        issuer=str(claims["iss"]),
        subject=str(claims["sub"]),
        email=_address(claims.get("email")),
        email_verified=verified if isinstance(verified, bool) else None,
        fallback_email=_address(claims.get("preferred_username")),
        name=name.strip()[:200] if isinstance(name, str) else "",
        claims=claims,
    )


class IdentityStore:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    async def find_user_id(self, issuer: str, subject: str) -> int | None:
        row = await self.db.fetchone("SELECT user_id FROM oidc_identities WHERE issuer = ? AND subject = ?",
                                     (issuer, subject))
        return int(row["user_id"]) if row else None

    async def link(self, identity: Identity, user_id: int, provider: str) -> bool:
        """Link the pair to the account; False when another request linked it first (unique constraint)."""
        try:
            await self.db.execute(
                "INSERT INTO oidc_identities (issuer, subject, user_id, provider, email, created_at, last_login_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (identity.issuer, identity.subject, user_id, provider, identity.account_email, self.clock(),
                 self.clock()),
            )
        except DatabaseError:
            if await self.find_user_id(identity.issuer, identity.subject) is not None:
                return False
            raise
        return True

    async def touch(self, identity: Identity) -> None:
        await self.db.execute(
            "UPDATE oidc_identities SET last_login_at = ?, email = ? WHERE issuer = ? AND subject = ?",
            (self.clock(), identity.account_email, identity.issuer, identity.subject),
        )
