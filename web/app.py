"""The app factory. `create_app()` builds the Starlette app; its lifespan owns every shared resource."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from loguru import logger
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp

from web.accounts.users import AccountError
from web.admin.first_password import PasswordChangeMiddleware
from web.auth.middleware import SessionAuthMiddleware
from web.auth.oidc.service import build_sso
from web.auth.sessions import cookie_name
from web.cluster.wiring import wire_cluster
from web.db import DatabaseError
from web.i18n import LocaleMiddleware
from web.logs import setup_logging
from web.media.calls import CallRegistry, Credential
from web.media.realtime import resolve_upstream
from web.middleware.request_context import RequestContextMiddleware
from web.monitor.monitoring import Monitoring
from web.routes import get_routes
from web.routes.errors import database_unavailable, http_error, server_error
from web.security.body_deadline import BodyDeadlineMiddleware
from web.security.client_address import ClientAddressMiddleware
from web.security.cors import CORSMiddleware
from web.security.csrf import CSRFMiddleware
from web.security.headers import SecurityHeadersMiddleware
from web.security.limits import BodySizeLimitMiddleware
from web.services import Services, build_services, credential_is_active
from web.settings import APP_VERSION, Settings, load_settings
from web.usage.wiring import wire_usage


class App(Starlette):
    """Starlette with outer middleware that also wraps the 500 handler, so error responses get the
    security headers and a request id too (Starlette puts ServerErrorMiddleware outside user middleware)."""

    outer: list[Callable[[ASGIApp], ASGIApp]]

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        for wrap in reversed(getattr(self, "outer", [])):
            stack = wrap(stack)
        return stack


async def ensure_demo_user(svc: Services) -> None:
    settings = svc.settings
    if settings.is_production or not settings.create_demo_user:
        return
    if await svc.users.get_by_email(settings.demo_user_email):
        return
    try:
        await svc.users.create(settings.demo_user_email, settings.demo_user_password,
                               display_name="Betty", role="user", check_policy=False)
        logger.info("demo account created", email=settings.demo_user_email)
    except AccountError as exc:
        logger.warning("demo account not created", reason=str(exc))
    except DatabaseError:
        if await svc.users.get_by_email(settings.demo_user_email) is None:
            raise
        # another worker starting at the same moment created it first


CREDENTIAL_SWEEP_S = 2.0


async def _end_calls_of_revoked_credentials(svc: Services, calls: CallRegistry) -> None:
    """Revocations made in this process reach the calls at once through the listeners; this sweep catches those made
    elsewhere (`python -m web users disable` from a shell, another worker) and expired sessions."""
    while True:
        await asyncio.sleep(CREDENTIAL_SWEEP_S)
        bound = {c.credential for c in calls.live_calls() if c.credential is not None}
        try:
            stale = [c for c in bound if not await credential_is_active(svc, c)]
        except Exception:
            logger.exception("credential sweep failed")
            continue
        if stale:
            await calls.close_for_credentials(stale)


async def _purge_sessions_periodically(svc: Services) -> None:
    while True:
        await asyncio.sleep(600)
        try:
            await svc.sessions.purge_expired()
        except Exception:
            logger.exception("session purge failed")


def _register_gauges(monitoring: Monitoring, svc: Services) -> None:
    counters = svc.counters
    monitoring.register_gauge("login_throttled_total", "Sign-in attempts refused by the throttle.",
                              lambda: counters["login_throttled_total"], kind="counter")
    monitoring.register_gauge("login_busy_total", "Sign-ins refused before hashing (in-flight cap or full hash queue).",
                              lambda: counters["login_busy_total"], kind="counter")
    monitoring.register_gauge("login_known_network_total",
                              "Sign-ins from a new browser let into the returning lane by a network the account used.",
                              lambda: counters["login_known_network_total"], kind="counter")
    monitoring.register_gauge("token_auth_failures_total", "Bearer requests with an unknown, expired or revoked token.",
                              lambda: counters["token_auth_failures_total"], kind="counter")
    monitoring.register_gauge("realtime_sessions_active", "Conversations open to the realtime upstream.",
                              lambda: svc.realtime_stats.snapshot().get("sessions_active", 0))
    monitoring.register_gauge("realtime_upstream_errors_total", "Upstream failures (handshake, stall, close).",
                              lambda: svc.realtime_stats.snapshot().get("upstream_errors_total", 0), kind="counter")
    monitoring.register_gauge("realtime_reconnects_total", "Transparent upstream reconnects.",
                              lambda: svc.realtime_stats.snapshot().get("reconnects", 0), kind="counter")


def create_app(settings: Settings | None = None, *, clock: Callable[[], float] = time.time) -> Starlette:
    settings = settings or load_settings()
    # Logging is set up here, not in the CLI, because the Procfile and Dockerfile start uvicorn directly.
    log_pipeline = setup_logging(settings)
    svc = build_services(settings, clock)
    monitoring = Monitoring(settings, active_sessions=svc.sessions.count_active, log_pipeline=log_pipeline)
    calls = svc.calls

    async def end_revoked_calls(handles: list[str]) -> None:
        await calls.close_for_credentials(Credential.from_handle(h) for h in handles)

    svc.sessions.add_revocation_listener(end_revoked_calls)
    wire_cluster(svc, monitoring)  # revocations, hang-ups and the server view reach every process
    _register_gauges(monitoring, svc)
    monitoring.register_gauge("voice_calls_active", "Voice calls open (WebRTC and WebSocket).",
                              lambda: len(calls.live_calls()))
    wire_usage(svc.usage, calls, monitoring)
    sso = build_sso(settings, svc.db, clock)  # single sign-on providers (none unless OIDC_PROVIDERS is set)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        version = await svc.db.migrate()
        await ensure_demo_user(svc)
        await svc.cluster.start()
        await svc.throttle_sync.start()
        purge = asyncio.create_task(_purge_sessions_periodically(svc), name="session-purge")
        await monitoring.start()
        calls.start()
        svc.rtc.start()
        await svc.usage.start()
        sweep = asyncio.create_task(_end_calls_of_revoked_credentials(svc, calls), name="credential-sweep")
        for warning in resolve_upstream(settings).warnings:  # once per process, not per call
            logger.warning("realtime upstream: {}", warning)
        logger.info("app started", version=APP_VERSION, env=settings.app_env, database=svc.db.kind,
                    schema_version=version, voice_mode=settings.voice_mode, node=str(svc.node))
        try:
            yield
        finally:
            purge.cancel()
            sweep.cancel()
            await calls.close_all("shutdown")
            await svc.throttle_sync.stop()
            await svc.cluster.stop()  # after the calls: our users' limits free up at once
            await svc.usage.stop()  # after the calls: their records are queued as they close
            await sso.aclose()
            await monitoring.stop()
            await svc.db.close()
            svc.passwords.close()
            logger.info("app stopped")
            await log_pipeline.aclose(timeout=5.0)

    secure = settings.is_production
    middleware = [
        Middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts)),
        Middleware(BodyDeadlineMiddleware, seconds=settings.http_body_timeout_s),
        Middleware(CORSMiddleware, allowed_origins=settings.cors_allowed_origins),
        Middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes),
        Middleware(LocaleMiddleware),
        Middleware(CSRFMiddleware, secret=settings.secret_key,
                   cookie_name="__Host-csrf" if secure else "csrf", secure=secure,
                   public_origin=settings.public_origin, session_cookie_name=cookie_name(settings)),
        Middleware(SessionAuthMiddleware, services=svc, cookie_name=cookie_name(settings), secure=secure),
        Middleware(PasswordChangeMiddleware, db=svc.db),  # temporary passwords from /admin are replaced first
    ]
    app = App(
        debug=False,
        routes=get_routes(),
        middleware=middleware,
        exception_handlers={HTTPException: http_error, DatabaseError: database_unavailable, Exception: server_error},
        lifespan=lifespan,
    )
    app.outer = [
        lambda inner: ClientAddressMiddleware(inner, hops=settings.proxy_hops),
        lambda inner: RequestContextMiddleware(inner, monitoring.http, node=svc.node.tag),
        lambda inner: SecurityHeadersMiddleware(inner, production=secure),
    ]
    app.state.settings = settings
    app.state.services = svc
    app.state.session_store = svc.sessions
    app.state.db = svc.db
    app.state.clock = clock
    app.state.monitoring = monitoring
    app.state.calls = calls
    app.state.log_pipeline = log_pipeline
    app.state.sso = sso
    app.state.drain = svc.drainer.drain  # web/serve.py calls it on SIGTERM, before uvicorn stops
    return app
