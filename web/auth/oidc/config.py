"""OpenID Connect providers as the operator configured them, parsed and checked once at start-up.

`OIDC_PROVIDERS=entra,google` names the providers; each has `OIDC_<NAME>_ISSUER`, `OIDC_<NAME>_CLIENT_ID`,
`OIDC_<NAME>_CLIENT_SECRET` and optionally `OIDC_<NAME>_DISPLAY_NAME`, `OIDC_<NAME>_ALLOWED_DOMAINS` and
`OIDC_<NAME>_ADMIN_CLAIM` (`claim=value`, a dotted path for nested claims). `load_settings` collects those variables
into `Settings.oidc_provider_env`, so this module never reads the process environment itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from web.settings import Settings, SettingsError

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_KEYS = {"ISSUER", "CLIENT_ID", "CLIENT_SECRET", "DISPLAY_NAME", "ALLOWED_DOMAINS", "ADMIN_CLAIM"}
_REQUIRED = ("ISSUER", "CLIENT_ID", "CLIENT_SECRET")
# Multi-tenant Entra endpoints publish a templated issuer ("{tenantid}") that no token carries, so issuer
# validation cannot work with them; the operator must name the tenant.
_ENTRA_SHARED_TENANTS = {"common", "organizations", "consumers"}
_WELL_KNOWN_NAMES = {"login.microsoftonline.com": "Microsoft Entra ID", "accounts.google.com": "Google"}


@dataclass(frozen=True)
class ProviderConfig:
    name: str  # lower case; appears in URLs (/auth/sso/<name>/…) and in logs
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    display_name: str
    allowed_domains: tuple[str, ...] = ()
    admin_claim: tuple[str, str] | None = None  # (dotted claim path, value)
    scopes: tuple[str, ...] = ("openid", "email", "profile")

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


def _check_issuer(var: str, issuer: str, production: bool) -> str:
    parts = urlsplit(issuer)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        raise SettingsError(f"{var} must be the issuer URL, e.g. https://login.microsoftonline.com/<tenant>/v2.0; "
                            f"got {issuer!r}")
    if production and parts.scheme != "https":
        raise SettingsError(f"{var} must use https in production, got {issuer!r}")
    segments = [s.lower() for s in parts.path.split("/") if s]
    if parts.hostname == "login.microsoftonline.com" and segments and segments[0] in _ENTRA_SHARED_TENANTS:
        raise SettingsError(f"{var} uses the shared '{segments[0]}' endpoint; use your tenant's issuer instead: "
                            "https://login.microsoftonline.com/<tenant id>/v2.0")
    return issuer


def _parse_admin_claim(var: str, raw: str) -> tuple[str, str] | None:
    if not raw:
        return None
    claim, sep, value = raw.partition("=")
    if not sep or not claim.strip() or not value.strip():
        raise SettingsError(f"{var} must look like claim=value (e.g. roles=Voice.Admin), got {raw!r}")
    return claim.strip(), value.strip()


def _parse_domains(raw: str) -> tuple[str, ...]:
    return tuple(sorted({d.strip().lower().lstrip("@") for d in raw.split(",") if d.strip()}))


def _provider(name: str, values: dict[str, str], production: bool) -> ProviderConfig:
    prefix = f"OIDC_{name.upper()}_"
    missing = [prefix + key for key in _REQUIRED if not values.get(key, "").strip()]
    if missing:
        raise SettingsError(f"OIDC_PROVIDERS lists {name!r} but these are not set: {', '.join(missing)}")
    issuer = _check_issuer(prefix + "ISSUER", values["ISSUER"].strip(), production)
    host = urlsplit(issuer).hostname or ""
    return ProviderConfig(
        name=name,
        issuer=issuer,
        client_id=values["CLIENT_ID"].strip(),
        client_secret=values["CLIENT_SECRET"].strip(),
        display_name=values.get("DISPLAY_NAME", "").strip() or _WELL_KNOWN_NAMES.get(host, name.capitalize()),
        allowed_domains=_parse_domains(values.get("ALLOWED_DOMAINS", "")),
        admin_claim=_parse_admin_claim(prefix + "ADMIN_CLAIM", values.get("ADMIN_CLAIM", "")),
    )


def parse_providers(settings: Settings) -> tuple[ProviderConfig, ...]:
    """The configured providers, in the order OIDC_PROVIDERS lists them; SettingsError says what to fix."""
    names = [n.strip().lower() for n in settings.oidc_providers if n.strip()]
    for name in names:
        if not _NAME_RE.match(name):
            raise SettingsError(f"OIDC_PROVIDERS: {name!r} is not a valid name (letters, digits and _; "
                                "starting with a letter)")
    if len(set(names)) != len(names):
        raise SettingsError("OIDC_PROVIDERS lists a provider twice")
    env = dict(settings.oidc_provider_env)
    providers = []
    for name in names:
        prefix = f"OIDC_{name.upper()}_"
        values = {k.removeprefix(prefix): v for k, v in env.items() if k.startswith(prefix)}
        unknown = sorted(prefix + k for k in values if k not in _KEYS)
        if unknown:
            raise SettingsError(f"unknown variable(s) {', '.join(unknown)}; known suffixes: {', '.join(sorted(_KEYS))}")
        providers.append(_provider(name, values, settings.is_production))
    if providers and settings.is_production and not settings.public_origin:
        raise SettingsError("OIDC sign-in needs PUBLIC_ORIGIN in production: the redirect URI registered at the "
                            "identity provider is PUBLIC_ORIGIN/auth/sso/<name>/callback")
    return tuple(providers)
