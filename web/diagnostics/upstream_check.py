"""The server-side upstream check: configuration sanity, then a live handshake (time to `session.created`).

A handshake opens a real upstream session, so results are shared for PROBE_CACHE_S and concurrent requests wait for
one probe instead of starting their own: reloading the diagnostics page cannot hammer the AI service. One
`UpstreamCheck` per app (`Services.upstream_check`) holds that cache and reads the app's `RealtimeStats`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from web.diagnostics import rules_server
from web.diagnostics.model import CheckResult
from web.diagnostics.upstream_probe import probe
from web.media.realtime import RealtimeStats, describe_upstream
from web.settings import Settings

PROBE_CACHE_S = 15.0
RECENT_ERRORS_WINDOW_S = 600.0


class UpstreamCheck:
    def __init__(self, settings: Settings, stats: RealtimeStats) -> None:
        self.settings = settings
        self.stats = stats
        self._cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        self._lock = asyncio.Lock()

    def upstream_errors(self, since: float | None = None, user_id: int | None = None) -> list[dict[str, Any]]:
        """Recent upstream errors (newest last), optionally only since a time / for one user."""
        return [e for e in self.stats.recent_upstream_errors()
                if (since is None or float(e.get("time", 0)) >= since)
                and (user_id is None or e.get("user_id") in (None, user_id))]

    async def _cached_probe(self, key: tuple[str, str]) -> dict[str, Any]:
        async with self._lock:
            hit = self._cache.get(key)
            if hit is not None and time.monotonic() - hit[0] < PROBE_CACHE_S:
                return {**hit[1], "cached": True}
            result = await probe(self.settings)
            self._cache[key] = (time.monotonic(), result)
            return result

    async def run(self) -> CheckResult:
        described = describe_upstream(self.settings)
        key = (str(described.get("mode")), str(described.get("url")))
        probe = await self._cached_probe(key) if described.get("configured", True) else None
        result = rules_server.upstream(described, probe, self.settings.realtime_upstream == "echo")
        recent = self.upstream_errors(since=time.time() - RECENT_ERRORS_WINDOW_S)
        if recent:
            data = {**result.data, "recent_errors": len(recent), "last_error": recent[-1].get("code")}
            return CheckResult(result.check_id, result.status, result.value, result.fixes, data)
        return result
