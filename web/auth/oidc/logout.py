"""RP-initiated logout: after signing out here, offer to sign out at the provider too.

Signing out here (POST /logout) ends our session; the provider's own session lives on. When the provider's discovery
document has an `end_session_endpoint`, a sign-in through it leaves a small signed cookie naming the provider and a
random handle; the handle finds the ID token, kept server-side (it holds personal data and would not fit a cookie),
which the provider wants back as `id_token_hint`. The login page shows the offer while the cookie lives; following it
deletes both and sends the browser to the provider.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable

from itsdangerous import BadData, URLSafeTimedSerializer

from web.db import Database
from web.security.cookies import set_cookie_header

Header = tuple[bytes, bytes]


class LogoutHints:
    def __init__(self, db: Database, secret_key: str, *, secure: bool, lifetime_s: int,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.secure = secure
        self.lifetime_s = lifetime_s
        self.clock = clock
        self.cookie_name = "__Host-sso-logout" if secure else "sso-logout"
        self._serializer = URLSafeTimedSerializer(secret_key, salt="oidc-logout-hint",
                                                  signer_kwargs={"digest_method": hashlib.sha256})

    def _cookie(self, value: str, max_age: int) -> Header:
        return set_cookie_header(self.cookie_name, value, max_age=max_age, secure=self.secure)

    async def remember(self, provider: str, id_token: str) -> Header:
        handle = secrets.token_urlsafe(24)
        now = self.clock()
        await self.db.execute("DELETE FROM oidc_logout_hints WHERE created_at < ?", (now - self.lifetime_s,))
        await self.db.execute(
            "INSERT INTO oidc_logout_hints (handle_hash, provider, id_token, created_at) VALUES (?, ?, ?, ?)",
            (hashlib.sha256(handle.encode()).hexdigest(), provider, id_token, now),
        )
        value = self._serializer.dumps({"p": provider, "h": handle})
        assert isinstance(value, str)
        return self._cookie(value, self.lifetime_s)

    def provider(self, cookies: dict[str, str]) -> str | None:
        """The provider the last SSO sign-in on this browser used (no I/O: for rendering the login page)."""
        data = self._load(cookies)
        return data[0] if data else None

    def _load(self, cookies: dict[str, str]) -> tuple[str, str] | None:
        raw = cookies.get(self.cookie_name)
        if not raw:
            return None
        try:
            data = self._serializer.loads(raw, max_age=self.lifetime_s)
        except BadData:
            return None
        if isinstance(data, dict) and isinstance(data.get("p"), str) and isinstance(data.get("h"), str):
            return data["p"], data["h"]
        return None

    async def take(self, cookies: dict[str, str], provider: str) -> tuple[str | None, list[Header]]:
        """The stored ID token for `provider` (None if there is none), and the header deleting the cookie."""
        data = self._load(cookies)
        headers = [self._cookie("", 0)] if self.cookie_name in cookies else []
        if data is None or data[0] != provider:
            return None, headers
        handle_hash = hashlib.sha256(data[1].encode()).hexdigest()
        row = await self.db.fetchone("SELECT id_token, created_at FROM oidc_logout_hints WHERE handle_hash = ?",
                                     (handle_hash,))
        await self.db.execute("DELETE FROM oidc_logout_hints WHERE handle_hash = ?", (handle_hash,))
        if row is None or float(row["created_at"]) < self.clock() - self.lifetime_s:
            return None, headers
        return str(row["id_token"]), headers
