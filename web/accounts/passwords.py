"""Password hashing with argon2id, off the event loop and with bounded concurrency.

One verify costs ~250 ms of CPU with the default parameters, so hashing runs in its own small thread pool and at most
`concurrency` hashes run at once. Callers beyond a short queue are told to retry instead of piling up, so a login
flood cannot slow down the rest of the app (argon2-cffi releases the GIL while hashing). Returning browsers wait in a
lane of their own that a flood cannot fill; within each lane the places are shared fairly between the callers'
queue paths (network prefixes, web/accounts/fair_queue.py), so a flood from a few networks cannot take a first-time
user's turn, and nobody waits longer than `max_wait_s`. A check for an email that has no account computes no hash
(it answers after as long as a real check takes now), so a flood of made-up names costs no CPU and takes no place.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from web.accounts.fair_queue import FairQueue, QueueFull
from web.i18n import N_

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
_COMMON_PASSWORDS = frozenset(
    {"password", "password1", "12345678", "123456789", "1234567890", "qwertyuiop", "11111111", "00000000",
     "iloveyou", "sunshine", "princess", "football", "baseball", "welcome1", "admin123", "abc12345",
     "qwerty123", "passw0rd", "88888888", "66666666", "woaini1314", "a1234567", "letmein1", "changeme"}
)


def _lower_thread_priority() -> None:
    """Hashing threads run at a lower CPU priority (Linux nice is per thread and inherited by argon2's own lane
    threads), so on a small machine the event loop thread still gets the CPU when it needs it."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):  # not Linux, or not permitted: hashing still works, just unprioritised
        pass


class HasherBusy(RuntimeError):
    """Too many password checks are already waiting; the caller should answer 503 with a retry hint."""


class PasswordPolicyError(ValueError):
    """A new password breaks the policy; the message is a msgid for the user."""


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(N_("Password must be at least 8 characters long."))
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordPolicyError(N_("Password must be at most 1024 characters long."))
    if password.lower() in _COMMON_PASSWORDS:
        raise PasswordPolicyError(N_("This password is too common; choose another one."))


class PasswordService:
    """`concurrency` hashes run at once; callers wait in one of two bounded lanes. The priority lane (sign-ins from a
    browser that signed in to that account before) is always served first, so a flood of strangers filling the
    normal lane cannot lock returning users out. A full lane answers HasherBusy at once, unless the caller's path
    may take the place of a waiter from a larger group (who then gets HasherBusy); so does a wait beyond
    `max_wait_s`."""

    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int, concurrency: int,
                 max_waiting: int = 32, max_priority_waiting: int = 8, max_wait_s: float = 10.0) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        self._executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="argon2",
                                            initializer=_lower_thread_priority)
        self._free = concurrency
        self._lanes: dict[bool, FairQueue[asyncio.Future[None]]] = {
            True: FairQueue(max_priority_waiting), False: FairQueue(max_waiting)}
        self._max_wait_s = max_wait_s
        # How long recent real checks took, queue wait included: a sign-in for an email without an account costs no
        # hash but answers after one of these, so it looks like a wrong password and a flood of made-up names
        # takes no place in the queue. Seeded with one hash timed now.
        started = time.perf_counter()
        self._hasher.hash("timing-seed")
        self._recent: deque[float] = deque([time.perf_counter() - started], maxlen=64)

    @property
    def waiting(self) -> int:
        return sum(len(lane) for lane in self._lanes.values())

    @property
    def busy(self) -> bool:
        """Whether a check would have to wait for its turn now."""
        return self._free <= 0 or self.waiting > 0

    def has_room(self, *, priority: bool = False, path: tuple[str, ...] = ()) -> bool:
        """Whether a verify for `path` in that lane would be admitted now."""
        return self._free > 0 or self._lanes[priority].can_admit(path)

    def check_capacity(self, *, priority: bool = False, path: tuple[str, ...] = ()) -> None:
        """HasherBusy now if a verify would be refused, so callers skip their own work (the account lookup) first."""
        if not self.has_room(priority=priority, path=path):
            raise HasherBusy("password hashing queue is full")

    async def _acquire(self, priority: bool, path: tuple[str, ...]) -> None:
        if self._free > 0 and not self.waiting:
            self._free -= 1
            return
        lane = self._lanes[priority]
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        try:
            displaced = lane.push(path, waiter)
        except QueueFull:
            raise HasherBusy("password hashing queue is full") from None
        if displaced is not None and not displaced.done():
            displaced.set_exception(HasherBusy("a caller from a smaller group took this place"))
        try:
            async with asyncio.timeout(self._max_wait_s):
                await waiter
        except (asyncio.CancelledError, TimeoutError) as exc:
            if not lane.remove(path, waiter) and waiter.done() and not waiter.cancelled() \
                    and waiter.exception() is None:
                self._release()  # the slot was handed to us just as we gave up: pass it on
            if isinstance(exc, TimeoutError):
                raise HasherBusy("waited too long for a password check") from None
            raise

    def _release(self) -> None:
        for priority in (True, False):
            lane = self._lanes[priority]
            while len(lane):
                waiter = lane.pop()
                if not waiter.done():
                    waiter.set_result(None)  # the slot goes straight to the next waiter
                    return
        self._free += 1

    async def _run(self, fn: object, *args: str, priority: bool = False, path: tuple[str, ...] = ()) -> object:
        await self._acquire(priority, path)
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, fn, *args)  # type: ignore[arg-type]
        finally:
            self._release()

    async def hash(self, password: str) -> str:
        return str(await self._run(self._hasher.hash, password))

    async def verify(self, password_hash: str | None, password: str, *, priority: bool = False,
                     path: tuple[str, ...] = ()) -> bool:
        """True when `password` matches. `path` names the caller's group for a fair share of the wait queue
        (web/accounts/networks.py for sign-ins). With `password_hash=None` (no such account) no hash is computed:
        the answer is False, refused (HasherBusy) when a real check would be refused now, and otherwise given after
        as long as a recent real check took."""
        if password_hash is None:
            self.check_capacity(priority=priority, path=path)
            await asyncio.sleep(random.choice(self._recent))
            return False
        started = time.perf_counter()
        ok = bool(await self._run(self._verify_sync, password_hash, password, priority=priority, path=path))
        self._recent.append(time.perf_counter() - started)
        return ok

    def _verify_sync(self, password_hash: str, password: str) -> bool:
        try:
            return bool(self._hasher.verify(password_hash, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return bool(self._hasher.check_needs_rehash(password_hash))
        except InvalidHashError:
            return True

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
