"""Run an operation on a call wherever it lives: here, or on the process its id names.

Every request about a call (hang-up of its `Location`, the diagnostics server view) may reach any process behind a
load balancer or a shared port. The router looks for the call in this process's registry first; otherwise it asks the
owner named by the id over the cluster and returns the owner's answer. An owner that does not answer and holds no
lease any more is dead, and so is the call: the caller answers 404 as for any ended call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from loguru import logger

from web.cluster.base import Cluster, Message
from web.cluster.node import owner_tag
from web.media.calls import CallRegistry, LiveCall

REQUEST_TIMEOUT_S = 2.0
# What an operation does to a call of this process, for the user who asked; its reply (JSON) goes back to the
# asking process. `None` means "no such call for this user" (404).
CallOperation = Callable[[LiveCall, Message], Awaitable[Message | None]]


class OwnerUnreachable(Exception):
    """The owner holds a lease but did not answer in time: the caller should answer 503 and the client retry."""


class CallRouter:
    def __init__(self, registry: CallRegistry, cluster: Cluster) -> None:
        self.registry = registry
        self.cluster = cluster
        self._ops: dict[str, CallOperation] = {}
        self.forwarded = 0  # requests this process passed to another (metrics)

    def register(self, op: str, operation: CallOperation) -> None:
        self._ops[op] = operation

        async def serve_remote(body: Message) -> Message:
            result = await self._run_here(op, str(body.get("call_id", "")), _int(body.get("user_id")), body)
            return {"found": False} if result is None else {"found": True, "result": result}

        self.cluster.on_request(f"call.{op}", serve_remote)

    async def _run_here(self, op: str, call_id: str, user_id: int | None, body: Message) -> Message | None:
        call = self.registry.get(call_id)
        if call is None or (user_id is not None and call.user_id != user_id):
            return None
        return await self._ops[op](call, body)

    async def run(self, op: str, call_id: str, user_id: int | None, body: Message | None = None) -> Message | None:
        """The operation's result, from whichever process owns the call; None when there is no such live call of
        `user_id` (None: of any user, for administrators)."""
        body = dict(body or {})
        if self.registry.get(call_id) is not None:
            return await self._run_here(op, call_id, user_id, body)
        tag = owner_tag(call_id)
        if tag is None or tag == self.cluster.node.tag or not self.cluster.shared:
            return None
        self.forwarded += 1
        reply = await self.cluster.request(tag, f"call.{op}", {**body, "call_id": call_id, "user_id": user_id},
                                           REQUEST_TIMEOUT_S)
        if reply is None:
            if await self.cluster.owner_is_live(tag):
                logger.warning("call owner did not answer", op=op, owner=tag)
                raise OwnerUnreachable(tag)
            return None  # the owner is gone, and its calls with it
        if not reply.get("found"):
            return None
        result = reply.get("result")
        return result if isinstance(result, dict) else {}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
