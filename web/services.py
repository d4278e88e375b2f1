"""The shared, long-lived objects the lifespan creates and the routes use, in one typed place."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from web.accounts.admission import LoginAdmission
from web.accounts.passwords import PasswordService
from web.accounts.throttle import LoginThrottle
from web.accounts.users import UserRepository
from web.auth.client_secrets import ClientSecretStore
from web.auth.sessions import SessionStore
from web.auth.tokens import TokenStore
from web.db import Database
from web.settings import Settings
from web.usage.recorder import UsageRecorder


@dataclass
class Services:
    settings: Settings
    db: Database
    passwords: PasswordService
    users: UserRepository
    sessions: SessionStore
    throttle: LoginThrottle
    tokens: TokenStore
    usage: UsageRecorder  # conversation usage, cost and quotas (web/usage)
    counters: Counter[str] = field(default_factory=Counter)  # monotonic event counts exported by /metrics
    login_admission: LoginAdmission = field(default_factory=LoginAdmission)  # sign-ins in flight per address/account
    client_secrets: ClientSecretStore = field(default_factory=ClientSecretStore)  # ek_ keys (issue 11)


def build_services(settings: Settings, clock: Callable[[], float] = time.time) -> Services:
    db = Database(settings.effective_database_url)
    passwords = PasswordService(
        time_cost=settings.password_hash_time_cost,
        memory_kib=settings.password_hash_memory_kib,
        parallelism=settings.password_hash_parallelism,
        # Each argon2 hash already runs `parallelism` threads; more hashes at once only queue for the same cores.
        concurrency=settings.password_hash_concurrency or max(1, (os.cpu_count() or 2) // 2),
    )
    sessions = SessionStore(db, settings, clock)
    tokens = TokenStore(db, clock)
    sessions.extra_handles = tokens.handles_for_user
    users = UserRepository(db, passwords, clock)
    usage = UsageRecorder(db, settings, clock)
    usage.user_lookup = users.get
    return Services(
        settings=settings,
        db=db,
        passwords=passwords,
        users=users,
        sessions=sessions,
        tokens=tokens,
        usage=usage,
        client_secrets=ClientSecretStore(clock),
        throttle=LoginThrottle(
            per_account=settings.login_max_failures_per_account,
            per_ip=settings.login_max_failures_per_ip,
            window_s=settings.login_throttle_window_s,
        ),
    )


async def credential_is_active(svc: Services, handle: str) -> bool:
    """Whether a session id or a `token:<id>` handle still grants access (used by long-lived calls)."""
    if handle.startswith("token:"):
        return await svc.tokens.is_active(int(handle.removeprefix("token:")))
    return await svc.sessions.is_active(handle)


def services(conn: HTTPConnection) -> Services:
    svc: Services = conn.app.state.services
    return svc
