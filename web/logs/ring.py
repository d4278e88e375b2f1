"""A bounded in-memory ring of the most recent redacted log entries, for the support page.

`deque(maxlen=…)` appends and copies are single C calls under the GIL, so the sink (any thread) can append while
the event loop queries without a lock.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime

from web.logs.format import Entry

TimeBound = datetime | float | None


def _epoch(bound: TimeBound) -> float | None:
    if bound is None:
        return None
    if isinstance(bound, datetime):
        return bound.timestamp()  # naive datetimes are read as local time, like datetime.timestamp() does
    return float(bound)


class RecordRing:
    def __init__(self, capacity: int = 5000) -> None:
        self._items: deque[tuple[float, Entry]] = deque(maxlen=max(1, capacity))

    @property
    def capacity(self) -> int:
        return self._items.maxlen or 0

    def __len__(self) -> int:
        return len(self._items)

    def append(self, timestamp: float, entry: Entry) -> None:
        self._items.append((timestamp, entry))

    def query(
        self,
        since: TimeBound = None,
        until: TimeBound = None,
        user_id: str | int | None = None,
        request_id: str | None = None,
        limit: int = 1000,
    ) -> list[Entry]:
        """Entries with since <= time <= until (and the given user / request), oldest first, at most `limit`
        (the newest ones are kept when more match). Returned dicts are copies; nested values must not be mutated."""
        start, end = _epoch(since), _epoch(until)
        matched: list[Entry] = []
        for ts, entry in self._items.copy():
            if start is not None and ts < start:
                continue
            if end is not None and ts > end:
                continue
            if user_id is not None and entry.get("user_id") != str(user_id):
                continue
            if request_id is not None and entry.get("request_id") != request_id:
                continue
            matched.append(dict(entry))
        return matched[-limit:] if limit > 0 else []
