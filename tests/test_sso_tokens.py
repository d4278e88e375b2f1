"""ID token validation and provider metadata parsing, unit by unit (the end-to-end cases are in test_sso_failures):
no `none` or HMAC algorithms, untrusted extra audiences, azp, nonce, at_hash, garbage; discovery documents that
name another issuer, lack endpoints or use plain http in production; JWKS with odd keys."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from authlib.oidc.core.util import create_half_hash
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey

from web.auth.oidc.client import validate_id_token
from web.auth.oidc.config import ProviderConfig
from web.auth.oidc.errors import SSOError
from web.auth.oidc.metadata import MetadataCache, parse_key_set, parse_metadata

ISSUER = "https://idp.example/tenant/v2.0"
CLIENT = "client-1"
SECRET = "client-secret-value-0123456789"
NONCE = "n-0123456789"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
PROVIDER = ProviderConfig(name="idp", issuer=ISSUER, client_id=CLIENT, client_secret=SECRET, display_name="IdP")
DOC = {"issuer": ISSUER, "authorization_endpoint": "https://idp.example/authorize",
       "token_endpoint": "https://idp.example/token", "jwks_uri": "https://idp.example/keys",
       "id_token_signing_alg_values_supported": ["RS256"]}


@pytest.fixture
async def cache() -> AsyncIterator[MetadataCache]:
    async with httpx.AsyncClient() as http:  # never used: metadata and keys are preloaded
        cache = MetadataCache(PROVIDER, http, ttl_s=3600, timeout_s=1, production=True)
        cache._metadata = (cache.clock(), parse_metadata(PROVIDER, DOC, True))
        cache._keys = (cache.clock(), KeySet([KEY]))
        yield cache


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "u1", "aud": CLIENT, "iat": now, "exp": now + 300, "nonce": NONCE}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(claims: dict[str, Any], key: Any = KEY, alg: str = "RS256") -> str:
    return jwt.encode({"alg": alg, "kid": "k1"}, claims, key)


async def _validate(cache: MetadataCache, token: str, access_token: str | None = None) -> dict[str, Any]:
    meta = cache.cached()
    assert meta is not None
    return await validate_id_token(cache, meta, token, nonce=NONCE, access_token=access_token)


async def test_a_good_token_passes(cache: MetadataCache) -> None:
    claims = await _validate(cache, _sign(_claims(aud=[CLIENT])))
    assert claims["sub"] == "u1"


def _unsigned(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}."


@pytest.mark.parametrize("token", [
    pytest.param(lambda: _unsigned(_claims()), id="alg-none"),
    pytest.param(lambda: _sign(_claims(), OctKey.import_key(SECRET.encode()), "HS256"), id="hs256-with-secret"),
    pytest.param(lambda: _sign(_claims(aud=[CLIENT, "other-app"])), id="extra-audience"),
    pytest.param(lambda: _sign(_claims(aud=[CLIENT], azp="other-app")), id="foreign-azp"),
    pytest.param(lambda: _sign(_claims(nonce=None)), id="no-nonce"),
    pytest.param(lambda: _sign(_claims(sub=None)), id="no-sub"),
    pytest.param(lambda: _sign(_claims(iat=int(time.time()) + 3600)), id="issued-in-the-future"),
    pytest.param(lambda: _sign(_claims(iss=ISSUER + "/")), id="issuer-differs-by-a-slash"),
    pytest.param(lambda: "not.a.token", id="garbage"),
    pytest.param(lambda: "", id="empty"),
])
async def test_bad_tokens_are_refused(cache: MetadataCache, token: Any) -> None:
    with pytest.raises(SSOError) as caught:
        await _validate(cache, token())
    assert caught.value.code == "invalid_token"


async def test_at_hash_is_checked_when_present(cache: MetadataCache) -> None:
    good = create_half_hash("the-access-token", "RS256").decode()
    assert await _validate(cache, _sign(_claims(at_hash=good)), access_token="the-access-token")
    with pytest.raises(SSOError):
        await _validate(cache, _sign(_claims(at_hash=good)), access_token="another-access-token")


def test_discovery_for_another_issuer_is_refused() -> None:
    with pytest.raises(SSOError, match="OIDC_IDP_ISSUER") as caught:
        parse_metadata(PROVIDER, DOC | {"issuer": "https://idp.example/other/v2.0"}, True)
    assert caught.value.code == "bad_provider"


@pytest.mark.parametrize(("change", "production", "needle"), [
    ({"token_endpoint": None}, True, "token_endpoint"),
    ({"jwks_uri": "http://idp.example/keys"}, True, "https"),
    ({"id_token_signing_alg_values_supported": ["HS256", "none"]}, True, "algorithm"),
])
def test_unusable_discovery_documents(change: dict[str, Any], production: bool, needle: str) -> None:
    doc = {k: v for k, v in (DOC | change).items() if v is not None}
    with pytest.raises(SSOError, match=needle):
        parse_metadata(PROVIDER, doc, production)


def test_discovery_choices() -> None:
    meta = parse_metadata(PROVIDER, DOC | {"jwks_uri": "http://keycloak:8080/certs",
                                           "id_token_signing_alg_values_supported": ["HS256", "RS256", "ES256"],
                                           "token_endpoint_auth_methods_supported": ["client_secret_post"]}, False)
    assert meta.signing_algs == ("RS256", "ES256") and meta.token_auth_method == "client_secret_post"
    assert meta.end_session_endpoint is None
    assert parse_metadata(PROVIDER, DOC, True).token_auth_method == "client_secret_basic"


def test_jwks_parsing_skips_odd_keys() -> None:
    good = KEY.as_dict(private=False)
    keys = parse_key_set({"keys": [{"kty": "weird"}, good | {"use": "enc", "kid": "e"}, good, "junk"]})
    assert [k.kid for k in keys] == ["k1"]
    docs: list[Any] = [{"keys": [{"kty": "weird"}]}, {"nokeys": []}, []]
    for doc in docs:
        with pytest.raises(SSOError):
            parse_key_set(doc)
