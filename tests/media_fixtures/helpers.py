"""Small helpers for call tests: sign in, count file descriptors and OS threads."""

from __future__ import annotations

import os

import httpx
from starlette.applications import Starlette

from tests.conftest import make_client
from tests.support.auth import login, page_token

SignedIn = tuple[httpx.AsyncClient, str]  # a client signed in as the demo user, and its page's CSRF token


async def sign_in(app: Starlette) -> SignedIn:
    http = make_client(app)
    await login(http)
    return http, await page_token(http)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))
