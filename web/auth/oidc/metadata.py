"""A provider's discovery document and signing keys: fetched with httpx under a deadline, cached with a TTL.

When a refresh fails but an older copy is cached, the older copy keeps serving (and a warning is logged), so a short
outage at the provider does not stop sign-ins whose provider still answers the token call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from joserfc.jwk import KeySet, import_key
from loguru import logger

from web.auth.oidc.config import ProviderConfig
from web.auth.oidc.errors import SSOError

# Asymmetric algorithms only: an HMAC algorithm would make the client secret a signing key (alg confusion).
SIGNING_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
MAX_DOCUMENT_BYTES = 1024 * 1024
MIN_KEY_REFRESH_S = 60.0  # an unknown key id triggers at most one early JWKS refresh per minute
FAILURE_MEMORY_S = 5.0


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None
    signing_algs: tuple[str, ...]
    token_auth_method: str  # client_secret_basic | client_secret_post


async def fetch_json(http: httpx.AsyncClient, url: str, timeout_s: float, *, what: str,
                     method: str = "GET", **kwargs: Any) -> tuple[int, Any]:
    """(status, parsed JSON) of one call to a provider, within `timeout_s` overall (httpx's own timeouts are per
    read, so a provider that trickles bytes would otherwise hold the request forever)."""
    try:
        async with asyncio.timeout(timeout_s):
            response = await http.request(method, url, timeout=timeout_s, **kwargs)
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise SSOError("unreachable", f"{what}: no answer from {url} within {timeout_s:g} s") from exc
    except httpx.HTTPError as exc:
        raise SSOError("unreachable", f"{what}: {type(exc).__name__} calling {url}: {exc}") from exc
    if response.status_code >= 500:
        raise SSOError("unreachable", f"{what}: {url} answered {response.status_code}")
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise SSOError("bad_provider", f"{what}: answer from {url} is larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        return response.status_code, response.json()
    except ValueError as exc:
        raise SSOError("bad_provider", f"{what}: {url} answered {response.status_code} without JSON") from exc


def _endpoint(doc: dict[str, Any], key: str, production: bool, *, required: bool = True) -> str | None:
    value = doc.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise SSOError("bad_provider", f"discovery document has no {key}")
    scheme = urlsplit(value).scheme
    if scheme != "https" and (production or scheme != "http"):  # plain http only outside production
        raise SSOError("bad_provider", f"discovery document's {key} is not an https URL: {value!r}")
    return value


def parse_metadata(provider: ProviderConfig, doc: Any, production: bool) -> ProviderMetadata:
    if not isinstance(doc, dict):
        raise SSOError("bad_provider", "discovery document is not a JSON object")
    # OpenID Connect Discovery 1.0 §4.3: the issuer in the document must be exactly the one configured.
    if doc.get("issuer") != provider.issuer:
        raise SSOError("bad_provider", f"discovery document names issuer {doc.get('issuer')!r}, not the configured "
                       f"{provider.issuer!r}: set OIDC_{provider.name.upper()}_ISSUER to the document's issuer")
    offered = doc.get("id_token_signing_alg_values_supported") or ["RS256"]
    algs = tuple(a for a in SIGNING_ALGS if a in offered)
    if not algs:
        raise SSOError("bad_provider", f"no supported ID token signing algorithm in {offered!r}")
    methods = doc.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    auth = "client_secret_post" if "client_secret_basic" not in methods and "client_secret_post" in methods \
        else "client_secret_basic"
    return ProviderMetadata(
        issuer=provider.issuer,
        authorization_endpoint=str(_endpoint(doc, "authorization_endpoint", production)),
        token_endpoint=str(_endpoint(doc, "token_endpoint", production)),
        jwks_uri=str(_endpoint(doc, "jwks_uri", production)),
        end_session_endpoint=_endpoint(doc, "end_session_endpoint", production, required=False),
        signing_algs=algs,
        token_auth_method=auth,
    )


def parse_key_set(doc: Any) -> KeySet:
    """The signing keys of a JWKS; keys of unknown types or meant for encryption are skipped, not fatal."""
    raw = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(raw, list):
        raise SSOError("bad_provider", "JWKS document has no keys list")
    keys = []
    for item in raw:
        if not isinstance(item, dict) or item.get("use", "sig") != "sig":
            continue
        try:
            keys.append(import_key(item))
        except Exception:  # noqa: BLE001 - one odd key (unknown kty or curve) must not hide the others
            logger.debug("skipped a JWKS key", kid=item.get("kid"), kty=item.get("kty"))
    if not keys:
        raise SSOError("bad_provider", "JWKS document has no usable signing key")
    return KeySet(keys)


class MetadataCache:
    """Discovery document and JWKS of one provider.

    One refresh runs at a time; callers that waited for it use its result. A failed fetch is remembered for
    FAILURE_MEMORY_S, so during an outage each sign-in fails (or falls back to the cached copy) at once instead of
    queueing behind the lock for one timeout each.
    """

    def __init__(self, provider: ProviderConfig, http: httpx.AsyncClient, *, ttl_s: float, timeout_s: float,
                 production: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self.provider = provider
        self.http = http
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self.production = production
        self.clock = clock
        self._metadata: tuple[float, ProviderMetadata] | None = None
        self._keys: tuple[float, KeySet] | None = None
        self._failed: dict[str, tuple[float, SSOError]] = {}
        self._lock = asyncio.Lock()

    def cached(self) -> ProviderMetadata | None:
        """The last fetched document, if any, without I/O."""
        return self._metadata[1] if self._metadata else None

    def _age(self, entry: tuple[float, object] | None) -> float:
        return self.clock() - entry[0] if entry else float("inf")

    def _recent_failure(self, what: str) -> SSOError | None:
        failed = self._failed.get(what)
        if failed and self.clock() - failed[0] < FAILURE_MEMORY_S:
            return SSOError(failed[1].code, failed[1].detail + " (failed moments ago; not retried yet)")
        return None

    def _stale(self, what: str, exc: SSOError) -> None:
        self._failed[what] = (self.clock(), exc)
        logger.warning("oidc refresh failed; using the cached copy", provider=self.provider.name, what=what,
                       reason=exc.detail)

    async def metadata(self) -> ProviderMetadata:
        if self._metadata and self._age(self._metadata) < self.ttl_s:
            return self._metadata[1]
        async with self._lock:
            if self._metadata and self._age(self._metadata) < self.ttl_s:
                return self._metadata[1]  # refreshed while this caller waited
            if recent := self._recent_failure("discovery"):
                if self._metadata:
                    return self._metadata[1]
                raise recent
            try:
                status, doc = await fetch_json(self.http, self.provider.discovery_url, self.timeout_s,
                                               what="discovery")
                if status != 200:
                    raise SSOError("bad_provider", f"discovery: {self.provider.discovery_url} answered {status}")
                fetched = parse_metadata(self.provider, doc, self.production)
            except SSOError as exc:
                if self._metadata is None:
                    self._failed["discovery"] = (self.clock(), exc)
                    raise
                self._stale("discovery", exc)
                return self._metadata[1]
            self._failed.pop("discovery", None)
            self._metadata = (self.clock(), fetched)
            return fetched

    async def key_set(self, *, unknown_kid: bool = False) -> KeySet:
        """The signing keys; `unknown_kid=True` refetches early (key rollover), at most once a minute."""
        max_age = MIN_KEY_REFRESH_S if unknown_kid else self.ttl_s
        if self._keys and self._age(self._keys) < max_age:
            return self._keys[1]
        meta = await self.metadata()
        async with self._lock:
            if self._keys and self._age(self._keys) < max_age:
                return self._keys[1]
            if recent := self._recent_failure("jwks"):
                if self._keys:
                    return self._keys[1]
                raise recent
            try:
                status, doc = await fetch_json(self.http, meta.jwks_uri, self.timeout_s, what="jwks")
                if status != 200:
                    raise SSOError("bad_provider", f"jwks: {meta.jwks_uri} answered {status}")
                keys = parse_key_set(doc)
            except SSOError as exc:
                if self._keys is None:
                    self._failed["jwks"] = (self.clock(), exc)
                    raise
                self._stale("jwks", exc)
                return self._keys[1]
            self._failed.pop("jwks", None)
            self._keys = (self.clock(), keys)
            return keys
