"""From a verified identity to an account: find, link or create it, apply the operator's rules, map the role.

Rules, in order:
1. Allowed domains (when set) are checked on every sign-in against the `email` claim, which the provider must not
   mark unverified. `preferred_username` never counts here: providers let some users choose it.
2. An identity already linked signs in to its account.
3. Otherwise an account with the same email is linked only when OIDC_LINK_BY_VERIFIED_EMAIL is on and the provider
   says `email_verified: true` (Entra ID never says it, so its users are never linked this way: the nOAuth
   takeover needs exactly such a link). Otherwise that address is taken and the sign-in is refused.
4. Otherwise a new account is created when OIDC_AUTO_CREATE_USERS is on, else the sign-in is refused.
5. Disabled accounts are refused. With OIDC_<NAME>_ADMIN_CLAIM set, the provider decides the role at every
   sign-in (admin when the claim matches, user when not); without it the role is left alone.
"""

from __future__ import annotations

import secrets
from typing import Any

from loguru import logger

from web.accounts.models import User
from web.accounts.passwords import HasherBusy
from web.accounts.users import AccountError, UserRepository
from web.auth.oidc.config import ProviderConfig
from web.auth.oidc.errors import SSOError
from web.auth.oidc.identities import Identity, IdentityStore
from web.settings import Settings


def claim_matches(claims: dict[str, Any], path: str, expected: str) -> bool:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    if isinstance(value, list):
        return any(str(item) == expected for item in value)
    if isinstance(value, bool):
        return str(value).lower() == expected.lower()
    return str(value) == expected


def check_domain(provider: ProviderConfig, identity: Identity) -> None:
    if not provider.allowed_domains:
        return
    if not identity.email:
        raise SSOError("no_email", "allowed domains are set but the ID token has no email claim")
    if identity.email_verified is False:
        raise SSOError("domain_not_allowed", f"email {identity.email} is marked unverified")
    if identity.email_domain not in provider.allowed_domains:
        raise SSOError("domain_not_allowed", f"domain {identity.email_domain} is not in "
                       f"{', '.join(provider.allowed_domains)}")


async def _new_account(users: UserRepository, identity: Identity, role: str) -> User:
    email = identity.account_email
    if not email:
        raise SSOError("no_email", "no email or email-like preferred_username claim to create an account with")
    try:
        # A long random password nobody knows: the account signs in through its provider only, and every check
        # of the account table (policy, uniqueness, format) still applies.
        user = await users.create(email, secrets.token_urlsafe(32), display_name=identity.name, role=role,
                                  check_policy=False)
        await users.mark_sso_only(user.id)
        return user
    except AccountError as exc:
        raise SSOError("email_taken" if "exists" in str(exc) else "no_email", str(exc)) from exc
    except HasherBusy as exc:
        raise SSOError("unavailable", "password hashing queue full while creating an account") from exc


async def resolve_account(settings: Settings, users: UserRepository, identities: IdentityStore,
                          provider: ProviderConfig, identity: Identity) -> User:
    check_domain(provider, identity)
    wanted_role = None
    if provider.admin_claim is not None:
        wanted_role = "admin" if claim_matches(identity.claims, *provider.admin_claim) else "user"
    user_id = await identities.find_user_id(identity.issuer, identity.subject)
    user = await users.get(user_id) if user_id is not None else None
    if user is None:
        user = await _link_or_create(settings, users, identities, provider, identity, wanted_role or "user")
    if user.disabled:
        raise SSOError("disabled", f"account {user.id} is disabled")
    if wanted_role is not None and user.role != wanted_role:
        await users.set_role(user.id, wanted_role)
        logger.info("sso role changed", user_id=user.id, provider=provider.name, role=wanted_role)
        user = await users.get(user.id) or user
    await identities.touch(identity)
    return user


async def _link_or_create(settings: Settings, users: UserRepository, identities: IdentityStore,
                          provider: ProviderConfig, identity: Identity, role: str) -> User:
    email = identity.account_email
    existing = await users.get_by_email(email) if email else None
    if existing is not None:
        can_link = settings.oidc_link_by_verified_email and identity.email_verified is True \
            and email == identity.email
        if not can_link:
            why = "linking by email is off" if not settings.oidc_link_by_verified_email else "email not verified"
            raise SSOError("email_taken", f"account {existing.id} has this email; {why}")
        if existing.disabled:
            raise SSOError("disabled", f"account {existing.id} is disabled (not linked)")
        user = existing
        event = "sso identity linked by verified email"
    elif settings.oidc_auto_create_users:
        user = await _new_account(users, identity, role)
        event = "sso account created"
    else:
        raise SSOError("no_account", "no linked account and OIDC_AUTO_CREATE_USERS is off")
    if not await identities.link(identity, user.id, provider.name):
        # Another tab finished the same first sign-in a moment earlier: use what it linked.
        linked = await identities.find_user_id(identity.issuer, identity.subject)
        found = await users.get(linked) if linked is not None else None
        if found is None:
            raise SSOError("unavailable", "identity link raced and vanished")
        return found
    logger.info(event, user_id=user.id, provider=provider.name, email=email)
    return user
