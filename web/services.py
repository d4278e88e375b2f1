"""The shared, long-lived objects the lifespan creates and the routes use, in one typed place."""

from __future__ import annotations

import functools
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
from web.cluster.base import Cluster
from web.cluster.drain import Drainer
from web.cluster.local import SingleProcess
from web.cluster.node import NodeIdentity
from web.cluster.postgres import PostgresCluster
from web.cluster.router import CallRouter
from web.cluster.throttle_sync import ThrottleSync
from web.db import Database
from web.diagnostics.access import GUESS_LIMIT, GUESS_WINDOW_S, CreateLimiter
from web.diagnostics.upstream_check import UpstreamCheck
from web.i18n import DEFAULT_LOCALE, translate
from web.media.calls import CallRegistry, Credential
from web.media.realtime import RealtimeStats, create_realtime_session
from web.media.rtc.transport import RtcTransport
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
    calls: CallRegistry  # every live voice call of this process, of both transports
    rtc: RtcTransport  # opens WebRTC calls for `calls`
    realtime_stats: RealtimeStats  # the realtime relay's counters and recent upstream errors
    upstream_check: UpstreamCheck  # the diagnostics' upstream probe, cached
    usage: UsageRecorder  # conversation usage, cost and quotas (web/usage)
    node: NodeIdentity  # this process's name in the cluster (in every call id it owns)
    cluster: Cluster  # the other processes: directory of calls, messages (web/cluster)
    router: CallRouter  # runs hang-up and the server view on whichever process owns the call
    drainer: Drainer  # what SIGTERM does to the calls
    throttle_sync: ThrottleSync  # shares sign-in failures between processes
    client_secrets: ClientSecretStore  # ek_ keys, in the database (every process accepts them)
    counters: Counter[str] = field(default_factory=Counter)  # monotonic event counts exported by /metrics
    login_admission: LoginAdmission = field(default_factory=LoginAdmission)  # sign-ins in flight per address/account
    diagnostics_runs: CreateLimiter = field(default_factory=CreateLimiter)  # new diagnostics reports per address
    report_guesses: CreateLimiter = field(  # report IDs that show nothing, per address
        default_factory=lambda: CreateLimiter(GUESS_LIMIT, GUESS_WINDOW_S))


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
    # Revocation and shutdown end calls outside any request, so there is no request locale: the default (zh-CN).
    realtime_stats = RealtimeStats()
    node = NodeIdentity.new()
    # PostgreSQL can be shared by several processes and hosts: publish every call so they act as one server.
    cluster: Cluster = PostgresCluster(db, node) if db.kind == "postgresql" else SingleProcess(node)
    calls = CallRegistry(settings, session_factory=functools.partial(create_realtime_session, stats=realtime_stats),
                         texts=lambda message: translate(message, DEFAULT_LOCALE), node_tag=node.tag,
                         directory=cluster)
    throttle = LoginThrottle(
        per_account=settings.login_max_failures_per_account,
        per_ip=settings.login_max_failures_per_ip,
        window_s=settings.login_throttle_window_s,
    )
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
        client_secrets=ClientSecretStore(db, clock),
        throttle=throttle,
        calls=calls,
        rtc=RtcTransport(settings, calls),
        realtime_stats=realtime_stats,
        upstream_check=UpstreamCheck(settings, realtime_stats),
        node=node,
        cluster=cluster,
        router=CallRouter(calls, cluster),
        drainer=Drainer(calls, cluster, settings.drain_timeout_s),
        throttle_sync=ThrottleSync(throttle, cluster, db),
    )


async def credential_is_active(svc: Services, credential: Credential) -> bool:
    """Whether a session or a device token still grants access (used by long-lived calls)."""
    if credential.is_token:
        return await svc.tokens.is_active(credential.token_id)
    return await svc.sessions.is_active(credential.key)


def services(conn: HTTPConnection) -> Services:
    svc: Services = conn.app.state.services
    return svc
