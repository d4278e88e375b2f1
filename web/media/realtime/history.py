"""A bounded text transcript of the conversation, replayed into a fresh upstream socket after a reconnect/recycle.

A new socket is a new service session with an empty conversation. Replaying what was said as text items keeps the
model's memory of the call (audio itself is not replayed: too large, and the service does not need it).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from .events import Event, new_id

MAX_TURNS = 24
MAX_CHARS = 8_000


class TranscriptHistory:
    def __init__(self) -> None:
        self._turns: deque[tuple[str, str]] = deque()  # (role, text)
        self._chars = 0

    def __len__(self) -> int:
        return len(self._turns)

    def _add(self, role: str, text: Any) -> None:
        if not isinstance(text, str) or not text.strip():
            return
        text = text.strip()[:MAX_CHARS]
        self._turns.append((role, text))
        self._chars += len(text)
        while len(self._turns) > MAX_TURNS or self._chars > MAX_CHARS:
            _, dropped = self._turns.popleft()
            self._chars -= len(dropped)

    def observe(self, event: Event) -> None:
        """Learn from one server event (GA shape)."""
        kind = event.get("type")
        if kind == "conversation.item.input_audio_transcription.completed":
            self._add("user", event.get("transcript"))
        elif kind in ("conversation.item.created", "conversation.item.done"):  # beta, GA
            item = event.get("item") or {}
            if item.get("role") == "user":
                for part in item.get("content") or []:
                    if isinstance(part, dict) and part.get("type") == "input_text":
                        self._add("user", part.get("text"))
        elif kind == "response.done":
            response = event.get("response") or {}
            if response.get("status") != "completed":
                return
            for item in response.get("output") or []:
                if not isinstance(item, dict) or item.get("role") != "assistant":
                    continue
                for part in item.get("content") or []:
                    if isinstance(part, dict):
                        self._add("assistant", part.get("transcript") or part.get("text"))

    def replay_events(self) -> list[Event]:
        """`conversation.item.create` events (GA) re-creating the transcript, oldest first, with our own item ids."""
        events: list[Event] = []
        for role, text in self._turns:
            part_type = "input_text" if role == "user" else "output_text"
            events.append({
                "type": "conversation.item.create",
                "event_id": new_id("event"),
                "item": {"id": new_id("item")[:32], "type": "message", "role": role,
                         "content": [{"type": part_type, "text": text}]},
            })
        return events
