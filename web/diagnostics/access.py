"""Who may see and add to a report, and how often a client may start one.

The browser that started a run holds its report IDs in an HttpOnly cookie signed with the app's secret (the last
few only), so an anonymous visitor can print their own report while a guessed ID shows nothing. Signed-in owners and
admins are recognised by account. Report creation is rate-limited per client address, in memory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from web.diagnostics.report_id import normalize_report_id

COOKIE = "diag_reports"
MAX_OWNED = 10
CREATE_LIMIT = 30  # reports per client address …
CREATE_WINDOW_S = 3600.0  # … per this window
_MAX_TRACKED_CLIENTS = 10_000
GUESS_LIMIT = 60  # report IDs that show nothing (unknown, or not this browser's) per client address …
GUESS_WINDOW_S = 600.0  # … per this window; then 429 before any lookup


def _sign(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), b"diag-reports:" + payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def owned_ids(secret: str, cookie: str | None) -> list[str]:
    if not cookie or "~" not in cookie:
        return []
    payload, _, signature = cookie.rpartition("~")
    if not hmac.compare_digest(signature.encode(), _sign(secret, payload).encode()):
        return []
    ids = [normalize_report_id(part) for part in payload.split(".") if part]
    return [i for i in ids if i]


def cookie_with(secret: str, cookie: str | None, report_id: str) -> str:
    ids = [i for i in owned_ids(secret, cookie) if i != report_id] + [report_id]
    payload = ".".join(ids[-MAX_OWNED:])
    return f"{payload}~{_sign(secret, payload)}"


class CreateLimiter:
    def __init__(self, limit: int = CREATE_LIMIT, window_s: float = CREATE_WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def exhausted(self, client: str) -> bool:
        """True when the client has used up its window (without counting this call)."""
        now = self.clock()
        times = self._seen.get(client)
        return times is not None and len([t for t in times if now - t <= self.window_s]) >= self.limit

    def allow(self, client: str) -> bool:
        now = self.clock()
        times = self._seen.pop(client, None) or deque()
        while times and now - times[0] > self.window_s:
            times.popleft()
        allowed = len(times) < self.limit
        if allowed:
            times.append(now)
        self._seen[client] = times
        while len(self._seen) > _MAX_TRACKED_CLIENTS:
            self._seen.popitem(last=False)
        return allowed
