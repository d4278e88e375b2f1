"""Fixtures and helpers: import the fixtures into a test module (`from tests.oidc_provider.fixtures import
oidc_provider  # noqa: F401`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.oidc_provider.provider import OIDCProvider

NAME = "test"
CLIENT_ID = "voice-gateway"
CLIENT_SECRET = "test-client-secret-0123456789abcdef"
APP_ORIGIN = "http://testserver"


@pytest.fixture(scope="session")
def oidc_provider_session() -> Iterator[OIDCProvider]:
    provider = OIDCProvider().start()
    yield provider
    provider.stop()


@pytest.fixture
def oidc_provider(oidc_provider_session: OIDCProvider) -> OIDCProvider:
    """The shared provider, reset, with the app at http://testserver registered as its client."""
    provider = oidc_provider_session
    provider.reset()
    register_app(provider, APP_ORIGIN)
    return provider


def register_app(provider: OIDCProvider, origin: str, name: str = NAME) -> None:
    provider.register_client(CLIENT_ID, CLIENT_SECRET, [f"{origin}/auth/sso/{name}/callback"],
                             [f"{origin}/auth/sso/{name}/signed-out"])


def provider_env(issuer: str, name: str = NAME, **extra: str) -> dict[str, str]:
    """The environment an operator sets: OIDC_PROVIDERS plus the provider's variables."""
    prefix = f"OIDC_{name.upper()}_"
    env = {"OIDC_PROVIDERS": name, prefix + "ISSUER": issuer, prefix + "CLIENT_ID": CLIENT_ID,
           prefix + "CLIENT_SECRET": CLIENT_SECRET, prefix + "DISPLAY_NAME": "Test IdP"}
    env.update({prefix + key.upper(): value for key, value in extra.items()})
    return env


def sso_overrides(issuer: str, name: str = NAME, **extra: str) -> dict[str, Any]:
    """Settings overrides for `app_factory`: what load_settings makes of `provider_env(...)`."""
    env = provider_env(issuer, name, **extra)
    return {"oidc_providers": (name,), "oidc_http_timeout_s": 2.0,
            "oidc_provider_env": tuple(sorted((k, v) for k, v in env.items() if k != "OIDC_PROVIDERS"))}


async def start_login(client: httpx.AsyncClient, name: str = NAME, next_url: str = "/") -> httpx.Response:
    response = await client.get(f"/auth/sso/{name}/start", params={"next": next_url})
    assert response.status_code == 302, (response.status_code, response.text[:300])
    return response


async def authorize(authorize_url: str) -> httpx.Response:
    """What the browser does at the provider: follow the authorization URL; the provider answers with a redirect
    back to the app (or an error page)."""
    async with httpx.AsyncClient(timeout=5.0) as idp:
        return await idp.get(authorize_url)


async def callback_url(client: httpx.AsyncClient, name: str = NAME, next_url: str = "/") -> str:
    started = await start_login(client, name, next_url)
    answer = await authorize(started.headers["location"])
    assert answer.status_code == 302, (answer.status_code, answer.text[:300])
    return answer.headers["location"]


async def sso_login(client: httpx.AsyncClient, name: str = NAME, next_url: str = "/") -> httpx.Response:
    """The whole round trip; returns the app's answer to the callback."""
    return await client.get(await callback_url(client, name, next_url))


@pytest.fixture
def log_records() -> Iterator[list[dict[str, Any]]]:
    """Every loguru record emitted during the test (message, level, extra fields)."""
    from loguru import logger

    records: list[Any] = []
    handler = logger.add(lambda message: records.append(message.record), level="DEBUG")
    yield records
    logger.remove(handler)


def flow_cookies(client: httpx.AsyncClient) -> dict[str, str]:
    return {c.name: c.value or "" for c in client.cookies.jar if c.name.startswith("sso-flow-")}
