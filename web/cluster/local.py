"""The one-process cluster: the default with SQLite, where no other process can share the state."""

from __future__ import annotations

from typing import Any

from web.cluster.base import Handler, Listener, Message
from web.cluster.node import NodeIdentity


class SingleProcess:
    shared = False

    def __init__(self, node: NodeIdentity) -> None:
        self.node = node
        self._handlers: dict[str, Handler] = {}
        self._listeners: dict[str, Listener] = {}
        self._calls: set[str] = set()
        self._blobs: list[bytes] = []  # never used with one process (no call lives elsewhere); kept for the interface

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def set_draining(self, draining: bool) -> None:
        return None

    async def reserve(self, call_id: str, user_id: int, transport: str, limit: int) -> bool:
        self._calls.add(call_id)  # the registry's own per-user count is the whole truth here
        return True

    def forget(self, call_id: str) -> None:
        self._calls.discard(call_id)

    async def settle(self) -> None:
        return None

    async def owner_is_live(self, tag: str) -> bool:
        return tag == self.node.tag

    async def request(self, tag: str, op: str, body: Message, timeout: float) -> Message | None:
        return None  # there is no other process to ask

    async def broadcast(self, op: str, body: Message) -> None:
        return None  # the caller has already acted in this process

    def on_request(self, op: str, handler: Handler) -> None:
        self._handlers[op] = handler

    def on_broadcast(self, op: str, listener: Listener) -> None:
        self._listeners[op] = listener

    async def directory(self) -> list[dict[str, Any]]:
        return []  # the registry itself lists this process's calls

    async def put_blob(self, data: bytes) -> int:
        self._blobs.append(data)
        return len(self._blobs) - 1

    async def take_blob(self, blob_id: int) -> bytes | None:
        return self._blobs[blob_id] if 0 <= blob_id < len(self._blobs) else None

    def snapshot(self) -> dict[str, Any]:
        return {"shared": False, "node": self.node.tag, "nodes_live": 1, "calls_live": len(self._calls)}
