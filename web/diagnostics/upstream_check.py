"""The server-side upstream check: configuration sanity, then a live handshake (time to `session.created`).

A handshake opens a real upstream session, so results are shared for PROBE_CACHE_S and concurrent requests wait for
one probe instead of starting their own: reloading the diagnostics page cannot hammer the AI service.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from web.diagnostics import rules_server
from web.diagnostics.model import SKIP, CheckResult
from web.diagnostics.text import t
from web.i18n import N_
from web.settings import Settings

PROBE_CACHE_S = 15.0
RECENT_ERRORS_WINDOW_S = 600.0

Describe = Callable[[Settings], dict[str, Any]]
Probe = Callable[[Settings], Awaitable[dict[str, Any]]]
_describe: Describe | None
_probe: Probe | None
_recent: Callable[[], list[dict[str, Any]]] | None
try:  # the voice package is optional for this module; imported at start-up, never inside a request
    from web.diagnostics.upstream_probe import probe
    from web.media.realtime import describe_upstream, recent_upstream_errors

    _describe, _probe, _recent = describe_upstream, probe, recent_upstream_errors
except ImportError:  # pragma: no cover - depends on the installation
    _describe = _probe = _recent = None

_cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
# one lock per event loop (tests run many loops in one process; an asyncio.Lock belongs to one loop)
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def _lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _locks.get(loop)
    if lock is None:
        lock = _locks[loop] = asyncio.Lock()
    return lock


def upstream_errors(since: float | None = None, user_id: int | None = None) -> list[dict[str, Any]]:
    """Recent upstream errors (newest last), optionally only since a time / for one user."""
    if _recent is None:
        return []
    return [e for e in _recent() if (since is None or float(e.get("time", 0)) >= since)
            and (user_id is None or e.get("user_id") in (None, user_id))]


def describe(settings: Settings) -> dict[str, Any] | None:
    return _describe(settings) if _describe is not None else None


async def _cached_probe(settings: Settings, key: tuple[str, str]) -> dict[str, Any]:
    assert _probe is not None
    async with _lock():
        hit = _cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < PROBE_CACHE_S:
            return {**hit[1], "cached": True}
        result = await _probe(settings)
        _cache[key] = (time.monotonic(), result)
        return result


async def run(settings: Settings, *, live: bool = True) -> CheckResult:
    described = describe(settings)
    if described is None or _probe is None:
        return CheckResult("upstream", SKIP, t(N_("not available on this server")))
    probe = await _cached_probe(settings, (str(described.get("mode")), str(described.get("url")))) if (
        live and described.get("configured", True)) else None
    result = rules_server.upstream(described, probe, settings.realtime_upstream == "echo")
    recent = upstream_errors(since=time.time() - RECENT_ERRORS_WINDOW_S)
    if recent:
        data = {**result.data, "recent_errors": len(recent), "last_error": recent[-1].get("code")}
        return CheckResult(result.check_id, result.status, result.value, result.fixes, data)
    return result
