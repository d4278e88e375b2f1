"""The low-latency receive path: browser Opus (RTP) → PCM16 24 kHz mono chunks for the upstream.

Why not aiortc's own receiver: its audio `JitterBuffer(capacity=16, prefetch=4)` releases a frame only after 4 later
frames have arrived (80–100 ms), and after a single lost packet it waits for the hole until 16 packets are queued and
then stays full, ~300 ms behind for the rest of the call (aiortc#543; shared/reference/aiortc.md §3). It then hands
frames to a per-call decoder thread, which posts them back to the loop into an unbounded queue.

What we do instead. We keep aiortc's `RTCRtpReceiver` for everything around the buffer (SRTP, RTCP receiver reports,
stats) and replace its jitter buffer object with `DirectAudioPath`, which gets every depayloaded RTP packet
synchronously in the SRTP receive task and:

- decodes it at once, on the loop, straight to 24 kHz mono (libopus decodes at that rate natively, ~20 µs): one RTP
  packet carries complete Opus frames, nothing to reassemble;
- drops a packet that arrives after a later one was already decoded (late or duplicate). Our consumer is a speech
  model, not a loudspeaker: a missing 20 ms is inaudible to it, while waiting for stragglers would cost latency on
  every frame for the rest of the call;
- fills a gap left by lost packets with up to 200 ms of silence, so the upstream's audio clock stays in step with the
  wall clock (its VAD timestamps and our barge-in arithmetic rely on that);
- emits fixed-size chunks (default 20 ms) to a callback.

So arrival → chunk is decode time (~20 µs), and a loss burst leaves no state behind: the packet after it
is decoded immediately. No decoder thread runs (we stop aiortc's), and nothing here queues; the only buffer is the
call's bounded uplink queue. Measured against the stock receiver in docs/benchmarks.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiortc.rtcrtpreceiver import RTCRtpReceiver

from web.media.audio.opus import OpusError, OpusMonoDecoder

OUT_RATE = 24_000
RTP_CLOCK = 48_000  # Opus RTP clock rate, whatever the actual sampling rate
MAX_FILL_MS = 200
RESTART_GAP = 1_000  # a sequence jump larger than this is a new stream, not loss

ChunkSink = Callable[[bytes, float, int], None]  # (pcm, arrival time of the chunk's first packet, last RTP timestamp)


class DirectAudioPath:
    """Stands in for aiortc's `JitterBuffer` on an audio receiver (same `add()` signature; never returns a frame)."""

    capacity = 16  # read by nothing today; kept so the object looks like the buffer it replaces

    def __init__(self, sink: ChunkSink, chunk_ms: int = 20) -> None:
        self._sink = sink
        self._chunk_bytes = OUT_RATE * 2 * chunk_ms // 1000
        self._decoder = OpusMonoDecoder(OUT_RATE)
        self._opus_payload_types: set[int] | None = None  # None until negotiated: accept any
        self._last_seq: int | None = None
        self._last_ts = 0
        self._last_samples = 0
        self._pending = bytearray()
        self._pending_since = 0.0
        self.last_packet_at = 0.0
        self.packets = 0
        self.lost = 0
        self.late = 0
        self.decode_errors = 0
        self.filled_ms = 0

    def set_codecs(self, codecs: list[Any]) -> None:
        self._opus_payload_types = {c.payloadType for c in codecs if str(c.mimeType).lower() == "audio/opus"}

    # --- the JitterBuffer interface -------------------------------------------------------------------------------
    def add(self, packet: Any) -> tuple[bool, None]:
        now = time.monotonic()
        self.last_packet_at = now
        self.packets += 1
        if self._opus_payload_types is not None and packet.payload_type not in self._opus_payload_types:
            return False, None
        seq, ts = int(packet.sequence_number), int(packet.timestamp)
        if self._last_seq is not None:
            step = (seq - self._last_seq) & 0xFFFF
            if step == 0 or step >= 0x8000:
                self.late += 1  # duplicate, or older than what we already decoded
                return False, None
            if step > RESTART_GAP:
                self._last_seq = None  # the sender restarted its sequence: start over, no fill
            elif step > 1:
                self.lost += step - 1
                gap = ((ts - self._last_ts) & 0xFFFFFFFF) - self._last_samples
                self._fill(gap, now)
        self._last_seq, self._last_ts = seq, ts
        payload = getattr(packet, "_data", None) or packet.payload
        if not payload:
            return False, None
        try:
            pcm = self._decoder.decode(bytes(payload))
        except OpusError:
            self.decode_errors += 1
            return False, None
        self._last_samples = len(pcm) // 2 * (RTP_CLOCK // OUT_RATE) or 960
        self._push(pcm, now, ts)
        return False, None

    # --- chunking --------------------------------------------------------------------------------------------------
    def _fill(self, gap_samples_48k: int, now: float) -> None:
        if gap_samples_48k <= 0 or gap_samples_48k > RTP_CLOCK:
            return  # negative or above a second: a timestamp jump (DTX, a new source), not loss we should paper over
        # whole 20 ms frames only, so chunks stay aligned with the frames that follow
        fill_ms = min(round(gap_samples_48k / (RTP_CLOCK // 50)) * 20, MAX_FILL_MS)
        self.filled_ms += fill_ms
        self._push(bytes(OUT_RATE * 2 * fill_ms // 1000), now, self._last_ts)

    def _push(self, pcm: bytes, arrived: float, ts: int) -> None:
        if not pcm:
            return
        if not self._pending:
            self._pending_since = arrived
        self._pending += pcm
        while len(self._pending) >= self._chunk_bytes:
            chunk = bytes(self._pending[: self._chunk_bytes])
            del self._pending[: self._chunk_bytes]
            self._sink(chunk, self._pending_since, ts)
            self._pending_since = arrived

    def stats(self) -> dict[str, int]:
        return {
            "packets": self.packets,
            "lost": self.lost,
            "late": self.late,
            "decode_errors": self.decode_errors,
            "filled_ms": self.filled_ms,
        }


def install_direct_path(receiver: RTCRtpReceiver, path: DirectAudioPath) -> None:
    """Swap the receiver's jitter buffer for `path`, and stop its (now idle) decoder thread once it has started.

    Touches two private attributes of aiortc's receiver; fails loudly if a future aiortc renames them, rather than
    silently running the 300 ms path.
    """
    buffer_attr = "_RTCRtpReceiver__jitter_buffer"
    stop_attr = "_RTCRtpReceiver__stop_decoder"
    if not hasattr(receiver, buffer_attr) or not hasattr(receiver, stop_attr):
        raise RuntimeError("this aiortc version has no replaceable audio jitter buffer; pin aiortc 1.15/1.16")
    setattr(receiver, buffer_attr, path)
    original_receive = receiver.receive

    async def receive(parameters: Any) -> None:
        await original_receive(parameters)
        path.set_codecs(list(parameters.codecs))
        getattr(receiver, stop_attr)()  # the thread would only idle: we decode on the loop

    receiver.receive = receive  # type: ignore[method-assign]
