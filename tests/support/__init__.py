"""Shared test harness: a live app server, a Playwright launcher for Debian's Chromium, a throwaway PostgreSQL."""

from __future__ import annotations

import os
import socket

_TRUTHY = {"1", "true", "yes", "on"}


def in_ci() -> bool:
    """True on CI (env CI=true), where a missing browser or database must fail the run instead of skipping."""
    return os.environ.get("CI", "").strip().lower() in _TRUTHY


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (callers retry or fail clearly if it is taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
