"""A real OpenID Connect provider on 127.0.0.1 for the tests, served by uvicorn in a background thread.

Endpoints: discovery, JWKS (RS256), authorize (approves the configured user at once, or shows a Continue/Cancel
page when `behaviour.interactive`), token (client secret, PKCE S256 and single-use codes checked by authlib) and
end_session (RP-initiated logout). Tests change `provider.behaviour` to make it misbehave and read what it received
from `authorize_requests`, `token_requests` and `logouts`.
"""

from __future__ import annotations

import asyncio
import html
import threading
from collections import Counter
from typing import Any

import uvicorn
from authlib.oauth2 import OAuth2Error
from authlib.oidc.discovery import OpenIDProviderMetadata
from authlib.oidc.rpinitiated import OpenIDProviderMetadata as LogoutMetadata
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from tests.oidc_provider.authz import ProviderServer, StarletteOAuth2Request
from tests.oidc_provider.models import Behaviour, Client
from tests.support import free_port

STARTUP_TIMEOUT_S = 10.0


class OIDCProvider:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1", "use": "sig", "alg": "RS256"})
        # Same key id, different key: a token it signs looks right but fails verification.
        self.rogue_key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1", "use": "sig", "alg": "RS256"})
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, Any] = {}
        self.behaviour = Behaviour()
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self.logouts: list[dict[str, Any]] = []
        self.hits: Counter[str] = Counter()  # requests per endpoint
        self.server = ProviderServer(self)
        self.app = Starlette(routes=[
            Route("/.well-known/openid-configuration", self.discovery, methods=["GET"]),
            Route("/jwks", self.jwks, methods=["GET"]),
            Route("/authorize", self.authorize, methods=["GET", "POST"]),
            Route("/token", self.token, methods=["POST"]),
            Route("/logout", self.end_session, methods=["GET", "POST"]),
        ])
        self._uvicorn: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # --- configuration by the tests ---
    def register_client(self, client_id: str, client_secret: str, redirect_uris: list[str],
                        post_logout_redirect_uris: list[str] | None = None) -> Client:
        client = Client(client_id, client_secret, redirect_uris, post_logout_redirect_uris or [])
        self.clients[client_id] = client
        return client

    def reset(self) -> None:
        self.behaviour = Behaviour()
        self.codes.clear()
        self.authorize_requests.clear()
        self.token_requests.clear()
        self.logouts.clear()
        self.hits.clear()

    # --- endpoints ---
    async def discovery(self, request: Request) -> Response:
        self.hits["discovery"] += 1
        doc: dict[str, Any] = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code"],
        }
        if self.behaviour.end_session:
            doc["end_session_endpoint"] = f"{self.issuer}/logout"
        OpenIDProviderMetadata(doc).validate(metadata_classes=[LogoutMetadata])  # the document itself is compliant
        return JSONResponse(doc)

    async def jwks(self, request: Request) -> Response:
        self.hits["jwks"] += 1
        return JSONResponse(KeySet([self.key]).as_dict(private=False))

    async def authorize(self, request: Request) -> Response:
        oauth_request = await StarletteOAuth2Request.read(request)
        params = oauth_request.payload.data
        if request.method == "GET":
            self.authorize_requests.append(dict(params))
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return JSONResponse({"error": "invalid_request", "error_description": "PKCE S256 is required"}, 400)
        try:
            grant = self.server.get_consent_grant(oauth_request, end_user=None)
        except OAuth2Error as error:
            response: Response = self.server.handle_error_response(oauth_request, error)
            return response
        behaviour = self.behaviour
        if request.method == "GET" and behaviour.interactive:
            return self._consent_page(params)
        approved = not behaviour.deny and (request.method == "GET" or params.get("decision") == "allow")
        result: Response = self.server.create_authorization_response(
            oauth_request, grant_user=behaviour.user if approved else None, grant=grant)
        return result

    def _consent_page(self, params: dict[str, str]) -> Response:
        hidden = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                         for k, v in params.items() if k != "decision")
        name = html.escape(self.behaviour.user.name)
        return HTMLResponse(
            f"<!doctype html><title>Test IdP</title><h1>Test identity provider</h1>"
            f'<form method="post" action="/authorize">{hidden}'
            f'<button name="decision" value="allow">Continue as {name}</button>'
            f'<button name="decision" value="deny">Cancel</button></form>')

    async def token(self, request: Request) -> Response:
        self.hits["token"] += 1
        oauth_request = await StarletteOAuth2Request.read(request)
        self.token_requests.append({k: v for k, v in oauth_request.form.items() if k != "client_secret"})
        response: Response = self.server.create_token_response(oauth_request)
        return response

    async def end_session(self, request: Request) -> Response:
        oauth_request = await StarletteOAuth2Request.read(request)
        try:
            validated = self.server.validate_endpoint_request("end_session", oauth_request)
        except OAuth2Error as error:
            response: Response = self.server.handle_error_response(oauth_request, error)
            return response
        done = self.server.create_endpoint_response("end_session", validated)
        return done or HTMLResponse("<!doctype html><title>Signed out</title><p>You are signed out.</p>")

    # --- running ---
    def start(self) -> OIDCProvider:
        ready = threading.Event()

        class _Server(uvicorn.Server):
            async def startup(self, sockets: Any = None) -> None:
                await super().startup(sockets)
                ready.set()

        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._uvicorn = _Server(config)
        self._thread = threading.Thread(target=lambda: asyncio.run(self._uvicorn.serve()),  # type: ignore[union-attr]
                                        name=f"oidc-provider-{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(STARTUP_TIMEOUT_S):
            raise RuntimeError(f"test OIDC provider did not start on port {self.port}")
        return self

    def stop(self) -> None:
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(STARTUP_TIMEOUT_S)
        self._uvicorn = self._thread = None
