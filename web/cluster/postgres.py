"""The cluster over PostgreSQL: a directory of live nodes and calls with leases, and messages over LISTEN/NOTIFY.

Tables (created here, PostgreSQL only; SQLite deployments are one process and never need them):
- `gw_nodes`: one row per live process, its lease renewed every `HEARTBEAT_S`. A process that dies without a word
  (`kill -9`, a lost host) stops renewing; after `LEASE_S` its row no longer counts and the next heartbeat of any
  other node deletes it, with its calls.
- `gw_calls`: one row per live call with its owner's tag and user; the per-user limit counts the rows whose owner
  holds a lease, under a per-user advisory lock, so two nodes cannot both admit the last call.

Large payloads (a photo for a call on another node) are parked in `gw_blobs` for the owner to take (a minute at most).

Messages: every process LISTENs on its own channel (`gw_node_<tag>`) and on `gw_all`. A request carries an id and the
sender's tag; the owner answers on the sender's channel. Payloads are JSON under PostgreSQL's 8,000-byte limit.
The listening connection lives in its own thread (psycopg's blocking `notifies()`), so the event loop never waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import threading
from typing import Any

from loguru import logger

from web.cluster.base import Handler, Listener, Message
from web.cluster.node import BROADCAST_CHANNEL, NodeIdentity, channel_of
from web.db import Database, DatabaseError, Transaction

HEARTBEAT_S = 2.0
LEASE_S = 6.0  # a dead node's calls stop counting after this, and are deleted within one more heartbeat
MAX_PAYLOAD = 7900
CALLS_LOCK = 72610  # advisory lock namespace for the per-user count (the second key is the user id)
SCHEMA_LOCK = 72611

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS gw_nodes (
        tag TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        lease_until TIMESTAMPTZ NOT NULL,
        draining BOOLEAN NOT NULL DEFAULT FALSE
    )""",
    """CREATE TABLE IF NOT EXISTS gw_calls (
        call_id TEXT PRIMARY KEY,
        node_tag TEXT NOT NULL,
        user_id BIGINT NOT NULL,
        transport TEXT NOT NULL,
        started_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )""",
    "CREATE INDEX IF NOT EXISTS gw_calls_user ON gw_calls (user_id)",
    """CREATE TABLE IF NOT EXISTS gw_blobs (
        id BIGSERIAL PRIMARY KEY,
        data BYTEA NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )""",
    "CREATE INDEX IF NOT EXISTS gw_calls_node ON gw_calls (node_tag)",
]

_LIVE_COUNT = ("SELECT count(*) AS n FROM gw_calls c JOIN gw_nodes n ON n.tag = c.node_tag "
               "WHERE c.user_id = ? AND n.lease_until > now()")


class PostgresCluster:
    shared = True

    def __init__(self, db: Database, node: NodeIdentity) -> None:
        if db.kind != "postgresql":
            raise ValueError("PostgresCluster needs a PostgreSQL database")
        self.node = node
        self._db = db
        self._handlers: dict[str, Handler] = {}
        self._listeners: dict[str, Listener] = {}
        self._waiting: dict[str, asyncio.Future[Message]] = {}
        self._local: dict[str, tuple[int, str]] = {}  # this node's calls: id → (user, transport), to re-register
        self._tasks: set[asyncio.Future[Any]] = set()
        self._forgetting: set[asyncio.Future[Any]] = set()
        self._draining = False
        self._snapshot: dict[str, Any] = {"shared": True, "node": node.tag, "nodes_live": 1, "calls_live": 0}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None
        self._heartbeat: asyncio.Task[None] | None = None

    # --- life cycle ---------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()

        def create(tx: Transaction) -> None:
            tx.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))
            for statement in SCHEMA:
                tx.execute(statement)

        await self._db.transaction(create, timeout=30)
        await self._beat()
        self._stop.clear()
        self._thread = threading.Thread(target=self._listen, name="cluster-listen", daemon=True)
        self._thread.start()
        # Requests addressed to this node may follow its first call at once: be listening before admitting any.
        await asyncio.get_running_loop().run_in_executor(None, self._listening.wait, 10.0)
        if not self._listening.is_set():
            logger.error("cluster: not listening for messages after 10 s; calls on other nodes cannot reach this one")
        self._heartbeat = asyncio.create_task(self._heartbeat_loop(), name="cluster-heartbeat")
        logger.info("cluster node started", node=str(self.node))

    async def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        for task in list(self._tasks):
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, 2.0)
        self._stop.set()
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 3.0)
        try:  # leave at once rather than after the lease: our users' limits free up now
            await self._db.execute("DELETE FROM gw_calls WHERE node_tag = ?", (self.node.tag,), timeout=2.0)
            await self._db.execute("DELETE FROM gw_nodes WHERE tag = ?", (self.node.tag,), timeout=2.0)
        except DatabaseError as exc:
            logger.warning("cluster: could not remove this node's entries; they expire with its lease", error=str(exc))

    def set_draining(self, draining: bool) -> None:
        self._draining = draining
        self._spawn(self._beat())

    # --- the directory ------------------------------------------------------------------------------------------
    async def reserve(self, call_id: str, user_id: int, transport: str, limit: int) -> bool:
        def work(tx: Transaction) -> bool:
            tx.execute("SELECT pg_advisory_xact_lock(?, ?)", (CALLS_LOCK, user_id % 2_147_483_647))
            row = tx.fetchone(_LIVE_COUNT, (user_id,))
            if row is not None and int(row["n"]) >= limit:
                return False
            tx.execute("INSERT INTO gw_calls (call_id, node_tag, user_id, transport) VALUES (?, ?, ?, ?)",
                       (call_id, self.node.tag, user_id, transport))
            return True

        admitted = await self._db.transaction(work)
        if admitted:
            self._local[call_id] = (user_id, transport)
        return admitted

    def forget(self, call_id: str) -> None:
        if self._local.pop(call_id, None) is None:
            return
        self._forgetting.add(self._spawn(self._db.execute("DELETE FROM gw_calls WHERE call_id = ?", (call_id,))))

    async def settle(self) -> None:
        pending = [task for task in self._forgetting if not task.done()]
        self._forgetting.clear()
        if pending:
            await asyncio.wait(pending, timeout=2.0)

    async def owner_is_live(self, tag: str) -> bool:
        row = await self._db.fetchone("SELECT 1 AS ok FROM gw_nodes WHERE tag = ? AND lease_until > now()", (tag,))
        return row is not None

    async def _beat(self) -> None:
        lease = f"{LEASE_S:g} seconds"
        row = await self._db.fetchone(
            "INSERT INTO gw_nodes (tag, host, pid, lease_until, draining) "
            "VALUES (?, ?, ?, now() + CAST(? AS INTERVAL), ?) "
            "ON CONFLICT (tag) DO UPDATE SET lease_until = EXCLUDED.lease_until, draining = EXCLUDED.draining "
            "RETURNING (xmax = 0) AS inserted",
            (self.node.tag, self.node.host, self.node.pid, lease, self._draining))
        if row is not None and row["inserted"] and self._local:
            # Our row had been reaped (the database was out of reach longer than a lease): publish our calls again.
            for call_id, (user_id, transport) in list(self._local.items()):
                await self._db.execute(
                    "INSERT INTO gw_calls (call_id, node_tag, user_id, transport) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (call_id) DO NOTHING", (call_id, self.node.tag, user_id, transport))
            logger.warning("cluster: this node's lease had expired; its calls were published again",
                           calls=len(self._local))

    async def _reap_and_count(self) -> None:
        gone = await self._db.fetchall("DELETE FROM gw_nodes WHERE lease_until < now() RETURNING tag")
        await self._db.execute("DELETE FROM gw_blobs WHERE created_at < now() - INTERVAL '60 seconds'")
        await self._db.execute("DELETE FROM gw_calls c WHERE NOT EXISTS "
                               "(SELECT 1 FROM gw_nodes n WHERE n.tag = c.node_tag)")
        if gone:
            logger.warning("cluster: nodes without a lease removed with their calls",
                           nodes=[row["tag"] for row in gone])
        row = await self._db.fetchone(
            "SELECT (SELECT count(*) FROM gw_nodes WHERE lease_until > now()) AS nodes, "
            "(SELECT count(*) FROM gw_calls c JOIN gw_nodes n ON n.tag = c.node_tag "
            " WHERE n.lease_until > now()) AS calls")
        if row is not None:
            self._snapshot = {"shared": True, "node": self.node.tag, "nodes_live": int(row["nodes"]),
                              "calls_live": int(row["calls"])}

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self._beat()
                await self._reap_and_count()
            except DatabaseError as exc:
                logger.warning("cluster heartbeat failed", error=str(exc))

    def snapshot(self) -> dict[str, Any]:
        return dict(self._snapshot)

    async def directory(self) -> list[dict[str, Any]]:
        return await self._db.fetchall(
            "SELECT c.call_id, c.node_tag, c.user_id, c.transport, "
            "EXTRACT(EPOCH FROM now() - c.started_at) AS age_s FROM gw_calls c JOIN gw_nodes n ON n.tag = c.node_tag "
            "WHERE n.lease_until > now() ORDER BY c.started_at LIMIT 500")

    async def put_blob(self, data: bytes) -> int:
        row = await self._db.fetchone("INSERT INTO gw_blobs (data) VALUES (?) RETURNING id", (data,))
        assert row is not None
        return int(row["id"])

    async def take_blob(self, blob_id: int) -> bytes | None:
        row = await self._db.fetchone("DELETE FROM gw_blobs WHERE id = ? RETURNING data", (blob_id,))
        return bytes(row["data"]) if row is not None else None

    # --- messages -----------------------------------------------------------------------------------------------
    def on_request(self, op: str, handler: Handler) -> None:
        self._handlers[op] = handler

    def on_broadcast(self, op: str, listener: Listener) -> None:
        self._listeners[op] = listener

    async def request(self, tag: str, op: str, body: Message, timeout: float) -> Message | None:
        request_id = secrets.token_hex(8)
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        try:
            await self._notify(channel_of(tag), {"op": op, "req": request_id, "from": self.node.tag, "body": body})
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(request_id, None)

    async def broadcast(self, op: str, body: Message) -> None:
        await self._notify(BROADCAST_CHANNEL, {"op": op, "from": self.node.tag, "body": body})

    async def _notify(self, channel: str, message: Message) -> None:
        payload = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
        if len(payload.encode()) > MAX_PAYLOAD:
            raise ValueError(f"cluster message {message.get('op')!r} is over {MAX_PAYLOAD} bytes")
        await self._db.execute("SELECT pg_notify(?, ?)", (channel, payload))

    def _listen(self) -> None:
        """The listening thread: one connection, reconnected with a back-off when it breaks."""
        import psycopg

        delay = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._db.url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f'LISTEN "{self.node.channel}"')
                    conn.execute(f'LISTEN "{BROADCAST_CHANNEL}"')
                    self._listening.set()
                    delay = 0.5
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._deliver(note.payload)
            except Exception as exc:  # noqa: BLE001 - any failure of the connection: log, wait, reconnect
                if self._stop.is_set():
                    return
                logger.warning("cluster: message connection lost; reconnecting", error=f"{type(exc).__name__}: {exc}")
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)

    def _deliver(self, payload: str) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing: nothing to deliver to
            loop.call_soon_threadsafe(self._dispatch, payload)

    def _dispatch(self, payload: str) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            logger.warning("cluster: unreadable message dropped")
            return
        if not isinstance(message, dict):
            return
        if "reply" in message:
            future = self._waiting.get(str(message["reply"]))
            if future is not None and not future.done():
                reply = message.get("body")
                future.set_result(reply if isinstance(reply, dict) else {})
            return
        op, sender = str(message.get("op", "")), str(message.get("from", ""))
        raw_body = message.get("body")
        body: Message = raw_body if isinstance(raw_body, dict) else {}
        if "req" in message:
            handler = self._handlers.get(op)
            if handler is not None:
                self._spawn(self._answer(handler, op, str(message["req"]), sender, body))
            return
        listener = self._listeners.get(op)
        if listener is not None and sender != self.node.tag:  # the sender already acted in its own process
            self._spawn(listener(body))

    async def _answer(self, handler: Handler, op: str, request_id: str, sender: str, body: Message) -> None:
        try:
            reply = await handler(body)
        except Exception:
            logger.exception("cluster: request failed", op=op)
            reply = {"error": "failed"}
        await self._notify(channel_of(sender), {"reply": request_id, "body": reply})

    def _spawn(self, work: Any) -> asyncio.Future[Any]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            logger.warning("cluster: background step failed", error=f"{type(exc).__name__}: {exc}")
