"""The low-latency receive path (DirectAudioPath): no buffering, loss does not accumulate, chunks stay aligned."""

from __future__ import annotations

import numpy as np
import pytest
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket

from web.media.audio.opus import OpusMonoEncoder
from web.media.rtc.uplink import DirectAudioPath

FRAME_48K = 960
CHUNK_24K = 960  # bytes: 20 ms of PCM16 at 24 kHz


def tone_payloads(count: int, amplitude: float = 0.3) -> list[bytes]:
    encoder = OpusMonoEncoder()
    t = np.arange(count * FRAME_48K) / 48_000
    samples = (amplitude * 32767 * np.sin(2 * np.pi * 330 * t)).astype(np.int16)
    return [encoder.encode(samples[i * FRAME_48K : (i + 1) * FRAME_48K].tobytes()) for i in range(count)]


def packet(seq: int, payload: bytes, *, ts: int | None = None, pt: int = 96) -> RtpPacket:
    p = RtpPacket(payload_type=pt, sequence_number=seq & 0xFFFF, timestamp=(ts if ts is not None else seq * 960))
    p.payload = payload
    return p


class Sink:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def __call__(self, pcm: bytes, arrived: float, ts: int) -> None:
        self.chunks.append(pcm)

    @property
    def pcm(self) -> bytes:
        return b"".join(self.chunks)


def level(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768
    return float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0


def test_every_packet_becomes_one_chunk_at_once() -> None:
    sink = Sink()
    path = DirectAudioPath(sink)
    payloads = tone_payloads(50)
    for seq, payload in enumerate(payloads, start=100):
        before = len(sink.chunks)
        path.add(packet(seq, payload))
        # the chunk for this packet is handed over inside add(): nothing waits for later packets
        assert len(sink.chunks) == before + 1
    assert all(len(c) == CHUNK_24K for c in sink.chunks)
    assert path.stats() == {"packets": 50, "lost": 0, "late": 0, "decode_errors": 0, "filled_ms": 0}
    assert level(sink.pcm[CHUNK_24K * 5 :]) > 0.1  # the tone came through (after the codec's warm-up)


def test_loss_is_filled_with_silence_and_leaves_no_delay() -> None:
    sink = Sink()
    path = DirectAudioPath(sink)
    payloads = tone_payloads(40)
    for seq in range(40):
        if 10 <= seq < 15:  # a 100 ms burst lost
            continue
        path.add(packet(seq, payloads[seq]))
    stats = path.stats()
    assert stats["lost"] == 5
    assert stats["filled_ms"] == 100
    assert len(sink.pcm) == 40 * CHUNK_24K  # the upstream's audio clock still matches the sender's
    # the packet right after the burst was decoded immediately: one chunk of fill per lost packet plus its own
    assert len(sink.chunks) == 40


def test_late_and_duplicate_packets_are_dropped_not_waited_for() -> None:
    sink = Sink()
    path = DirectAudioPath(sink)
    payloads = tone_payloads(10)
    order = [0, 1, 2, 4, 3, 5, 5, 6]  # 3 arrives after 4; 5 twice
    for seq in order:
        path.add(packet(seq, payloads[seq]))
    stats = path.stats()
    assert stats["late"] == 2
    assert stats["lost"] == 1  # 3 was missing when 4 arrived (filled), and is then too late
    assert len(sink.pcm) == 7 * CHUNK_24K


def test_sequence_wraparound_is_not_loss() -> None:
    sink = Sink()
    path = DirectAudioPath(sink)
    payloads = tone_payloads(6)
    for i, seq in enumerate([65533, 65534, 65535, 0, 1, 2]):
        path.add(packet(seq, payloads[i], ts=i * 960))
    assert path.stats()["lost"] == 0 and path.stats()["late"] == 0
    assert len(sink.chunks) == 6


def test_a_restarted_stream_is_not_papered_over() -> None:
    sink = Sink()
    path = DirectAudioPath(sink)
    payloads = tone_payloads(4)
    path.add(packet(10, payloads[0]))
    path.add(packet(5_000, payloads[1], ts=9_999_999))
    path.add(packet(5_001, payloads[2], ts=9_999_999 + 960))
    assert path.stats()["filled_ms"] == 0
    assert len(sink.chunks) == 3


def test_other_payload_types_and_garbage_are_ignored() -> None:
    sink = Sink()
    path = DirectAudioPath(sink)
    path.set_codecs([RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48_000, channels=2, payloadType=111)])
    path.add(packet(1, tone_payloads(1)[0], pt=0))  # PCMU: not what we negotiated
    assert sink.chunks == []
    assert path.stats()["packets"] == 1  # still counts as a sign of life
    path.add(packet(2, b"", pt=111))
    assert sink.chunks == []


@pytest.mark.parametrize("chunk_ms", [20, 40, 100])
def test_chunk_size_is_respected(chunk_ms: int) -> None:
    sink = Sink()
    path = DirectAudioPath(sink, chunk_ms=chunk_ms)
    for seq, payload in enumerate(tone_payloads(20)):
        path.add(packet(seq, payload))
    size = 48 * chunk_ms
    assert sink.chunks and all(len(c) == size for c in sink.chunks)
    assert len(sink.chunks) == 20 * 20 // chunk_ms
