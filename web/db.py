"""Database access: SQLite by default, PostgreSQL when DATABASE_URL says so.

Both drivers are synchronous (stdlib sqlite3, psycopg 3). Every query runs in a small dedicated thread pool with a
per-thread connection, so the event loop never waits on disk or network I/O, and every call has a deadline. SQL is
written once with `?` placeholders and translated for psycopg.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from web.schema import MIGRATIONS

Row = dict[str, Any]
Params = Sequence[Any]
DEFAULT_TIMEOUT_S = 5.0
MIGRATION_LOCK = 72609  # PostgreSQL advisory lock key: one process migrates at a time (workers start together)
T = TypeVar("T")


class Transaction:
    """The statements of one `Database.transaction` (worker thread only), with the same `?` placeholders."""

    def __init__(self, conn: Any, translate: Callable[[str], str]) -> None:
        self._conn, self._translate = conn, translate

    def execute(self, sql: str, params: Params = ()) -> int:
        return int(self._conn.execute(self._translate(sql), tuple(params)).rowcount or 0)

    def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        row = self._conn.execute(self._translate(sql), tuple(params)).fetchone()
        return dict(row) if row is not None else None

    def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return [dict(row) for row in self._conn.execute(self._translate(sql), tuple(params)).fetchall()]


class DatabaseError(RuntimeError):
    """The database could not be reached or a query failed; the message is safe to log."""


class Database:
    def __init__(self, url: str, *, pool_size: int = 4) -> None:
        self.url = url
        parsed = urlparse(url)
        if parsed.scheme == "sqlite":
            self.kind = "sqlite"
            # sqlite:///relative/path or sqlite:////absolute/path
            self._sqlite_path = url.removeprefix("sqlite:///")
            pool_size = 1  # one writer: SQLite serialises writes anyway, and this avoids "database is locked".
        elif parsed.scheme in {"postgres", "postgresql"}:
            self.kind = "postgresql"
            self._sqlite_path = ""
        else:
            raise DatabaseError(
                f"DATABASE_URL must start with sqlite:/// or postgresql://, got scheme {parsed.scheme!r}")
        self._executor = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="db")
        self._local = threading.local()
        self._connections: list[Any] = []
        self._connections_lock = threading.Lock()  # guards the list only; never held on the event loop

    # --- connection handling (worker threads only) ---
    def _connect(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self.kind == "sqlite":
            if self._sqlite_path != ":memory:":
                Path(self._sqlite_path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._sqlite_path, timeout=5, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=5000")
        else:
            import psycopg
            from psycopg.rows import dict_row

            conn = psycopg.connect(self.url, autocommit=True, row_factory=dict_row, connect_timeout=5)
        self._local.conn = conn
        with self._connections_lock:
            self._connections.append(conn)
        return conn

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.kind == "postgresql" else sql

    def _run(self, fn: Callable[[Any], Any]) -> Any:
        try:
            return fn(self._connect())
        except sqlite3.Error as exc:
            raise DatabaseError(f"sqlite: {exc}") from exc
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg"):
                self._local.conn = None  # a broken connection is replaced on the next call
                raise DatabaseError(f"postgresql: {type(exc).__name__}: {exc}") from exc
            raise

    async def _call(self, fn: Callable[[Any], Any], timeout: float) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, self._run, fn)
        try:
            # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives as the query finishes, so a
            # cancelled background loop (usage purge, session purge) would run on and block the shutdown.
            async with asyncio.timeout(timeout):
                return await asyncio.shield(future)
        except asyncio.CancelledError:
            # The query cannot be stopped in its thread: let it finish before the caller (often a shutdown that closes
            # the connections next) goes on, then pass the cancellation on.
            await asyncio.wait([future])
            raise
        except TimeoutError as exc:
            raise DatabaseError(f"database did not answer within {timeout:g} s") from exc

    # --- public API ---
    async def execute(self, sql: str, params: Params = (), *, timeout: float = DEFAULT_TIMEOUT_S) -> int:
        """Run a statement; return the number of affected rows."""

        def work(conn: Any) -> int:
            cur = conn.execute(self._sql(sql), tuple(params))
            return int(cur.rowcount or 0)

        result: int = await self._call(work, timeout)
        return result

    async def insert(self, sql: str, params: Params = (), *, timeout: float = DEFAULT_TIMEOUT_S) -> int:
        """Run an INSERT and return the new row's id (the statement must not end with RETURNING)."""

        def work(conn: Any) -> int:
            if self.kind == "postgresql":
                row = conn.execute(self._sql(sql) + " RETURNING id", tuple(params)).fetchone()
                return int(row["id"])
            cur = conn.execute(sql, tuple(params))
            return int(cur.lastrowid)

        result: int = await self._call(work, timeout)
        return result

    async def fetchone(self, sql: str, params: Params = (), *, timeout: float = DEFAULT_TIMEOUT_S) -> Row | None:
        def work(conn: Any) -> Row | None:
            row = conn.execute(self._sql(sql), tuple(params)).fetchone()
            return dict(row) if row is not None else None

        result: Row | None = await self._call(work, timeout)
        return result

    async def fetchall(self, sql: str, params: Params = (), *, timeout: float = DEFAULT_TIMEOUT_S) -> list[Row]:
        def work(conn: Any) -> list[Row]:
            return [dict(row) for row in conn.execute(self._sql(sql), tuple(params)).fetchall()]

        result: list[Row] = await self._call(work, timeout)
        return result

    async def transaction(self, work: Callable[[Transaction], T], *, timeout: float = DEFAULT_TIMEOUT_S) -> T:
        """Run `work` in one transaction (committed when it returns, rolled back when it raises)."""

        def run(conn: Any) -> T:
            tx = Transaction(conn, self._sql)
            if self.kind == "postgresql":
                with conn.transaction():
                    return work(tx)
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(tx)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        result: T = await self._call(run, timeout)
        return result

    async def ping(self, timeout: float = 2.0) -> bool:
        await self.fetchone("SELECT 1 AS ok", timeout=timeout)
        return True

    async def migrate(self) -> int:
        """Create or upgrade the schema, idempotently; return the schema version now in place."""

        def work(conn: Any) -> int:
            if self.kind != "postgresql":
                return upgrade(conn)
            conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
            try:
                return upgrade(conn)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))

        def upgrade(conn: Any) -> int:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT MAX(version) AS v FROM schema_version").fetchone()
            current = (row["v"] if row is not None else None) or 0
            for version, statements in enumerate(MIGRATIONS, start=1):
                if version <= current:
                    continue
                for statement in statements:
                    conn.execute(self._adapt_ddl(statement))
                conn.execute(self._sql("INSERT INTO schema_version (version) VALUES (?)"), (version,))
                current = version
            return int(current)

        result: int = await self._call(work, timeout=30)
        return result

    def _adapt_ddl(self, statement: str) -> str:
        if self.kind == "postgresql":
            return statement.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")
        return statement

    async def close(self) -> None:
        def close_all() -> None:
            with self._connections_lock:
                conns, self._connections = self._connections, []
            for conn in conns:
                try:
                    conn.close()
                except Exception:  # noqa: S110 - closing at shutdown; nothing useful to do on failure
                    pass

        await asyncio.get_running_loop().run_in_executor(None, close_all)
        self._executor.shutdown(wait=False, cancel_futures=True)
