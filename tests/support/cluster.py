"""Helpers for tests with more than one gateway process: a private database each, and who answered a request."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg

NODE_HEADER = "x-gateway-node"


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the test PostgreSQL server (dropped afterwards), so no other test's nodes or calls
    share the directory."""
    name = f"gw_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(server_url)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def node_of(response: httpx.Response) -> str:
    """The tag of the gateway process that answered (every response names it)."""
    return response.headers[NODE_HEADER]


def owner_of(call_url: str) -> str:
    """The tag in a call's id (`/v1/realtime/calls/rtc_<tag>_<random>`): the process that owns the call."""
    return call_url.rsplit("/", 1)[-1].split("_")[1]


def fresh_connections() -> httpx.Limits:
    """No keep-alive: every request opens a new connection, so the kernel (or a balancer) picks the process anew."""
    return httpx.Limits(max_keepalive_connections=0)


def directory_rows(database_url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return list(conn.execute(sql).fetchall())


def socket_url(tcp_url: str) -> str | None:
    """The same database through the server's Unix socket, reachable from any network namespace; None when the
    server has no socket."""
    with psycopg.connect(tcp_url, autocommit=True) as conn:
        row = conn.execute("SHOW unix_socket_directories").fetchone()
    directory = str(row[0]).split(",")[0].strip() if row else ""
    if not directory.startswith("/"):
        return None
    parts = urlsplit(tcp_url)
    return f"postgresql://{parts.username}@/{parts.path.lstrip('/')}?host={directory}&port={parts.port}"
