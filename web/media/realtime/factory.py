"""Building sessions (and one-off probes) from `Settings`: the only place that picks an upstream implementation."""

from __future__ import annotations

import math
import time
from typing import Any

from web.media.images import ImagePolicy
from web.settings import Settings

from .config import UpstreamConfig, resolve_upstream
from .echo import EchoUpstream
from .errors import UpstreamError
from .session import RealtimeSession
from .session_config import SessionDefaults, SessionLimits
from .stats import RealtimeStats
from .upstream import Upstream, UpstreamFactory
from .ws_upstream import WebSocketUpstream


def upstream_factory(config: UpstreamConfig, *, echo_speed: float = 2.0) -> UpstreamFactory:
    """A callable making a fresh, unconnected upstream per socket (a reconnect or a recycle asks for another)."""
    if not config.configured:
        raise UpstreamError("misconfigured", config.problem)
    if config.mode == "echo":
        return lambda: EchoUpstream(speed=echo_speed)

    def make() -> Upstream:
        return WebSocketUpstream(config)

    return make


def create_realtime_session(
    settings: Settings,
    *,
    user_id: int | None,
    log_context: dict[str, Any],
    limits: SessionLimits | None = None,
    defaults: SessionDefaults | None = None,
    stats: RealtimeStats | None = None,
) -> RealtimeSession:
    """A new, not yet started session for `settings.voice_mode`. Raises `UpstreamError("misconfigured")` when the
    chosen upstream lacks its settings; call `await session.start()` next (it raises `UpstreamError` on failure)."""
    config = resolve_upstream(settings)
    if limits is None and config.mode == "echo":
        # the in-process echo has no session cap: recycling it would only tell the user their context was "lost"
        limits = SessionLimits(recycle_after_s=math.inf, hard_recycle_after_s=math.inf)
    return RealtimeSession(
        upstream_factory(config),
        mode=config.mode,
        defaults=defaults or SessionDefaults.from_settings(settings),
        limits=limits,
        user_id=user_id,
        log_context=log_context,
        stats=stats,
        images=ImagePolicy.from_settings(settings, supported=config.protocol != "beta"),
    )


async def probe_upstream(settings: Settings) -> dict[str, Any]:
    """Connect once, wait for `session.created`, close: for readiness and the diagnostics checklist.

    Returns {ok, mode, connect_ms, code, operator_message, user_message}; never raises `UpstreamError`.
    """
    config = resolve_upstream(settings)
    began = time.monotonic()
    result: dict[str, Any] = {"ok": False, "mode": config.mode, "connect_ms": None, "code": None,
                              "operator_message": None, "user_message": None}
    try:
        upstream = upstream_factory(config)()
        try:
            await upstream.connect()
        finally:
            await upstream.close()
    except UpstreamError as exc:
        result.update(code=exc.code, operator_message=exc.operator_message, user_message=exc.user_message)
        return result
    result.update(ok=True, connect_ms=int((time.monotonic() - began) * 1000))
    return result
