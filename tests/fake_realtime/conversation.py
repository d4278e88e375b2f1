"""One accepted Realtime WebSocket connection of the fake: session state, server VAD, responses and faults."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import time
from typing import Any

import numpy as np
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from .options import FakeOptions
from .reply import FakeReply
from .shapes import Event, apply_update, default_config, eid, error, render_session, to_protocol

CLIENT_TYPES = {"session.update", "input_audio_buffer.append", "input_audio_buffer.commit", "input_audio_buffer.clear",
                "conversation.item.create", "conversation.item.delete", "conversation.item.retrieve",
                "conversation.item.truncate", "response.create", "response.cancel", "output_audio_buffer.clear"}


class FakeConversation:
    def __init__(self, ws: ServerConnection, *, protocol: str, model: str, options: FakeOptions, faulty: bool,
                 received: list[Event]) -> None:
        self.ws = ws
        self.protocol = protocol
        self.options = options
        self.faulty = faulty
        self.received = received
        self.config = default_config(model)
        self.stalled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._reply: FakeReply | None = None
        self._reply_task: asyncio.Task[None] | None = None
        self._buffer_ms = 0  # uncommitted input audio
        self._pos_ms = 0
        self._carry = b""
        self._speaking_item: str | None = None
        self._silence_ms = 0
        self._last_voiced_ms = 0
        self._last_item: str | None = None
        self._audio_items: dict[str, int] = {}  # assistant item id -> audio ms streamed
        self._items: dict[str, Event] = {}  # the conversation's finished items, for conversation.item.retrieve

    async def send(self, event: Event) -> None:
        if self.stalled:
            return
        if event["type"] == "conversation.item.done" and isinstance(event.get("item"), dict):
            self._items[str(event["item"].get("id"))] = event["item"]
        if self.protocol == "beta" and event["type"] in ("conversation.item.added", "conversation.item.done"):
            # beta announces an item once, as conversation.item.created: a response's item when it starts (in
            # progress), any other item when it is complete
            replying = (event.get("item") or {}).get("role") == "assistant"
            if replying != (event["type"] == "conversation.item.added"):
                return
            event = {**event, "type": "conversation.item.added"}  # spelt conversation.item.created by to_protocol
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(json.dumps(to_protocol(event, self.protocol)))

    async def emit(self, kind: str, **fields: Any) -> None:
        await self.send({"type": kind, "event_id": eid(), **fields})

    def _later(self, delay: float, action: Any) -> None:
        async def run() -> None:
            await asyncio.sleep(delay)
            await action()
        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _stall(self) -> None:
        self.stalled = True

    async def _abort(self) -> None:
        await self.ws.close(1011, "internal server error")

    async def _expire(self) -> None:
        seconds = self.options.session_expiry_s
        await self.send(error(f"Your session hit the maximum duration of {seconds:g} seconds.",
                              code="session_expired"))
        await self.ws.close(1000, "session expired")

    async def run(self) -> None:
        options = self.options
        expiry = options.session_expiry_s if options.session_expiry_s and self.faulty else 30 * 60
        session = render_session(self.config, self.protocol, int(time.time() + expiry))
        await self.emit("session.created", session=session)
        if self.faulty:
            if options.stall_after_s is not None:
                self._later(options.stall_after_s, self._stall)
            if options.close_after_s is not None:
                self._later(options.close_after_s, self._abort)
            if options.session_expiry_s is not None:
                self._later(options.session_expiry_s, self._expire)
        try:
            async for raw in self.ws:
                await self._handle(raw)
        except ConnectionClosed:
            pass
        finally:
            tasks = [*self._tasks, *([self._reply_task] if self._reply_task else [])]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _handle(self, raw: str | bytes) -> None:
        try:
            event = json.loads(raw)
        except ValueError:
            await self.send(error("Invalid JSON in client event.", code="invalid_json"))
            return
        if not isinstance(event, dict):
            await self.send(error("Client events must be JSON objects.", code="invalid_event"))
            return
        self.received.append(event)
        kind, event_id = event.get("type"), event.get("event_id")
        if kind not in CLIENT_TYPES:
            await self.send(error(f"Invalid value: '{kind}'. Supported values are: {sorted(CLIENT_TYPES)}.",
                                  code="invalid_value", param="type", event_id=event_id))
            return
        handler = getattr(self, "_on_" + str(kind).replace(".", "_"), None)
        if handler is None:
            await self.send(error(f"'{kind}' is not supported by the fake.", code="invalid_value", event_id=event_id))
            return
        await handler(event)

    async def _on_session_update(self, event: Event) -> None:
        problem = apply_update(self.config, event.get("session"), self.protocol, event.get("event_id"))
        if problem is not None:
            await self.send(problem)
            return
        await self.emit("session.updated", session=render_session(self.config, self.protocol, int(time.time() + 1800)))

    async def _on_input_audio_buffer_append(self, event: Event) -> None:
        try:
            pcm = base64.b64decode(str(event.get("audio", "")), validate=True)
        except (binascii.Error, ValueError):
            await self.send(error("Invalid base64 audio.", code="invalid_value", param="audio",
                                  event_id=event.get("event_id")))
            return
        self._buffer_ms += len(pcm) // 48
        data = self._carry + pcm
        whole = len(data) - len(data) % 960  # 20 ms frames
        self._carry = data[whole:]
        frames = np.frombuffer(data[:whole], dtype="<i2").astype(np.float32).reshape(-1, 480) / 32768.0
        levels = 20 * np.log10(np.maximum(np.sqrt(np.mean(frames * frames, axis=1)), 1e-5)) if len(frames) else []
        turn = self.config["turn_detection"]
        for level in list(levels):
            self._pos_ms += 20
            if not isinstance(turn, dict):
                continue
            voiced = level >= self.options.vad_threshold_dbfs
            if self._speaking_item is None and voiced:
                self._speaking_item, self._silence_ms = eid("item"), 0
                start = max(0, self._pos_ms - 20 - int(turn.get("prefix_padding_ms", 300)))
                await self.emit("input_audio_buffer.speech_started", audio_start_ms=start, item_id=self._speaking_item)
                if self._reply is not None and turn.get("interrupt_response", True):
                    await self._cancel_reply("turn_detected")
            elif self._speaking_item is not None:
                self._silence_ms = 0 if voiced else self._silence_ms + 20
                self._last_voiced_ms = self._pos_ms if voiced else self._last_voiced_ms
                if self._silence_ms >= int(turn.get("silence_duration_ms", 500)):
                    item_id, self._speaking_item = self._speaking_item, None
                    await self.emit("input_audio_buffer.speech_stopped", audio_end_ms=self._last_voiced_ms,
                                    item_id=item_id)
                    await self._commit(item_id)
                    if turn.get("create_response", True):
                        await self._start_reply(None)

    async def _commit(self, item_id: str) -> None:
        previous, self._last_item = self._last_item, item_id
        self._buffer_ms = 0
        await self.emit("input_audio_buffer.committed", item_id=item_id, previous_item_id=previous)
        item = {"id": item_id, "object": "realtime.item", "type": "message", "role": "user", "status": "completed",
                "content": [{"type": "input_audio", "transcript": None}]}
        await self.emit("conversation.item.added", previous_item_id=previous, item={**item, "status": "in_progress"})
        await self.emit("conversation.item.done", previous_item_id=previous, item=item)
        if self.config["transcription"]:
            await self.emit("conversation.item.input_audio_transcription.completed", item_id=item_id,
                            content_index=0, transcript="fake user transcript",
                            usage={"type": "duration", "seconds": 1.0})

    async def _on_input_audio_buffer_commit(self, event: Event) -> None:
        if self._buffer_ms < 100:
            await self.send(error(
                "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer "
                f"only has {self._buffer_ms:.2f}ms of audio.", code="input_audio_buffer_commit_empty",
                event_id=event.get("event_id")))
            return
        item_id, self._speaking_item = self._speaking_item or eid("item"), None
        await self._commit(item_id)

    async def _on_input_audio_buffer_clear(self, event: Event) -> None:
        self._buffer_ms, self._speaking_item = 0, None
        await self.emit("input_audio_buffer.cleared")

    async def _start_reply(self, event_id: Any) -> None:
        if self._reply is not None:
            await self.send(error("Conversation already has an active response in progress.",
                                  code="conversation_already_has_active_response", event_id=event_id))
            return
        reply = FakeReply(self.send, self.options, on_first_audio=self._first_audio)
        self._reply = reply
        self._reply_task = asyncio.create_task(self._run_reply(reply))

    async def _first_audio(self) -> None:
        if self.faulty and self.options.close_on_audio:
            await self._abort()

    async def _run_reply(self, reply: FakeReply) -> None:
        try:
            await reply.run()
        finally:
            self._audio_items[reply.item_id] = reply.sent_ms
            if self._reply is reply:
                self._reply, self._reply_task = None, None

    async def _cancel_reply(self, reason: str) -> None:
        reply, task = self._reply, self._reply_task
        self._reply, self._reply_task = None, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if reply is not None:
            await self.send(reply.cancelled(reason))

    async def _on_response_create(self, event: Event) -> None:
        response = event.get("response") or {}
        if self.protocol == "beta" and ("output_modalities" in response or "audio" in response):
            await self.send(error("Unknown parameter: 'response.output_modalities'.", code="unknown_parameter",
                                  param="response.output_modalities", event_id=event.get("event_id")))
            return
        await self._start_reply(event.get("event_id"))

    async def _on_response_cancel(self, event: Event) -> None:
        if self._reply is None:
            await self.send(error("Cancellation failed: no active response found.", code="response_cancel_not_active",
                                  event_id=event.get("event_id")))
            return
        await self._cancel_reply("client_cancelled")

    async def _on_conversation_item_create(self, event: Event) -> None:
        item = {**(event.get("item") or {}), "object": "realtime.item", "status": "completed"}
        item.setdefault("id", eid("item"))
        previous, self._last_item = self._last_item, item["id"]
        await self.emit("conversation.item.added", previous_item_id=previous, item={**item, "status": "in_progress"})
        await self.emit("conversation.item.done", previous_item_id=previous, item=item)

    async def _on_conversation_item_truncate(self, event: Event) -> None:
        item_id, end_ms = event.get("item_id"), int(event.get("audio_end_ms") or 0)
        have = self._audio_items.get(str(item_id))
        if have is None:
            await self.send(error(f"Item {item_id} not found.", code="item_not_found", event_id=event.get("event_id")))
        elif end_ms > have:
            await self.send(error(f"Audio content of {have}ms is already shorter than {end_ms}ms",
                                  code="invalid_value", param="audio_end_ms", event_id=event.get("event_id")))
        else:
            await self.emit("conversation.item.truncated", item_id=item_id, content_index=0, audio_end_ms=end_ms)

    async def _on_conversation_item_retrieve(self, event: Event) -> None:
        item_id = event.get("item_id")
        item = self._items.get(str(item_id))
        if item is None:
            await self.send(error(f"Item {item_id} not found.", code="item_not_found", event_id=event.get("event_id")))
        else:
            await self.emit("conversation.item.retrieved", item=item)

    async def _on_conversation_item_delete(self, event: Event) -> None:
        self._items.pop(str(event.get("item_id")), None)
        await self.emit("conversation.item.deleted", item_id=event.get("item_id"))
