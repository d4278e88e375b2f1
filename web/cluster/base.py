"""What the app asks of the cluster, whichever implementation serves it (one process, or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from web.cluster.node import NodeIdentity

Message = dict[str, Any]
# An operation another process asked of this one: gets the request body, returns the reply body.
Handler = Callable[[Message], Awaitable[Message]]
# A broadcast every process receives (revocations, throttle failures); nothing is replied.
Listener = Callable[[Message], Awaitable[None]]


class ClusterUnavailable(RuntimeError):
    """The shared state could not be reached in time; the caller decides whether to fail open or closed."""


class Cluster(Protocol):
    node: NodeIdentity
    shared: bool  # True when other processes may exist (PostgreSQL); False for the one-process deployment

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def set_draining(self, draining: bool) -> None: ...

    async def reserve(self, call_id: str, user_id: int, transport: str, limit: int) -> bool:
        """Count `call_id` against `user_id`'s cluster-wide call limit; False when the user already has `limit`."""
        ...

    def forget(self, call_id: str) -> None:
        """The call ended: drop it from the directory (in the background; never blocks the caller)."""
        ...

    async def settle(self) -> None:
        """Wait (briefly) until the calls forgotten so far are gone from the directory."""
        ...

    async def owner_is_live(self, tag: str) -> bool: ...

    async def request(self, tag: str, op: str, body: Message, timeout: float) -> Message | None:
        """Ask process `tag` to run `op`; its reply, or None when it did not answer within `timeout`."""
        ...

    async def broadcast(self, op: str, body: Message) -> None: ...

    def on_request(self, op: str, handler: Handler) -> None: ...

    def on_broadcast(self, op: str, listener: Listener) -> None: ...

    async def directory(self) -> list[dict[str, Any]]:
        """Every live call of the cluster: call_id, node_tag, user_id, transport, age_s."""
        ...

    async def put_blob(self, data: bytes) -> int:
        """Park a payload too large for a message (a photo) where the owner can take it; its id."""
        ...

    async def take_blob(self, blob_id: int) -> bytes | None:
        """The parked payload, removed; None when it is gone (taken, or expired after a minute)."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """Cluster-wide figures for /metrics and readiness: live nodes, live calls (refreshed in the background)."""
        ...
