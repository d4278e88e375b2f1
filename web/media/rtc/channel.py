"""The `oai-events` data channel: GA Realtime JSON events both ways, plus our keepalive.

Client → server: each message must be one JSON object with a string `type`. `gateway.ping` is answered here with
`gateway.pong` (our page sends one every second; any inbound message also counts as a sign of life); everything else
goes to a bounded queue that the call forwards to the upstream, whose sanitiser decides what a client may change.
Server → client: events are queued (at most 50) until the channel opens, and dropped (and counted) if the browser
stops reading and more than 1 MiB is waiting in SCTP: a stuck browser must not grow our memory.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from typing import Any

from aiortc import RTCDataChannel

LABEL = "oai-events"
MAX_PENDING_OUT = 50
MAX_BUFFERED_BYTES = 1024 * 1024
MAX_INBOUND_QUEUE = 100
MAX_MESSAGE_BYTES = 256 * 1024
PING, PONG = "gateway.ping", "gateway.pong"

Event = dict[str, Any]


def error_event(message: str, code: str, error_type: str = "invalid_request_error") -> Event:
    return {"type": "error", "error": {"type": error_type, "code": code, "message": message, "param": None}}


class EventChannel:
    def __init__(self) -> None:
        self._dc: RTCDataChannel | None = None
        self._pending: deque[str] = deque(maxlen=MAX_PENDING_OUT)
        self.inbound: asyncio.Queue[Event] = asyncio.Queue(maxsize=MAX_INBOUND_QUEUE)
        self.last_message_at = 0.0
        self.sent = 0
        self.dropped = 0
        self.rejected = 0

    @property
    def is_open(self) -> bool:
        return self._dc is not None and self._dc.readyState == "open"

    def attach(self, dc: RTCDataChannel) -> None:
        if dc.label != LABEL or self._dc is not None:
            return  # OpenAI's protocol has exactly one channel; anything else is ignored
        self._dc = dc
        dc.on("open", self._flush_pending)
        dc.on("message", self._on_message)
        if dc.readyState == "open":
            self._flush_pending()

    def send(self, event: Event) -> None:
        text = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        if self._dc is None or self._dc.readyState == "connecting":
            if len(self._pending) == self._pending.maxlen:
                self.dropped += 1
            self._pending.append(text)
        elif len(text) > MAX_MESSAGE_BYTES // 4 and len(text.encode()) > MAX_MESSAGE_BYTES:  # SCTP would refuse it
            self.dropped += 1
        elif self._dc.readyState == "open" and self._dc.bufferedAmount < MAX_BUFFERED_BYTES:
            self._dc.send(text)
            self.sent += 1
        else:
            self.dropped += 1

    def _flush_pending(self) -> None:
        while self._pending and self.is_open:
            assert self._dc is not None
            self._dc.send(self._pending.popleft())
            self.sent += 1

    def _on_message(self, data: str | bytes) -> None:
        self.last_message_at = time.monotonic()
        if isinstance(data, bytes):
            self._reject("binary messages are not supported; send JSON text", "invalid_event")
            return
        if len(data) > MAX_MESSAGE_BYTES:
            self._reject(f"events larger than {MAX_MESSAGE_BYTES // 1024} KiB are not accepted; shrink photos to "
                         "640 px or send them with POST /v1/realtime/calls/{call_id}/images", "event_too_large")
            return
        try:
            event = json.loads(data)
        except (ValueError, RecursionError):
            self._reject("the message is not valid JSON", "invalid_json")
            return
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            self._reject("an event must be a JSON object with a string 'type'", "invalid_event")
            return
        if event["type"] == PING:
            self.send({"type": PONG, "id": event.get("id")})
            return
        try:
            self.inbound.put_nowait(event)
        except asyncio.QueueFull:
            self._reject("too many events in flight; slow down", "rate_limited")

    def _reject(self, message: str, code: str) -> None:
        self.rejected += 1
        self.send(error_event(message, code))

    async def drain(self, timeout: float) -> None:
        """Wait (bounded) until what we sent has left SCTP, e.g. a final error event before hanging up."""
        deadline = time.monotonic() + timeout
        while self.is_open and self._dc is not None and self._dc.bufferedAmount > 0:
            if time.monotonic() > deadline:
                return
            await asyncio.sleep(0.02)

    def close(self) -> None:
        if self._dc is not None and self._dc.readyState in ("connecting", "open"):
            self._dc.close()
