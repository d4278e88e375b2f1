"""The shared, long-lived objects the lifespan creates and the routes use, in one typed place."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from web.accounts.passwords import PasswordService
from web.accounts.throttle import LoginThrottle
from web.accounts.users import UserRepository
from web.auth.sessions import SessionStore
from web.db import Database
from web.settings import Settings


@dataclass
class Services:
    settings: Settings
    db: Database
    passwords: PasswordService
    users: UserRepository
    sessions: SessionStore
    throttle: LoginThrottle
    counters: Counter[str] = field(default_factory=Counter)  # monotonic event counts exported by /metrics


def build_services(settings: Settings, clock: Callable[[], float] = time.time) -> Services:
    db = Database(settings.effective_database_url)
    passwords = PasswordService(
        time_cost=settings.password_hash_time_cost,
        memory_kib=settings.password_hash_memory_kib,
        parallelism=settings.password_hash_parallelism,
        concurrency=settings.password_hash_concurrency,
    )
    return Services(
        settings=settings,
        db=db,
        passwords=passwords,
        users=UserRepository(db, passwords, clock),
        sessions=SessionStore(db, settings, clock),
        throttle=LoginThrottle(
            per_account=settings.login_max_failures_per_account,
            per_ip=settings.login_max_failures_per_ip,
            window_s=settings.login_throttle_window_s,
        ),
    )


def services(conn: HTTPConnection) -> Services:
    svc: Services = conn.app.state.services
    return svc
