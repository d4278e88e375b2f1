"""Which account a provider identity signs in to: created, linked by verified email, or refused; allowed domains,
disabled accounts and the admin-claim role mapping."""

# ruff: noqa: F811  (the provider fixtures are imported by name, and tests take them as arguments)

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import make_client
from tests.oidc_provider.fixtures import (  # noqa: F401  (fixtures)
    oidc_provider,
    oidc_provider_session,
    sso_login,
    sso_overrides,
)
from tests.oidc_provider.models import TestUser
from tests.oidc_provider.provider import OIDCProvider
from web.auth.oidc.linking import claim_matches


async def _sign_in(app: Any) -> tuple[int, str]:
    async with make_client(app) as client:
        response = await sso_login(client)
    reason = response.text.split('data-reason="', 1)[1].split('"', 1)[0] if response.status_code != 303 else ""
    return response.status_code, reason


async def _existing(app: Any, email: str = "alice@example.com", *, disabled: bool = False) -> int:
    users = app.state.services.users
    user = await users.create(email, "a-long-local-password", display_name="Local Alice", check_policy=False)
    if disabled:
        await users.set_disabled(user.id, True)
    return int(user.id)


async def test_auto_create_off_refuses_unknown_identities(app_factory: Any, oidc_provider: OIDCProvider) -> None:
    app = await app_factory(**sso_overrides(oidc_provider.issuer), oidc_auto_create_users=False)
    assert await _sign_in(app) == (403, "no_account")
    assert await app.state.services.users.get_by_email("alice@example.com") is None


async def test_an_existing_email_is_not_taken_over_by_default(app_factory: Any, oidc_provider: OIDCProvider) -> None:
    app = await app_factory(**sso_overrides(oidc_provider.issuer))
    await _existing(app)
    assert await _sign_in(app) == (403, "email_taken")
    assert await app.state.sso.identities.find_user_id(oidc_provider.issuer, "alice-0001") is None


async def test_link_by_verified_email_links_to_the_existing_account(app_factory: Any,
                                                                    oidc_provider: OIDCProvider) -> None:
    app = await app_factory(**sso_overrides(oidc_provider.issuer), oidc_link_by_verified_email=True)
    user_id = await _existing(app)
    assert await _sign_in(app) == (303, "")
    assert await app.state.sso.identities.find_user_id(oidc_provider.issuer, "alice-0001") == user_id
    # the link holds by (issuer, subject) even after the provider changes the address
    oidc_provider.behaviour.user = TestUser(email="alice.new@example.com")
    assert await _sign_in(app) == (303, "")
    assert len(await app.state.services.users.list()) == 2  # the demo account and Alice, no new one


@pytest.mark.parametrize("verified", [False, None])
async def test_link_by_email_needs_the_provider_to_say_verified(app_factory: Any, oidc_provider: OIDCProvider,
                                                                verified: bool | None) -> None:
    oidc_provider.behaviour.user = TestUser(email_verified=verified)
    app = await app_factory(**sso_overrides(oidc_provider.issuer), oidc_link_by_verified_email=True)
    await _existing(app)
    assert await _sign_in(app) == (403, "email_taken")


async def test_disabled_accounts_are_refused(app_factory: Any, oidc_provider: OIDCProvider) -> None:
    app = await app_factory(**sso_overrides(oidc_provider.issuer), oidc_link_by_verified_email=True)
    await _existing(app, disabled=True)
    assert await _sign_in(app) == (403, "disabled")
    assert await app.state.sso.identities.find_user_id(oidc_provider.issuer, "alice-0001") is None
    # an account created by SSO and disabled later is refused as well
    oidc_provider.behaviour.user = TestUser(sub="bob-0002", email="bob@example.com", name="Bob")
    assert await _sign_in(app) == (303, "")
    bob = await app.state.services.users.get_by_email("bob@example.com")
    await app.state.services.users.set_disabled(bob.id, True)
    assert await _sign_in(app) == (403, "disabled")


async def test_allowed_domains(app_factory: Any, oidc_provider: OIDCProvider) -> None:
    app = await app_factory(**sso_overrides(oidc_provider.issuer, allowed_domains="Example.com, @corp.example"))
    assert await _sign_in(app) == (303, "")
    oidc_provider.behaviour.user = TestUser(sub="eve", email="eve@evil.example")
    assert await _sign_in(app) == (403, "domain_not_allowed")
    oidc_provider.behaviour.user = TestUser(sub="mallory", email="mallory@example.com", email_verified=False)
    assert await _sign_in(app) == (403, "domain_not_allowed")
    oidc_provider.behaviour.user = TestUser(sub="nomail", email=None, extra={"preferred_username": "x@example.com"})
    assert await _sign_in(app) == (403, "no_email")  # preferred_username never counts for the domain check
    assert await app.state.services.users.get_by_email("eve@evil.example") is None


async def test_an_entra_style_token_without_email_uses_the_upn_for_a_new_account(
        app_factory: Any, oidc_provider: OIDCProvider) -> None:
    oidc_provider.behaviour.user = TestUser(sub="entra-oid", email=None, email_verified=None,
                                            extra={"preferred_username": "Carol@Contoso.example"})
    app = await app_factory(**sso_overrides(oidc_provider.issuer))
    assert await _sign_in(app) == (303, "")
    assert await app.state.services.users.get_by_email("carol@contoso.example") is not None


async def test_the_admin_claim_decides_the_role_at_every_sign_in(app_factory: Any,
                                                                 oidc_provider: OIDCProvider) -> None:
    app = await app_factory(**sso_overrides(oidc_provider.issuer, admin_claim="roles=Voice.Admin"))
    oidc_provider.behaviour.user = TestUser(extra={"roles": ["Voice.User", "Voice.Admin"]})
    assert await _sign_in(app) == (303, "")
    users = app.state.services.users
    assert (await users.get_by_email("alice@example.com")).role == "admin"
    oidc_provider.behaviour.user = TestUser(extra={"roles": ["Voice.User"]})
    assert await _sign_in(app) == (303, "")
    assert (await users.get_by_email("alice@example.com")).role == "user"


async def test_without_an_admin_claim_the_role_is_left_alone(app_factory: Any, oidc_provider: OIDCProvider) -> None:
    oidc_provider.behaviour.user = TestUser(extra={"roles": ["Voice.Admin"]})
    app = await app_factory(**sso_overrides(oidc_provider.issuer))
    assert await _sign_in(app) == (303, "")
    users = app.state.services.users
    alice = await users.get_by_email("alice@example.com")
    assert alice.role == "user"
    await users.set_role(alice.id, "admin")
    assert await _sign_in(app) == (303, "")
    assert (await users.get_by_email("alice@example.com")).role == "admin"


async def test_an_sso_account_cannot_sign_in_with_a_password(app_factory: Any, oidc_provider: OIDCProvider) -> None:
    from tests.support.auth import login

    app = await app_factory(**sso_overrides(oidc_provider.issuer))
    assert await _sign_in(app) == (303, "")
    async with make_client(app) as client:
        for guess in ("", "password", "alice@example.com"):
            assert (await login(client, "alice@example.com", guess)).status_code == 401


@pytest.mark.parametrize(("claims", "path", "expected", "matches"), [
    ({"roles": ["a", "admin"]}, "roles", "admin", True),
    ({"roles": ["a"]}, "roles", "admin", False),
    ({"groups": "admins"}, "groups", "admins", True),
    ({"realm_access": {"roles": ["voice-admin"]}}, "realm_access.roles", "voice-admin", True),
    ({"realm_access": ["voice-admin"]}, "realm_access.roles", "voice-admin", False),
    ({"is_admin": True}, "is_admin", "true", True),
    ({}, "roles", "admin", False),
])
def test_claim_matching(claims: dict[str, Any], path: str, expected: str, matches: bool) -> None:
    assert claim_matches(claims, path, expected) is matches
