"""Upstream events → the browser: reply audio to the playout track, everything else to the data channel.

Audio deltas never go over the data channel (the browser hears them through the WebRTC track, which its echo
canceller can see; the glasses play through speakers). The other events are forwarded as they are, and we add the
`output_audio_buffer.started/stopped/cleared` events OpenAI's own WebRTC endpoint sends.

Barge-in: when the upstream reports `input_audio_buffer.speech_started` while reply audio is queued or still arriving,
we drop the queued audio at once and send `conversation.item.truncate` at min(audio played, audio received) for the
item that was playing, so the model's transcript matches what the user heard and the service never gets an end
beyond the audio it produced (the "already shorter than" error, pipecat#2106).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from loguru import logger

from web.media.calls.upstream import RealtimeSessionLike
from web.media.rtc.channel import EventChannel
from web.media.rtc.playout import PlayoutTrack

Event = dict[str, Any]
AUDIO_DELTA = "response.output_audio.delta"
MAX_TRACKED_ITEMS = 64


class Downlink:
    def __init__(self, session: RealtimeSessionLike, playout: PlayoutTrack, channel: EventChannel) -> None:
        self._session = session
        self._playout = playout
        self._channel = channel
        self._response_of: dict[str, str] = {}  # item id → response id, for the output_audio_buffer events
        self.barge_ins = 0
        self.bad_deltas = 0

    async def run(self) -> None:
        """Until the upstream's event stream ends (it closed); exceptions propagate to the call."""
        async for event in self._session.events():
            await self.handle(event)

    async def handle(self, event: Event) -> None:
        kind = event.get("type")
        if kind == AUDIO_DELTA:
            self._on_audio(event)
            return
        if kind == "response.output_audio.done":
            self._playout.mark_done(str(event.get("item_id", "")))
        elif kind == "response.done":
            for item in (event.get("response") or {}).get("output") or []:
                if isinstance(item, dict) and item.get("id"):
                    self._playout.mark_done(str(item["id"]))
        elif kind == "input_audio_buffer.speech_started" and self._playout.busy:
            await self._barge_in()
        self._channel.send(event)

    def _on_audio(self, event: Event) -> None:
        item_id = str(event.get("item_id", ""))
        try:
            pcm = base64.b64decode(str(event.get("delta", "")), validate=True)
        except (binascii.Error, ValueError):
            self.bad_deltas += 1
            return
        if len(pcm) % 2:
            pcm = pcm[:-1]
        if item_id not in self._response_of:
            if len(self._response_of) >= MAX_TRACKED_ITEMS:
                self._response_of.pop(next(iter(self._response_of)))
            self._response_of[item_id] = str(event.get("response_id", ""))
        self._playout.feed(item_id, int(event.get("content_index", 0) or 0), pcm)

    async def _barge_in(self) -> None:
        self.barge_ins += 1
        cut = self._playout.clear()
        if cut is None:
            return
        self._channel.send(self.buffer_event("output_audio_buffer.cleared", cut.item_id))
        try:
            await self._session.truncate(cut.item_id, cut.content_index, cut.audio_end_ms)
        except Exception as exc:  # noqa: BLE001 - a failed truncate must not end the call; the upstream reports it
            logger.warning("truncate failed", item_id=cut.item_id, error=str(exc))

    def buffer_event(self, kind: str, item_id: str) -> Event:
        return {"type": kind, "response_id": self._response_of.get(item_id, ""), "item_id": item_id}
