"""Counters for the realtime relay, and a short ring of recent upstream errors: one object per app (`Services`).

Updates are O(1), synchronous and lock-free (they run on the event loop thread only), so any code path may record
without awaiting; /metrics and the diagnostics pages read snapshots.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from typing import Any

RECENT_ERRORS_MAX = 50


class RealtimeStats:
    def __init__(self) -> None:
        self._counters: Counter[str] = Counter()
        self._recent: deque[dict[str, Any]] = deque(maxlen=RECENT_ERRORS_MAX)

    def incr(self, name: str, amount: int = 1) -> None:
        self._counters[name] += amount

    def record_upstream_error(self, code: str, operator_message: str, user_id: int | None) -> None:
        self._counters["upstream_errors_total"] += 1
        self._counters[f"upstream_errors.{code}"] += 1
        self._recent.append({"time": time.time(), "code": code, "operator_message": operator_message,
                             "user_id": user_id})

    def snapshot(self) -> dict[str, int]:
        """Keys: sessions_started, sessions_closed, sessions_active, reconnects, recycles, upstream_errors_total,
        upstream_errors.<code>, audio_in_dropped_bytes, events_out_dropped, client_events_rejected, ..."""
        snapshot = dict(self._counters)
        snapshot["sessions_active"] = snapshot.get("sessions_started", 0) - snapshot.get("sessions_closed", 0)
        return snapshot

    def recent_upstream_errors(self) -> list[dict[str, Any]]:
        """Newest last: dicts with time (unix seconds), code, operator_message, user_id."""
        return [dict(entry) for entry in self._recent]
