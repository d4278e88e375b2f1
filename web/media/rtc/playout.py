"""The downlink: model audio (PCM16 24 kHz mono deltas) → paced 20 ms Opus packets on our outbound WebRTC track.

- Pacing: `recv()` sleeps until `start + n × 20 ms` before returning frame n (aiortc sends as fast as `recv()` returns;
  shared/reference/aiortc.md §9), with `start` on a 20 ms grid shared by every call. A loop stall longer than 200 ms
  re-bases the clock (onto the grid again) instead of bursting to catch up.
- Encoding: we hand aiortc ready-made Opus packets (an `av.Packet` per frame) so its sender does not run its own
  resampler and encoder in a thread pool. Ours is libopus coding the model's 24 kHz mono directly (no resampling;
  the RTP clock stays 48 kHz). Between replies we repeat one cached encoded-silence packet, which costs no encoding
  at all.
- Accounting for barge-in: every byte queued is tagged with its item, so `clear()` can say how much of the playing
  item actually went out (`played`) and was received (`received`); the call truncates at the smaller of the two.
- Bounds: at most `max_buffer_ms` of audio waits here (default 60 s, ~2.9 MB); more is dropped and counted.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from web.media.audio.opus import FRAME_SAMPLES, OPUS_RATE, OpusMonoEncoder

PTIME = 0.020
IN_RATE = 24_000
IN_FRAME_BYTES = IN_RATE * 2 * 20 // 1000  # 960: 20 ms of 24 kHz mono s16
BYTES_PER_MS = IN_RATE * 2 // 1000
MAX_ITEMS = 16


def _on_grid(now: float) -> float:
    """The next instant on the process-wide 20 ms grid of the monotonic clock. Every call's frames are due on the same
    instants, so the event loop wakes once per 20 ms for all of them instead of once per call (each wake-up costs CPU,
    a lot of it in virtual machines; measured in docs/benchmarks-workers.md)."""
    return math.ceil(now / PTIME) * PTIME


@dataclass
class ItemProgress:
    content_index: int
    received: int = 0  # bytes of 24 kHz PCM received from the upstream
    played: int = 0  # bytes handed to the sender
    done: bool = False


@dataclass
class Segment:
    item_id: str
    left: int  # bytes of this item still in the buffer


@dataclass(frozen=True)
class Truncation:
    item_id: str
    content_index: int
    audio_end_ms: int


class PlayoutTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(
        self,
        *,
        max_buffer_ms: int = 60_000,
        on_started: Callable[[str], None] | None = None,
        on_stopped: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__()
        self._max_bytes = max_buffer_ms * BYTES_PER_MS
        self._on_started = on_started
        self._on_stopped = on_stopped
        self._buf = bytearray()
        self._segments: deque[Segment] = deque()
        self._items: OrderedDict[str, ItemProgress] = OrderedDict()
        self._cancelled: OrderedDict[str, None] = OrderedDict()  # interrupted items (an ordered, bounded set)
        self._encoder = OpusMonoEncoder(IN_RATE)
        self._silence = self._encoder.encode(bytes(IN_FRAME_BYTES))
        self._playing: str | None = None
        self._partial_waits = 0
        self._start: float | None = None
        self._n = 0
        self.frames = 0
        self.audio_frames = 0
        self.late_frames = 0
        self.dropped_ms = 0
        self.first_audio_at: float | None = None  # monotonic time the first reply frame left (benchmarks)

    # --- feeding ---------------------------------------------------------------------------------------------------
    def feed(self, item_id: str, content_index: int, pcm: bytes) -> None:
        if item_id in self._cancelled or not pcm:
            return
        item = self._items.get(item_id)
        if item is None:
            item = self._items[item_id] = ItemProgress(content_index)
            while len(self._items) > MAX_ITEMS:
                self._items.popitem(last=False)
        item.received += len(pcm)
        if len(self._buf) + len(pcm) > self._max_bytes:
            self.dropped_ms += len(pcm) // BYTES_PER_MS
            return
        self._buf += pcm
        if self._segments and self._segments[-1].item_id == item_id:
            self._segments[-1].left += len(pcm)
        else:
            self._segments.append(Segment(item_id, len(pcm)))

    def mark_done(self, item_id: str) -> None:
        if item_id in self._items:
            self._items[item_id].done = True

    @property
    def busy(self) -> bool:
        """True while reply audio is queued or an unfinished item may still send more."""
        return bool(self._buf) or any(not i.done for k, i in self._items.items() if k not in self._cancelled)

    def clear(self) -> Truncation | None:
        """Barge-in: drop everything queued; return where to truncate the item that was playing, if any."""
        head = self._segments[0].item_id if self._segments else self._playing
        queued = {seg.item_id for seg in self._segments}
        for key, item in self._items.items():
            if not item.done or key in queued or key == head:
                self._cancel(key)
        self._buf.clear()
        self._segments.clear()
        self._partial_waits = 0
        self._playing = None  # no "stopped" event: the caller reports `output_audio_buffer.cleared` instead
        if head is None or head not in self._items:
            return None
        item = self._items[head]
        return Truncation(head, item.content_index, min(item.played, item.received) // BYTES_PER_MS)

    def _cancel(self, item_id: str) -> None:
        self._cancelled[item_id] = None
        while len(self._cancelled) > MAX_ITEMS:
            self._cancelled.popitem(last=False)

    # --- the track -------------------------------------------------------------------------------------------------
    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = _on_grid(now)
            await asyncio.sleep(self._start - now)
        else:
            delay = self._start + self._n * PTIME - now
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -PTIME:
                self.late_frames += 1
                if delay < -0.2:
                    self._start = _on_grid(now) - self._n * PTIME
        packet = av.Packet(self._next_payload())
        packet.pts = self._n * FRAME_SAMPLES
        packet.time_base = fractions.Fraction(1, OPUS_RATE)
        self._n += 1
        self.frames += 1
        return packet

    def _next_payload(self) -> bytes:
        if len(self._buf) < IN_FRAME_BYTES:
            if not self._buf or not self._tail_ready():
                if self._playing is not None and not self._buf:
                    stopped, self._playing = self._playing, None
                    if self._on_stopped:
                        self._on_stopped(stopped)
                return self._silence
        taken = bytes(self._buf[:IN_FRAME_BYTES])
        del self._buf[:IN_FRAME_BYTES]
        self._partial_waits = 0
        self._account(len(taken))
        self.audio_frames += 1
        if self.first_audio_at is None:
            self.first_audio_at = time.monotonic()
        return self._encoder.encode(taken.ljust(IN_FRAME_BYTES, b"\0"))

    def _tail_ready(self) -> bool:
        """A partial frame is played (padded) when its item is finished, or after waiting two frames for more."""
        head = self._segments[0].item_id if self._segments else ""
        if head in self._items and self._items[head].done:
            return True
        self._partial_waits += 1
        return self._partial_waits > 2

    def _account(self, nbytes: int) -> None:
        while nbytes > 0 and self._segments:
            seg = self._segments[0]
            take = min(seg.left, nbytes)
            if seg.item_id in self._items:
                self._items[seg.item_id].played += take
            if self._playing != seg.item_id:
                self._playing = seg.item_id
                if self._on_started:
                    self._on_started(seg.item_id)
            nbytes -= take
            seg.left -= take
            if seg.left == 0:
                self._segments.popleft()

    def stats(self) -> dict[str, int]:
        return {
            "frames": self.frames,
            "audio_frames": self.audio_frames,
            "late_frames": self.late_frames,
            "dropped_ms": self.dropped_ms,
            "queued_ms": len(self._buf) // BYTES_PER_MS,
        }
