"""Login throttling: failure counters per account and per client IP in a sliding window.

Kept in process memory (one uvicorn worker per container is the deployment model); a restart forgets counters,
which only ever errs towards letting a user in. Checked before the password is hashed, so a throttled attacker
costs no CPU.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

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
        self.failures.setdefault(key, deque()).append(now)

    def clear(self, key: str) -> None:
        self.failures.pop(key, None)


class LoginThrottle:
    def __init__(self, *, per_account: int, per_ip: int, window_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._accounts = _Window(per_account, window_s)
        self._ips = _Window(per_ip, window_s)
        self._clock = clock

    def check(self, account: str, ip: str) -> ThrottleVerdict:
        now = self._clock()
        wait = max(self._accounts.retry_after(account, now), self._ips.retry_after(ip, now))
        return ThrottleVerdict(allowed=wait == 0, retry_after_s=wait)

    def check_ip(self, ip: str) -> ThrottleVerdict:
        wait = self._ips.retry_after(ip, self._clock())
        return ThrottleVerdict(allowed=wait == 0, retry_after_s=wait)

    def record_failure(self, account: str, ip: str) -> None:
        now = self._clock()
        if account:
            self._accounts.add(account, now)
        self._ips.add(ip, now)

    def record_success(self, account: str) -> None:
        self._accounts.clear(account)
