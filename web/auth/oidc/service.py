"""Single sign-on as the app holds it: the configured providers, one shared httpx client, the flow cookies,
the identity table and the logout hints. `create_app` builds it (`app.state.sso`) and the lifespan closes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

import httpx
from starlette.requests import Request

from web.auth.oidc.config import ProviderConfig, parse_providers
from web.auth.oidc.flow import FlowCookies
from web.auth.oidc.identities import IdentityStore
from web.auth.oidc.logout import LogoutHints
from web.auth.oidc.metadata import MetadataCache
from web.db import Database
from web.security.cookies import read_cookies
from web.security.csrf import request_origin
from web.settings import APP_VERSION, Settings


@dataclass(frozen=True)
class LoginButton:
    name: str
    display_name: str
    url: str


@dataclass(frozen=True)
class LoginView:
    """What the login page shows for single sign-on."""

    buttons: list[LoginButton]
    logout_name: str = ""  # provider to offer signing out of, "" for none
    logout_display_name: str = ""
    logout_url: str = ""


class SSO:
    def __init__(self, settings: Settings, db: Database, providers: tuple[ProviderConfig, ...],
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        secure = settings.is_production
        self.http: httpx.AsyncClient | None = None
        self.providers: dict[str, MetadataCache] = {}
        if providers:
            # One client for every provider call: pooled connections, timeouts on every call, proxy variables
            # (HTTPS_PROXY, NO_PROXY) honoured for installations that reach the provider through a proxy.
            self.http = httpx.AsyncClient(timeout=settings.oidc_http_timeout_s, follow_redirects=False,
                                          headers={"User-Agent": f"smart-glasses-voice/{APP_VERSION}"})
            for p in providers:
                self.providers[p.name] = MetadataCache(p, self.http, ttl_s=settings.oidc_metadata_ttl_s,
                                                       timeout_s=settings.oidc_http_timeout_s, production=secure)
        self.flows = FlowCookies(settings.secret_key, secure=secure, ttl_s=settings.oidc_login_timeout_s)
        self.identities = IdentityStore(db, clock)
        self.hints = LogoutHints(db, settings.secret_key, secure=secure,
                                 lifetime_s=settings.session_absolute_lifetime_s, clock=clock)

    def get(self, name: str) -> MetadataCache | None:
        return self.providers.get(name)

    def redirect_uri(self, request: Request, name: str, route: str = "sso_callback") -> str:
        """Exactly what the operator registers at the provider: PUBLIC_ORIGIN + /auth/sso/<name>/callback."""
        origin = request_origin(request.scope, self.settings.public_origin)
        return origin + str(request.app.url_path_for(route, name=name))

    def login_view(self, request: Request, next_url: str = "/") -> LoginView:
        """For the login page template; no I/O."""
        suffix = "" if next_url in ("", "/") else "?next=" + quote(next_url, safe="/")
        buttons = [LoginButton(name, cache.provider.display_name,
                               str(request.app.url_path_for("sso_start", name=name)) + suffix)
                   for name, cache in self.providers.items()]
        if not buttons or getattr(request.state, "user", None) is not None:
            return LoginView(buttons)
        hinted = self.hints.provider(read_cookies(request.scope))
        cache = self.providers.get(hinted or "")
        if cache is None:
            return LoginView(buttons)
        return LoginView(buttons, cache.provider.name, cache.provider.display_name,
                         str(request.app.url_path_for("sso_logout", name=cache.provider.name)))

    async def aclose(self) -> None:
        if self.http is not None:
            await self.http.aclose()


def build_sso(settings: Settings, db: Database, clock: Callable[[], float] = time.time) -> SSO:
    """Raises SettingsError when the OIDC_* configuration is wrong (the message says how to fix it)."""
    return SSO(settings, db, parse_providers(settings), clock)


def sso_of(request: Request) -> SSO:
    sso: SSO = request.app.state.sso
    return sso
