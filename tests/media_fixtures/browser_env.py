"""What the voice browser tests need from the machine: a private loopback-only network namespace, and a clear
verdict when a tool is missing (skip on a developer machine, fail on CI)."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache

import pytest

from tests.support import in_ci


@cache
def namespace_prefix() -> tuple[str, ...] | None:
    """How to enter a new network namespace here: as root, or through a user namespace; None when neither works."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return None
    candidates: list[tuple[str, ...]] = [("unshare", "--net")] if os.geteuid() == 0 else []
    candidates.append(("unshare", "--map-root-user", "--net"))
    for prefix in candidates:
        probe = subprocess.run([*prefix, "sh", "-c", "ip link set lo up"], capture_output=True, timeout=10)
        if probe.returncode == 0:
            return prefix
    return None


def require(condition: bool, reason: str) -> None:
    if condition:
        return
    if in_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)
