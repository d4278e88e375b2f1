"""The `echo` upstream: an in-process Realtime service that plays the user's own utterance back.

It is the loopback test of the whole audio path (and what diagnostics use), so it speaks the same GA events as the
real service: energy server VAD (or manual commit when `turn_detection` is null), the response lifecycle, barge-in
(`interrupt_response`) and `response.cancel`. No network, no credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections import OrderedDict
from typing import Any

from .echo_image import chime, image_note
from .echo_reply import EchoReply
from .errors import UpstreamError
from .events import BYTES_PER_MS, PCM_FORMAT, Event, decode_audio, default_turn_detection, error_event, new_id
from .vad import EnergyVad

MAX_UTTERANCE_MS = 30_000  # also bounds memory: a longer "utterance" is cut and answered
MIN_COMMIT_MS = 100
MAX_ITEMS = 100
_CLOSED: Event = {"type": "_closed"}


class EchoUpstream:
    def __init__(self, *, speed: float = 2.0, queue_size: int = 512) -> None:
        self._speed = speed
        self._out: asyncio.Queue[Event] = asyncio.Queue(maxsize=queue_size)
        self._closed = False
        self._session: dict[str, Any] = {
            "type": "realtime", "object": "realtime.session", "id": new_id("sess"), "model": "echo",
            "output_modalities": ["audio"], "instructions": "",
            "audio": {"input": {"format": dict(PCM_FORMAT), "transcription": None,
                                "turn_detection": default_turn_detection()},
                      "output": {"format": dict(PCM_FORMAT), "voice": "alloy", "speed": 1.0}},
        }
        self._vad = EnergyVad()
        self._buf = bytearray()  # uncommitted input audio; _buf[0] is at _buf_start_ms on the audio clock
        self._buf_start_ms = 0
        self._speech_item: str | None = None
        self._speech_start_ms = 0
        self._last_utterance = b""
        self._last_item_id: str | None = None
        self._items: OrderedDict[str, tuple[dict[str, Any], int]] = OrderedDict()  # id -> (item, audio ms)
        self._reply: EchoReply | None = None
        self._reply_task: asyncio.Task[None] | None = None
        self._image_note: str | None = None  # the last item was an image: the next reply describes it

    def __repr__(self) -> str:
        return "EchoUpstream()"

    @property
    def _turn(self) -> dict[str, Any] | None:
        turn = self._session["audio"]["input"].get("turn_detection")
        return turn if isinstance(turn, dict) else None

    async def _emit(self, event: Event) -> None:
        if not self._closed:
            await self._out.put(event)

    async def _send(self, kind: str, **fields: Any) -> None:
        await self._emit({"type": kind, "event_id": new_id("event"), **fields})

    async def connect(self) -> Event:
        return {"type": "session.created", "event_id": new_id("event"), "session": copy.deepcopy(self._session)}

    async def recv(self) -> Event:
        if self._closed and self._out.empty():
            raise UpstreamError("closed", "echo upstream closed")
        event = await self._out.get()
        if event is _CLOSED:
            raise UpstreamError("closed", "echo upstream closed")
        return event

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(asyncio.QueueFull):
                self._out.put_nowait(_CLOSED)  # wakes a pending recv()
        if self._reply_task is not None:
            self._reply_task.cancel()
            await asyncio.gather(self._reply_task, return_exceptions=True)
            self._reply_task = None

    async def send(self, event: Event) -> None:
        if self._closed:
            raise UpstreamError("closed", "echo upstream closed")
        kind = event.get("type")
        handler = getattr(self, "_on_" + str(kind).replace(".", "_"), None)
        if handler is None:
            await self._emit(error_event(f"Event type '{kind}' is not supported in echo mode.", code="invalid_value",
                                         param="type", client_event_id=event.get("event_id")))
            return
        await handler(event)

    # --- session ---------------------------------------------------------------------------------------------------
    async def _on_session_update(self, event: Event) -> None:
        update = event.get("session") or {}
        for key in ("instructions", "output_modalities", "tools", "tool_choice", "max_output_tokens"):
            if key in update:
                self._session[key] = update[key]
        for side in ("input", "output"):
            self._session["audio"][side].update((update.get("audio") or {}).get(side) or {})
        turn = self._turn
        if turn is not None:
            defaults = default_turn_detection()
            self._vad.configure(turn.get("threshold", defaults["threshold"]),
                                turn.get("prefix_padding_ms", defaults["prefix_padding_ms"]),
                                turn.get("silence_duration_ms", defaults["silence_duration_ms"]))
        await self._send("session.updated", session=copy.deepcopy(self._session))

    # --- input audio -----------------------------------------------------------------------------------------------
    async def _on_input_audio_buffer_append(self, event: Event) -> None:
        try:
            pcm = decode_audio(str(event.get("audio", "")))
        except ValueError as exc:
            await self._emit(error_event(str(exc), code="invalid_value", param="audio",
                                         client_event_id=event.get("event_id")))
            return
        self._buf += pcm
        turn = self._turn
        if turn is None:
            self._trim_to(self._buf_end_ms() - MAX_UTTERANCE_MS)
            return
        for vad_event in self._vad.process(pcm):
            if vad_event.kind == "started":
                await self._speech_started(vad_event.ms, turn)
            else:
                await self._speech_stopped(vad_event.ms, turn)
        if self._speech_item is None:
            keep_ms = int(turn.get("prefix_padding_ms", 300)) + 200
            self._trim_to(self._buf_end_ms() - keep_ms)
        elif self._buf_end_ms() - self._speech_start_ms >= MAX_UTTERANCE_MS:
            self._vad.reset()
            await self._speech_stopped(self._buf_end_ms(), turn)

    def _buf_end_ms(self) -> int:
        return self._buf_start_ms + len(self._buf) // BYTES_PER_MS

    def _trim_to(self, ms: int) -> None:
        if ms > self._buf_start_ms:
            del self._buf[: (ms - self._buf_start_ms) * BYTES_PER_MS]
            self._buf_start_ms = ms

    async def _speech_started(self, start_ms: int, turn: dict[str, Any]) -> None:
        self._trim_to(start_ms)
        self._speech_item = new_id("item")
        self._speech_start_ms = max(start_ms, self._buf_start_ms)
        await self._send("input_audio_buffer.speech_started", audio_start_ms=start_ms, item_id=self._speech_item)
        if self._reply is not None and turn.get("interrupt_response", True):
            await self._cancel_reply("turn_detected")  # like the service: speech_started, then the cancelled done

    async def _speech_stopped(self, end_ms: int, turn: dict[str, Any]) -> None:
        item_id = self._speech_item or new_id("item")
        self._speech_item = None
        await self._send("input_audio_buffer.speech_stopped", audio_end_ms=end_ms, item_id=item_id)
        cut = (min(end_ms, self._buf_end_ms()) - self._buf_start_ms) * BYTES_PER_MS
        utterance = bytes(self._buf[:cut])
        self._trim_to(end_ms)
        await self._commit(utterance, item_id)
        if turn.get("create_response", True):
            await self._start_reply(None)

    async def _commit(self, pcm: bytes, item_id: str) -> None:
        previous, self._last_item_id = self._last_item_id, item_id
        self._last_utterance = pcm
        self._image_note = None
        await self._send("input_audio_buffer.committed", item_id=item_id, previous_item_id=previous)
        item = {"id": item_id, "object": "realtime.item", "type": "message", "role": "user", "status": "completed",
                "content": [{"type": "input_audio", "transcript": None}]}
        self._remember(item)
        await self._item_added_done(previous, item)

    async def _on_input_audio_buffer_commit(self, event: Event) -> None:
        have_ms = len(self._buf) // BYTES_PER_MS
        if have_ms < MIN_COMMIT_MS:
            message = (f"Error committing input audio buffer: buffer too small. Expected at least {MIN_COMMIT_MS}ms "
                       f"of audio, but buffer only has {have_ms:.2f}ms of audio.")
            await self._emit(error_event(message, code="input_audio_buffer_commit_empty",
                                         client_event_id=event.get("event_id")))
            return
        pcm = bytes(self._buf)
        self._trim_to(self._buf_end_ms())
        self._vad.reset()
        item_id, self._speech_item = self._speech_item or new_id("item"), None
        await self._commit(pcm, item_id)

    async def _on_input_audio_buffer_clear(self, event: Event) -> None:
        self._trim_to(self._buf_end_ms())
        self._vad.reset()
        self._speech_item = None
        await self._send("input_audio_buffer.cleared")

    # --- responses -------------------------------------------------------------------------------------------------
    async def _start_reply(self, client_event_id: str | None) -> None:
        if self._reply is not None:
            await self._emit(error_event(
                "Conversation already has an active response in progress. Wait until the response is finished "
                "before creating a new one.", code="conversation_already_has_active_response",
                client_event_id=client_event_id))
            return
        note, self._image_note = self._image_note, None
        pcm = chime() if note else self._last_utterance
        reply = EchoReply(self._emit, pcm, speed=self._speed, transcript=note)
        self._reply = reply
        self._reply_task = asyncio.create_task(self._run_reply(reply), name="echo-reply")

    async def _run_reply(self, reply: EchoReply) -> None:
        try:
            await reply.run()
            self._remember(reply.item("completed"), reply.sent_ms)
        finally:
            if self._reply is reply:
                self._reply, self._reply_task = None, None

    async def _cancel_reply(self, reason: str) -> None:
        reply, task = self._reply, self._reply_task
        self._reply, self._reply_task = None, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if reply is not None:
            self._remember(reply.item("incomplete"), reply.sent_ms)
            await self._emit(reply.cancelled_done(reason))

    async def _on_response_create(self, event: Event) -> None:
        await self._start_reply(event.get("event_id"))

    async def _on_response_cancel(self, event: Event) -> None:
        if self._reply is None:
            await self._emit(error_event("Cancellation failed: no active response found.",
                                         code="response_cancel_not_active", client_event_id=event.get("event_id")))
            return
        await self._cancel_reply("client_cancelled")

    # --- conversation items ----------------------------------------------------------------------------------------
    async def _item_added_done(self, previous: str | None, item: dict[str, Any]) -> None:
        """GA announces a new item twice: added (in progress), then done (final)."""
        await self._send("conversation.item.added", previous_item_id=previous, item={**item, "status": "in_progress"})
        await self._send("conversation.item.done", previous_item_id=previous, item=item)

    def _remember(self, item: dict[str, Any], audio_ms: int = 0) -> None:
        self._items[item["id"]] = (item, audio_ms)
        while len(self._items) > MAX_ITEMS:
            self._items.popitem(last=False)

    async def _on_conversation_item_create(self, event: Event) -> None:
        item = dict(event.get("item") or {})
        item.setdefault("id", new_id("item"))
        item.update(object="realtime.item", status="completed")
        previous, self._last_item_id = self._last_item_id, item["id"]
        self._image_note = image_note(item)
        self._remember(item)
        await self._item_added_done(previous, item)

    async def _on_conversation_item_delete(self, event: Event) -> None:
        if self._items.pop(str(event.get("item_id")), None) is None:
            await self._item_missing(event)
            return
        await self._send("conversation.item.deleted", item_id=event.get("item_id"))

    async def _on_conversation_item_retrieve(self, event: Event) -> None:
        entry = self._items.get(str(event.get("item_id")))
        if entry is None:
            await self._item_missing(event)
            return
        await self._send("conversation.item.retrieved", item=entry[0])

    async def _on_conversation_item_truncate(self, event: Event) -> None:
        entry = self._items.get(str(event.get("item_id")))
        if entry is None:
            await self._item_missing(event)
            return
        item, audio_ms = entry
        end_ms = int(event.get("audio_end_ms") or 0)
        if end_ms > audio_ms:
            await self._emit(error_event(
                f"Audio content of {audio_ms}ms is already shorter than {end_ms}ms",
                code="invalid_value", param="audio_end_ms", client_event_id=event.get("event_id")))
            return
        await self._send("conversation.item.truncated", item_id=item["id"],
                         content_index=int(event.get("content_index") or 0), audio_end_ms=end_ms)

    async def _item_missing(self, event: Event) -> None:
        await self._emit(error_event(f"Item with item_id '{event.get('item_id')}' not found.", code="item_not_found",
                                     param="item_id", client_event_id=event.get("event_id")))
