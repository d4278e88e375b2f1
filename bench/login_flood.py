"""Sign-in during a flood of wrong-password requests: does a real user still get in, how long does it take, and does
`/health` stay fast? Attackers post from changing client addresses (X-Forwarded-For written by a trusted proxy, one
hop), aimed at the organisation's real accounts (`--targets accounts`: 100 seeded accounts beside the real user's)
or at made-up addresses (`made-up`). The real user signs in from a browser that signed in before (case `returning`:
it holds the known-device cookie), from a new browser on a network the account signed in from before
(`known-network`), or from a new browser on a new network each time (`first-time`). The attackers' addresses come
from two /16 networks (198.18.0.0/15), or in the `-spread` cases from anywhere in the IPv4 unicast space (a botnet or
proxy pool).

    .venv/bin/python -m bench.login_flood [--attackers 40 100] [--seconds 12] [--cases returning first-time ...]
        [--targets accounts made-up] [--out docs/login-flood.json]

The server is the real app under uvicorn (`python -m web serve`) with the production argon2 parameters.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher

from bench.common import machine, pct
from tests.support.live_server import run_live_server

REAL_EMAIL, REAL_PASSWORD = "betty@123.com", "Betty@123.com"
SERVER_ENV = {"PASSWORD_HASH_TIME_COST": "3", "PASSWORD_HASH_MEMORY_KIB": "65536", "PASSWORD_HASH_PARALLELISM": "4",
              "FORWARDED_PROXY_HOPS": "1"}
_TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"')


async def _form_token(client: httpx.AsyncClient) -> str:
    match = _TOKEN.search((await client.get("/login")).text)
    assert match, "no CSRF token on /login"
    return match.group(1)


CASES = ("returning", "known-network", "first-time", "returning-spread", "known-network-spread", "first-time-spread")
TARGETS = ("accounts", "made-up")
SEEDED_ACCOUNTS = 100


def seed_accounts(data_dir: Path, count: int = SEEDED_ACCOUNTS, prefix: str = "staff") -> list[str]:
    """Accounts for the attackers to aim at, written straight into the running server's SQLite database with one
    hash made with the server's parameters (hashing each would take a minute). Their passwords are unknown."""
    hasher = PasswordHasher(time_cost=int(SERVER_ENV["PASSWORD_HASH_TIME_COST"]),
                            memory_cost=int(SERVER_ENV["PASSWORD_HASH_MEMORY_KIB"]),
                            parallelism=int(SERVER_ENV["PASSWORD_HASH_PARALLELISM"]))
    password_hash = hasher.hash(secrets.token_urlsafe(16))
    emails = [f"{prefix}{i}@example.com" for i in range(count)]
    with sqlite3.connect(data_dir / "app.db", timeout=10) as db:
        db.executemany("INSERT INTO users (email, password_hash, created_at) VALUES (?, ?, ?)",
                       [(email, password_hash, time.time()) for email in emails])
    return emails


def _attack_address(rng: random.Random, spread: bool) -> str:
    if spread:
        return f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    return f"198.{rng.randrange(18, 20)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


async def _attacker(client: httpx.AsyncClient, token: str, n: int, stop_at: float, statuses: list[int],
                    spread: bool, targets: list[str]) -> None:
    rng = random.Random(n)
    while time.monotonic() < stop_at:
        address = _attack_address(rng, spread)
        email = rng.choice(targets) if targets else f"victim{rng.randrange(1000)}@example.com"
        try:
            response = await client.post("/login", headers={"X-Forwarded-For": address}, data={
                "email": email, "password": "wrong-password-1", "csrf_token": token})
            statuses.append(response.status_code)
        except httpx.HTTPError:
            statuses.append(0)


async def real_user_cookie(base_url: str, address: str = "203.0.113.200") -> httpx.Cookies:
    """Sign in once before the flood, as the user did on an earlier day from `address`; keep the browser's
    cookies."""
    async with httpx.AsyncClient(base_url=base_url, headers={"Origin": base_url}, timeout=30) as client:
        token = await _form_token(client)
        response = await client.post("/login", headers={"X-Forwarded-For": address}, data={
            "email": REAL_EMAIL, "password": REAL_PASSWORD, "csrf_token": token})
        assert response.status_code == 303, response.status_code
        known = client.cookies.get("known_device")  # absent on a server without the known-device lane
        return httpx.Cookies({"known_device": known} if known else {})


def _real_user_address(case: str, i: int) -> str:
    """Returning and known-network users sign in from the network they used before (203.0.113.0/24); a first-time
    user comes from a new network each try, so its own success does not make the next try a known network."""
    return f"100.{64 + i}.0.10" if case.startswith("first-time") else f"203.0.113.{10 + i}"


async def _real_user(base_url: str, cookies: httpx.Cookies, tries: int, case: str) -> list[tuple[int, float]]:
    results = []
    for i in range(tries):
        async with httpx.AsyncClient(base_url=base_url, headers={"Origin": base_url}, cookies=cookies,
                                     timeout=30) as client:
            token = await _form_token(client)
            started = time.perf_counter()
            response = await client.post("/login", headers={"X-Forwarded-For": _real_user_address(case, i)}, data={
                "email": REAL_EMAIL, "password": REAL_PASSWORD, "csrf_token": token})
            results.append((response.status_code, time.perf_counter() - started))
        await asyncio.sleep(0.5)
    return results


_PROBE = """
import json, sys, time, httpx
url, seconds = sys.argv[1], float(sys.argv[2])
latencies, errors = [], 0
with httpx.Client(timeout=2) as client:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        try:
            client.get(url).raise_for_status()
            latencies.append(time.perf_counter() - started)
        except httpx.HTTPError:
            errors += 1
        time.sleep(0.05)
print(json.dumps({"latencies": latencies, "errors": errors}))
"""


async def flood(base_url: str, attackers: int, seconds: float, tries: int = 4, case: str = "returning",
                targets: list[str] | None = None) -> dict[str, Any]:
    """Run one flood aimed at `targets` (made-up addresses when empty); returns the real user's results, the
    attackers' statuses and the /health probe."""
    cookies = httpx.Cookies()
    if not case.startswith("first-time"):
        cookies = await real_user_cookie(base_url)
        if case.startswith("known-network"):
            cookies = httpx.Cookies()  # a new browser: same network, no known-device cookie
    targets = targets or []
    spread = case.endswith("-spread")
    probe = await asyncio.create_subprocess_exec(sys.executable, "-c", _PROBE, base_url + "/health", str(seconds),
                                                 stdout=asyncio.subprocess.PIPE)
    statuses: list[int] = []
    # One client with a connection per attacker: creating dozens of clients would stall this loop for seconds.
    limits = httpx.Limits(max_connections=attackers, max_keepalive_connections=attackers)
    async with httpx.AsyncClient(base_url=base_url, headers={"Origin": base_url}, timeout=30, limits=limits) as shared:
        token = await _form_token(shared)
        stop_at = time.monotonic() + seconds
        flood_tasks = [asyncio.create_task(_attacker(shared, token, n, stop_at, statuses, spread, targets))
                       for n in range(attackers)]
        await asyncio.sleep(min(2.0, seconds / 4))  # the queue is full by now
        real = await _real_user(base_url, cookies, tries, case)
        await asyncio.gather(*flood_tasks)
    out, _err = await probe.communicate()
    health = json.loads(out)
    latencies_ms = [x * 1000 for x in health["latencies"]]
    return {
        "case": case, "targets": "accounts" if targets else "made-up", "attackers": attackers, "seconds": seconds,
        "real_user": {"statuses": [s for s, _ in real], "successes": sum(1 for s, _ in real if s == 303),
                      "tries": tries, "seconds": [round(t, 3) for _, t in real],
                      "median_s": round(statistics.median(t for _, t in real), 3)},
        "attack": {"requests": len(statuses), "by_status": {str(k): statuses.count(k) for k in sorted(set(statuses))}},
        "health": {"probes": len(latencies_ms), "errors": health["errors"], "p50_ms": pct(latencies_ms, 0.5),
                   "p99_ms": pct(latencies_ms, 0.99), "max_ms": round(max(latencies_ms), 1) if latencies_ms else None},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attackers", type=int, nargs="+", default=[40, 100])
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=["accounts"])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    runs = []
    for target in args.targets:
        for case in args.cases:
            for attackers in args.attackers:
                with tempfile.TemporaryDirectory() as tmp, run_live_server(Path(tmp), SERVER_ENV) as server:
                    emails = seed_accounts(server.data_dir) if target == "accounts" else []
                    runs.append(asyncio.run(flood(server.base_url, attackers, args.seconds, case=case,
                                                  targets=emails)))
                print(json.dumps(runs[-1]), flush=True)
    result = {"machine": machine(), "runs": runs}
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
