"""Login throttling: failure counters per account and per client IP in a sliding window.

Kept in process memory and checked before the password is hashed, so a throttled attacker costs no CPU. With more
than one process, `observer` hears every local failure and success, and the cluster (web/cluster/throttle_sync.py)
shares them: other processes `apply_failure`/`apply_success` what they hear, and a process that starts loads the
window's failures from PostgreSQL. A lost message only ever errs towards letting a user in.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

ThrottleEvent = Literal["failure", "success"]
# (event, account, ip): account is "" for a failure counted against the address only; ip is "" for a success
ThrottleObserver = Callable[[ThrottleEvent, str, str], None]

_MAX_KEYS = 100_000


@dataclass(frozen=True)
class ThrottleVerdict:
    allowed: bool
    retry_after_s: int = 0


class _Window:
    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self.failures: dict[str, deque[float]] = {}

    def _prune(self, key: str, now: float) -> deque[float]:
        entries = self.failures.get(key)
        if entries is None:
            return deque()
        while entries and entries[0] <= now - self.window_s:
            entries.popleft()
        if not entries:
            del self.failures[key]
        return entries

    def retry_after(self, key: str, now: float) -> int:
        entries = self._prune(key, now)
        if len(entries) < self.limit:
            return 0
        return max(1, int(entries[0] + self.window_s - now + 0.999))

    def add(self, key: str, now: float) -> None:
        if len(self.failures) >= _MAX_KEYS:
            self.failures.pop(next(iter(self.failures)))  # bounded memory: forget the oldest key
        entries = self.failures.setdefault(key, deque())
        entries.append(now)
        if len(entries) > 1 and entries[-2] > now:  # a remote failure older than the last local one: keep order
            self.failures[key] = deque(sorted(entries))

    def clear(self, key: str) -> None:
        self.failures.pop(key, None)


class LoginThrottle:
    def __init__(self, *, per_account: int, per_ip: int, window_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._accounts = _Window(per_account, window_s)
        self._ips = _Window(per_ip, window_s)
        self._clock = clock
        self.window_s = window_s
        self.observer: ThrottleObserver | None = None

    def check(self, account: str, ip: str) -> ThrottleVerdict:
        now = self._clock()
        wait = max(self._accounts.retry_after(account, now), self._ips.retry_after(ip, now))
        return ThrottleVerdict(allowed=wait == 0, retry_after_s=wait)

    def check_ip(self, ip: str) -> ThrottleVerdict:
        wait = self._ips.retry_after(ip, self._clock())
        return ThrottleVerdict(allowed=wait == 0, retry_after_s=wait)

    def record_failure(self, account: str, ip: str) -> None:
        self.apply_failure(account, ip, 0.0)
        if self.observer is not None:
            self.observer("failure", account, ip)

    def record_success(self, account: str) -> None:
        self.apply_success(account)
        if self.observer is not None:
            self.observer("success", account, "")

    def apply_failure(self, account: str, ip: str, age_s: float) -> None:
        """Count a failure that happened `age_s` ago (here, or in another process)."""
        if age_s >= self.window_s:
            return
        at = self._clock() - max(0.0, age_s)
        if account:
            self._accounts.add(account, at)
        if ip:
            self._ips.add(ip, at)

    def apply_success(self, account: str) -> None:
        self._accounts.clear(account)
