"""Short-lived client secrets (`ek_…`), as OpenAI's `POST /v1/realtime/client_secrets` mints them.

An app's backend, holding a device token or a signed-in session (the *parent*), mints one for a browser; the browser
uses it as its bearer key to start calls (`POST /v1/realtime/calls`, `GET /v1/realtime`) and for nothing else. A
secret lives 60 s by default (10 s to 2 h on request); calls it started may outlive it. Kept in process memory
(like live calls), only as SHA-256 hashes; each one is bound to its user and its parent's handle, so it stops working
the moment the parent is revoked or signed out, and the calls it started are the parent's calls (revoking the parent
ends them too). Minting is rate-limited per user.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from web.i18n import N_

SECRET_PREFIX = "ek_"
CALL_PATHS = frozenset({"/v1/realtime/calls", "/v1/realtime"})  # an ek_ key starts calls, nothing else
DEFAULT_TTL_S = 60
MIN_TTL_S = 10
MAX_TTL_S = 7200
MAX_ACTIVE_PER_USER = 100
MAX_ACTIVE = 20_000
MINTS_PER_MINUTE = 30
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


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ClientSecretStore:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._secrets: dict[str, ClientSecret] = {}
        self._mints: dict[int, deque[float]] = {}

    def mint(self, user_id: int, parent_handle: str, ttl_s: int, session: dict[str, Any]) -> tuple[str, ClientSecret]:
        """Return (the secret, shown once; its record). Raises `ClientSecretError` when rate-limited or full."""
        now = self.clock()
        self._prune(now)
        recent = self._mints.setdefault(user_id, deque())
        while recent and now - recent[0] >= 60:
            recent.popleft()
        if len(recent) >= MINTS_PER_MINUTE:
            raise ClientSecretError("rate_limited", TOO_MANY)
        mine = sum(1 for s in self._secrets.values() if s.user_id == user_id)
        if mine >= MAX_ACTIVE_PER_USER or len(self._secrets) >= MAX_ACTIVE:
            raise ClientSecretError("rate_limited", TOO_MANY)
        recent.append(now)
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        record = ClientSecret(user_id, parent_handle, now + max(MIN_TTL_S, min(MAX_TTL_S, ttl_s)), session)
        self._secrets[_hash(secret)] = record
        return secret, record

    def resolve(self, secret: str) -> ClientSecret | None:
        """The live record for `secret`, or None (unknown or expired). The caller checks the parent is active."""
        if not secret.startswith(SECRET_PREFIX) or len(secret) > 200:
            return None
        key = _hash(secret)
        record = self._secrets.get(key)
        if record is None:
            return None
        if self.clock() >= record.expires_at:
            del self._secrets[key]
            return None
        return record

    def revoke_parent(self, parent_handle: str) -> int:
        """Drop every secret minted by `parent_handle`; returns how many."""
        doomed = [k for k, s in self._secrets.items() if s.parent_handle == parent_handle]
        for key in doomed:
            del self._secrets[key]
        return len(doomed)

    def _prune(self, now: float) -> None:
        for key in [k for k, s in self._secrets.items() if now >= s.expires_at]:
            del self._secrets[key]
        for user_id in [u for u, q in self._mints.items() if not q or now - q[-1] >= 60]:
            del self._mints[user_id]
