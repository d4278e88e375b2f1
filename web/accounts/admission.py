"""Sign-in admission: how many sign-ins one client (an IPv4 address or an IPv6 /64, web/accounts/networks.py), and
one account, may have in flight at once.

Checked after the throttle and before a request may queue for a password hash, so one source can hold at most its
share of the hash queue however fast it sends; the excess is refused at once (429) and counted by the throttle.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

PER_IP = 2
PER_ACCOUNT = 4


class AdmissionRefused(Exception):
    pass


class LoginAdmission:
    def __init__(self, *, per_ip: int = PER_IP, per_account: int = PER_ACCOUNT) -> None:
        self.per_ip, self.per_account = per_ip, per_account
        self._ips: Counter[str] = Counter()
        self._accounts: Counter[str] = Counter()

    @contextmanager
    def enter(self, account: str, ip: str) -> Iterator[None]:
        """Hold a place for one sign-in; AdmissionRefused when the address or the account has too many in flight."""
        if self._ips[ip] >= self.per_ip or (account and self._accounts[account] >= self.per_account):
            raise AdmissionRefused
        self._ips[ip] += 1
        if account:
            self._accounts[account] += 1
        try:
            yield
        finally:
            self._ips[ip] -= 1
            if self._ips[ip] <= 0:
                del self._ips[ip]
            if account:
                self._accounts[account] -= 1
                if self._accounts[account] <= 0:
                    del self._accounts[account]
