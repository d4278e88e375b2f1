"""This process's identity in the cluster, and the call ids that name their owner."""

from __future__ import annotations

import os
import re
import secrets
import socket
from dataclasses import dataclass

TAG_HEX = 10
_CALL_ID = re.compile(rf"^(rtc|ws)_([0-9a-f]{{{TAG_HEX}}})_([0-9a-f]{{24}})$")
BROADCAST_CHANNEL = "gw_all"


@dataclass(frozen=True)
class NodeIdentity:
    tag: str  # random, unique per process start: two processes never share it, a restart gets a new one
    host: str
    pid: int

    @classmethod
    def new(cls) -> NodeIdentity:
        return cls(tag=secrets.token_hex(TAG_HEX // 2), host=socket.gethostname()[:64], pid=os.getpid())

    @property
    def channel(self) -> str:
        """The LISTEN/NOTIFY channel that reaches this process only."""
        return channel_of(self.tag)

    def __str__(self) -> str:
        return f"{self.host}/{self.pid}/{self.tag}"


def channel_of(tag: str) -> str:
    return f"gw_node_{tag}"


def owner_tag(call_id: str) -> str | None:
    """The tag of the process that owns `call_id`, or None when the id is not one of ours."""
    match = _CALL_ID.match(call_id)
    return match.group(2) if match else None
