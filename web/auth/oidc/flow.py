"""The state of a started sign-in, kept in the browser between the redirect to the provider and the callback.

There is no cookie session in this app (sessions are server-side), so each started sign-in gets its own small
signed cookie (itsdangerous, HMAC-SHA256, its own salt), named after a hash of its `state` and scoped to
`/auth/sso/`, so it is never sent anywhere else. It holds state, nonce, PKCE verifier, provider and the local path to
return to: no token and nothing about the user. At most MAX_PENDING_FLOWS exist at once (the oldest are deleted
when more are started), so the cookies stay small however many sign-ins are started and abandoned; each expires
after the login timeout and is deleted when its callback arrives, so it can be used only once.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from http.cookies import SimpleCookie
from typing import Any

from itsdangerous import BadData, URLSafeTimedSerializer

FLOW_COOKIE_PATH = "/auth/sso/"
MAX_PENDING_FLOWS = 5
MAX_NEXT_LENGTH = 512

Header = tuple[bytes, bytes]


@dataclass(frozen=True)
class PendingFlow:
    provider: str
    state: str
    nonce: str
    code_verifier: str
    next_url: str
    # When the flow started, to the microsecond: the signature's timestamp has whole seconds only, and several
    # sign-ins started within one second must still be evicted oldest first.
    created: float = 0.0

    @classmethod
    def new(cls, provider: str, next_url: str) -> PendingFlow:
        return cls(
            created=time.time(),
            provider=provider,
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            code_verifier=secrets.token_urlsafe(48),  # 64 characters of [A-Za-z0-9_-], as RFC 7636 §4.1 allows
            next_url=next_url if len(next_url) <= MAX_NEXT_LENGTH else "/",
        )

    def dump(self) -> dict[str, str | float]:
        return {"p": self.provider, "s": self.state, "n": self.nonce, "v": self.code_verifier, "x": self.next_url,
                "t": self.created}

    @classmethod
    def load(cls, data: Any) -> PendingFlow | None:
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in "psnvx"):
            return None
        created = data.get("t")
        return cls(provider=data["p"], state=data["s"], nonce=data["n"], code_verifier=data["v"], next_url=data["x"],
                   created=float(created) if isinstance(created, int | float) else 0.0)


def cookie_header(name: str, value: str, *, max_age: int, secure: bool) -> Header:
    jar = SimpleCookie()
    jar[name] = value
    morsel = jar[name]
    morsel["path"] = FLOW_COOKIE_PATH
    morsel["max-age"] = max_age
    morsel["httponly"] = True
    morsel["samesite"] = "lax"  # the callback is a cross-site top-level GET: Lax cookies come along, Strict do not
    if secure:
        morsel["secure"] = True
    return b"set-cookie", morsel.OutputString().encode("latin-1")


class FlowCookies:
    def __init__(self, secret_key: str, *, secure: bool, ttl_s: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="oidc-flow",
                                                  signer_kwargs={"digest_method": hashlib.sha256})
        self.secure = secure
        self.ttl_s = ttl_s
        # __Secure- (not __Host-, which demands Path=/): the browser keeps it only if it is Secure.
        self.prefix = "__Secure-sso-flow-" if secure else "sso-flow-"

    def cookie_name(self, state: str) -> str:
        return self.prefix + hashlib.sha256(state.encode()).hexdigest()[:16]

    def _delete(self, name: str) -> Header:
        return cookie_header(name, "", max_age=0, secure=self.secure)

    def _read(self, value: str) -> tuple[PendingFlow | None, float]:
        try:
            data, signed_at = self._serializer.loads(value, max_age=self.ttl_s, return_timestamp=True)
        except BadData:
            return None, 0.0
        stamp = signed_at.timestamp() if isinstance(signed_at, datetime) else 0.0
        return PendingFlow.load(data), stamp

    def start(self, flow: PendingFlow, cookies: dict[str, str]) -> list[Header]:
        """Set-Cookie headers that add `flow` and delete expired, invalid and surplus older flows."""
        live: list[tuple[float, str]] = []
        headers: list[Header] = []
        for name, value in cookies.items():
            if not name.startswith(self.prefix):
                continue
            pending, stamp = self._read(value)
            if pending is None:
                headers.append(self._delete(name))
            else:
                live.append((max(stamp, pending.created), name))
        live.sort()
        surplus = len(live) - (MAX_PENDING_FLOWS - 1)
        headers.extend(self._delete(name) for _stamp, name in live[:max(surplus, 0)])
        value = self._serializer.dumps(flow.dump())
        assert isinstance(value, str)
        headers.append(cookie_header(self.cookie_name(flow.state), value, max_age=self.ttl_s, secure=self.secure))
        return headers

    def take(self, state: str, cookies: dict[str, str]) -> tuple[PendingFlow | None, list[Header]]:
        """The flow `state` belongs to (None when unknown, expired or forged), and the header deleting its cookie."""
        name = self.cookie_name(state)
        value = cookies.get(name)
        if value is None:
            return None, []
        flow, _stamp = self._read(value)
        if flow is not None and not secrets.compare_digest(flow.state.encode(), state.encode()):
            flow = None
        return flow, [self._delete(name)]
