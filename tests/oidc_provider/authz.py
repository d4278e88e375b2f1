"""authlib's authorization-server components wired to Starlette: code grant with PKCE (S256 required), OpenID
Connect ID tokens (RS256) and RP-initiated logout. authlib ships Flask and Django adapters only; the Starlette
adapter below is the few methods its `AuthorizationServer` leaves to a framework.
"""

from __future__ import annotations

import secrets
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import AuthorizationServer, OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.rpinitiated import EndSessionEndpoint, EndSessionRequest
from joserfc.jwk import KeySet
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.oidc_provider.models import AuthorizationCode, Client, TestUser

if TYPE_CHECKING:
    from tests.oidc_provider.provider import OIDCProvider


class _Payload(OAuth2Payload):
    def __init__(self, values: dict[str, list[str]]) -> None:
        self._datalist = values

    @property
    def data(self) -> dict[str, str]:
        return {k: v[0] for k, v in self._datalist.items() if v}

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return defaultdict(list, self._datalist)


class StarletteOAuth2Request(OAuth2Request):
    """Built after the (async) body read, so authlib's synchronous code can use it."""

    def __init__(self, method: str, uri: str, headers: Headers, query: dict[str, list[str]],
                 form: dict[str, list[str]]) -> None:
        super().__init__(method, uri, headers=headers)
        self._query = query
        self._form = form
        merged: dict[str, list[str]] = defaultdict(list)
        for source in (query, form):
            for key, values in source.items():
                merged[key].extend(values)
        self.payload = _Payload(dict(merged))

    @property
    def args(self) -> dict[str, str]:
        return {k: v[0] for k, v in self._query.items()}

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in self._form.items()}

    @classmethod
    async def read(cls, request: Request) -> StarletteOAuth2Request:
        query: dict[str, list[str]] = defaultdict(list)
        for key, value in request.query_params.multi_items():
            query[key].append(value)
        form: dict[str, list[str]] = defaultdict(list)
        if request.method == "POST":
            for name, item in (await request.form()).multi_items():
                form[name].append(str(item))
        return cls(request.method, str(request.url), request.headers, dict(query), dict(form))


class CodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    @property
    def provider(self) -> OIDCProvider:
        provider: OIDCProvider = self.server.provider
        return provider

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        self.provider.codes[code] = AuthorizationCode(
            code=code, client_id=request.client.client_id, redirect_uri=data.get("redirect_uri", ""),
            scope=request.scope, user=request.user, nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"), code_challenge_method=data.get("code_challenge_method"))

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        found = self.provider.codes.get(code)
        if found is None or found.client_id != client.client_id or found.is_expired():
            return None
        return found

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        self.provider.codes.pop(authorization_code.code, None)  # single use

    def authenticate_user(self, authorization_code: AuthorizationCode) -> TestUser:
        return authorization_code.user


class TamperingOpenIDCode(OpenIDCode):
    """Issues ID tokens; `Behaviour.tamper` spoils one property of them for the negative tests."""

    def __init__(self, provider: OIDCProvider) -> None:
        super().__init__(require_nonce=True)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return any(code.nonce == nonce for code in self.provider.codes.values())

    def resolve_client_private_key(self, client: Client) -> Any:
        return self.provider.rogue_key if self.provider.behaviour.tamper == "signature" else self.provider.key

    def get_client_algorithm(self, client: Client) -> str:
        return "RS256"

    def get_encode_header(self, client: Client) -> dict[str, str]:
        return {"alg": "RS256", "kid": self.provider.key.kid or "", "typ": "JWT"}

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        tamper = self.provider.behaviour.tamper
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": "https://evil.example" if tamper == "iss" else self.provider.issuer,
            "aud": "someone-else" if tamper == "aud" else client.client_id,
            "iat": now - 7200 if tamper == "expired" else now,
            "exp": now - 3600 if tamper == "expired" else now + 300,
        }
        return claims

    def get_authorization_code_claims(self, authorization_code: AuthorizationCode) -> dict[str, Any]:
        claims: dict[str, Any] = super().get_authorization_code_claims(authorization_code)
        if self.provider.behaviour.tamper == "nonce":
            claims["nonce"] = "not-the-nonce-you-sent"
        return claims

    def generate_user_info(self, user: TestUser, scope: str) -> UserInfo:
        return UserInfo(user.claims())


class ProviderEndSession(EndSessionEndpoint):
    def get_server_jwks(self) -> KeySet:
        return KeySet([self.server.provider.key])

    def end_session(self, end_session_request: EndSessionRequest) -> None:
        claims = end_session_request.id_token_claims or {}
        self.server.provider.logouts.append({"sub": claims.get("sub"), "with_hint": bool(claims)})


class ProviderServer(AuthorizationServer):
    def __init__(self, provider: OIDCProvider) -> None:
        super().__init__(scopes_supported=["openid", "email", "profile"])
        self.provider = provider
        self.register_token_generator("default", self._bearer_token)
        self.register_grant(CodeGrant, [CodeChallenge(required=True), TamperingOpenIDCode(provider)])
        self.register_endpoint(ProviderEndSession)

    @staticmethod
    def _bearer_token(grant_type: str, client: Client, user: Any = None, scope: str | None = None,
                      expires_in: int | None = None, include_refresh_token: bool = True) -> dict[str, Any]:
        return {"token_type": "Bearer", "access_token": secrets.token_urlsafe(32), "expires_in": 300,
                "scope": scope or ""}

    def query_client(self, client_id: str) -> Client | None:
        return self.provider.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        pass  # nothing reads access tokens back (no userinfo endpoint)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        assert isinstance(request, OAuth2Request), "build it with StarletteOAuth2Request.read() first"
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        if isinstance(body, dict):
            return JSONResponse(body, status_code=status, headers=dict(headers))
        return Response(body or "", status_code=status, headers=dict(headers))
