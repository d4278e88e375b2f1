"""The relying-party side of the authorization code flow, built from authlib's protocol pieces.

authlib's Starlette integration keeps its state in `request.session`, which this app does not have, so only its
framework-free parts are used: `prepare_grant_uri`, the S256 code challenge, `prepare_token_request` and `ClientAuth`
(RFC 6749/7636), and `CodeIDToken` claim validation over a joserfc-verified JWT (the way authlib's own OIDC client
does it). The HTTP calls go through the app's shared httpx client, under a deadline.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jws import JWSRegistry

from web.auth.oidc.config import ProviderConfig
from web.auth.oidc.errors import SSOError
from web.auth.oidc.flow import PendingFlow
from web.auth.oidc.metadata import MetadataCache, ProviderMetadata, fetch_json

CLOCK_SKEW_S = 120  # leeway for exp/iat between our clock and the provider's (authlib's default)


def authorization_url(provider: ProviderConfig, meta: ProviderMetadata, flow: PendingFlow, redirect_uri: str,
                      *, ui_locales: str = "") -> str:
    url: str = prepare_grant_uri(
        meta.authorization_endpoint,
        provider.client_id,
        "code",
        redirect_uri=redirect_uri,
        scope=" ".join(provider.scopes),
        state=flow.state,
        nonce=flow.nonce,
        code_challenge=create_s256_code_challenge(flow.code_verifier),
        code_challenge_method="S256",
        ui_locales=ui_locales or None,
    )
    return url


async def exchange_code(http: httpx.AsyncClient, provider: ProviderConfig, meta: ProviderMetadata, *, code: str,
                        code_verifier: str, redirect_uri: str, timeout_s: float) -> dict[str, Any]:
    """POST the code to the token endpoint; the answer must carry an ID token."""
    body = prepare_token_request("authorization_code", code=code, redirect_uri=redirect_uri,
                                 code_verifier=code_verifier)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    auth = ClientAuth(provider.client_id, provider.client_secret, meta.token_auth_method)
    url, headers, body = auth.prepare("POST", meta.token_endpoint, headers, body)
    status, doc = await fetch_json(http, url, timeout_s, what="token", method="POST", content=body, headers=headers)
    if isinstance(doc, dict) and isinstance(doc.get("error"), str):  # RFC 6749 §5.2
        error = doc["error"]
        detail = f"token endpoint: {error}: {str(doc.get('error_description', ''))[:300]}"
        # invalid_grant: the code expired, was used already, or PKCE/redirect URI did not match.
        raise SSOError("bad_code" if error == "invalid_grant" else "bad_provider", detail)
    if status != 200 or not isinstance(doc, dict):
        raise SSOError("bad_provider", f"token endpoint answered {status}")
    if not isinstance(doc.get("id_token"), str):
        raise SSOError("bad_provider", "token endpoint answered without an id_token (is 'openid' in the scope?)")
    return doc


def _decode(id_token: str, keys: Any, algs: tuple[str, ...]) -> jwt.Token:
    return jwt.decode(id_token, keys, registry=JWSRegistry(algorithms=list(algs), strict_check_header=False))


async def validate_id_token(cache: MetadataCache, meta: ProviderMetadata, id_token: str, *, nonce: str,
                            access_token: str | None) -> dict[str, Any]:
    """Signature (provider's JWKS, asymmetric algorithms only), iss, aud, azp, exp, iat, nonce and at_hash."""
    provider = cache.provider
    try:
        try:
            token = _decode(id_token, await cache.key_set(), meta.signing_algs)
        except InvalidKeyIdError:  # the provider may have rolled its keys since we cached them
            token = _decode(id_token, await cache.key_set(unknown_kid=True), meta.signing_algs)
    except JoseError as exc:
        raise SSOError("invalid_token", f"signature: {exc.error}: {exc.description}") from exc
    except ValueError as exc:  # malformed compact serialisation
        raise SSOError("invalid_token", f"malformed ID token: {exc}") from exc
    claims = CodeIDToken(
        token.claims,
        token.header,
        {
            "iss": {"essential": True, "value": provider.issuer},
            "aud": {"essential": True, "value": provider.client_id},
            "sub": {"essential": True},
            "exp": {"essential": True},
            "iat": {"essential": True},
            "nonce": {"essential": True, "value": nonce},
        },
        {"nonce": nonce, "client_id": provider.client_id, "access_token": access_token},
    )
    try:
        claims.validate(now=int(time.time()), leeway=CLOCK_SKEW_S)
    except JoseError as exc:
        raise SSOError("invalid_token", f"claims: {exc.error}: {exc.description}") from exc
    aud = claims["aud"]
    # OIDC Core §3.1.3.7 (3): reject a token that also names audiences we do not know.
    if isinstance(aud, list) and any(a != provider.client_id for a in aud):
        raise SSOError("invalid_token", f"claims: untrusted extra audiences {aud!r}")
    return dict(claims)
