"""What the test provider knows: registered clients, issued codes, its one user, and how it should misbehave."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oidc.core import AuthorizationCodeMixin

CODE_TTL_S = 60.0


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str] = field(default_factory=list)

    @property
    def client_metadata(self) -> dict[str, Any]:  # read by authlib's EndSessionEndpoint
        return {"post_logout_redirect_uris": self.post_logout_redirect_uris}

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        allowed = {"openid", "email", "profile"}
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris  # exact match, as OAuth 2.0 Security BCP requires

    def check_client_secret(self, client_secret: str) -> bool:
        import hmac

        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class TestUser:
    __test__ = False  # not a pytest test class

    sub: str = "alice-0001"
    email: str | None = "alice@example.com"
    email_verified: bool | None = True
    name: str = "Alice Example"
    extra: dict[str, Any] = field(default_factory=dict)  # more claims, e.g. {"roles": ["Voice.Admin"]}

    def claims(self) -> dict[str, Any]:
        claims: dict[str, Any] = {"sub": self.sub, "name": self.name, **self.extra}
        if self.email is not None:
            claims["email"] = self.email
        if self.email_verified is not None:
            claims["email_verified"] = self.email_verified
        return claims


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: TestUser
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: float = field(default_factory=time.time)
    expires_at: float = field(default_factory=lambda: time.time() + CODE_TTL_S)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return int(self.auth_time)

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at


TAMPERING = ("", "aud", "nonce", "iss", "signature", "expired")


@dataclass
class Behaviour:
    """Knobs a test turns; `reset()` on the provider restores these defaults."""

    user: TestUser = field(default_factory=TestUser)
    tamper: str = ""  # one of TAMPERING: how the next ID tokens are spoiled
    deny: bool = False  # the authorize endpoint answers error=access_denied (the user pressed Cancel)
    interactive: bool = False  # show a consent page with Continue / Cancel instead of approving at once
    end_session: bool = True  # advertise end_session_endpoint in discovery
