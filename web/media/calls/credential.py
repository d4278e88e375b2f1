"""What a live call is bound to: the browser session or the device token that admitted it.

Revocation (sign-out, a revoked token, a disabled account) and the periodic credential check find calls by this
handle. The auth layer names credentials with one string per kind (a session's id hash, `token:<id>` for a device
token); `from_handle` / `handle` convert at that boundary, so nothing else parses the string.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TOKEN_PREFIX = "token:"


@dataclass(frozen=True)
class Credential:
    kind: Literal["session", "token"]
    key: str  # the session's id hash, or the token's id as text

    @classmethod
    def session(cls, id_hash: str) -> Credential:
        return cls("session", id_hash)

    @classmethod
    def token(cls, token_id: int) -> Credential:
        return cls("token", str(int(token_id)))

    @classmethod
    def from_handle(cls, handle: str) -> Credential:
        """The auth layer's string form (`request.state.session_id`, revocation listeners) as a typed handle."""
        if handle.startswith(TOKEN_PREFIX):
            return cls.token(int(handle.removeprefix(TOKEN_PREFIX)))
        return cls.session(handle)

    @property
    def is_token(self) -> bool:
        return self.kind == "token"

    @property
    def token_id(self) -> int:
        if self.kind != "token":
            raise ValueError("not a device token")
        return int(self.key)

    @property
    def handle(self) -> str:
        return f"{TOKEN_PREFIX}{self.key}" if self.kind == "token" else self.key

    def __str__(self) -> str:  # logs: a session hash is shortened, a token id is not secret
        return f"token:{self.key}" if self.kind == "token" else f"session:{self.key[:12]}"
