"""The paced downlink track: 20 ms pacing, silence between replies, barge-in accounting, bounded buffering."""

from __future__ import annotations

import time

import numpy as np

from web.media.audio.opus import OpusMonoDecoder
from web.media.rtc.playout import PlayoutTrack

MS = 48  # bytes per ms of PCM16 24 kHz mono


def tone_24k(ms: int, amplitude: float = 0.3) -> bytes:
    t = np.arange(24 * ms) / 24_000
    return (amplitude * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16).tobytes()


def level(payloads: list[bytes]) -> float:
    decoder = OpusMonoDecoder()
    pcm = b"".join(decoder.decode(p) for p in payloads)
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768
    return float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0


async def test_frames_are_paced_at_20ms() -> None:
    track = PlayoutTrack()
    first = await track.recv()
    began = time.monotonic()
    for _ in range(10):
        packet = await track.recv()
    elapsed = time.monotonic() - began
    assert 0.18 <= elapsed < 0.26, elapsed
    assert packet.pts == 10 * 960 and first.pts == 0
    assert track.stats()["late_frames"] == 0


async def test_silence_then_reply_then_silence_with_callbacks() -> None:
    events: list[tuple[str, str]] = []
    track = PlayoutTrack(on_started=lambda i: events.append(("started", i)),
                         on_stopped=lambda i: events.append(("stopped", i)))
    idle = bytes(await track.recv())
    track.feed("item_1", 0, tone_24k(100))
    reply = [bytes(await track.recv()) for _ in range(5)]
    after = [bytes(await track.recv()) for _ in range(2)]
    assert events == [("started", "item_1"), ("stopped", "item_1")]
    assert all(p == idle for p in after)  # the cached silence packet
    assert level(reply) > 0.05
    assert track.stats()["audio_frames"] == 5


async def test_a_partial_last_frame_is_padded_once_the_item_is_done() -> None:
    track = PlayoutTrack()
    track.feed("item_1", 0, tone_24k(30))  # 1.5 frames
    await track.recv()
    assert track.audio_frames == 1
    track.mark_done("item_1")
    await track.recv()
    assert track.audio_frames == 2
    assert not track.busy


async def test_barge_in_clear_reports_what_was_played() -> None:
    track = PlayoutTrack()
    track.feed("item_1", 0, tone_24k(1_000))
    for _ in range(10):  # 200 ms go out
        await track.recv()
    cut = track.clear()
    assert cut is not None
    assert (cut.item_id, cut.content_index, cut.audio_end_ms) == ("item_1", 0, 200)
    assert track.stats()["queued_ms"] == 0
    track.feed("item_1", 0, tone_24k(200))  # late deltas of the interrupted item are not played
    assert track.stats()["queued_ms"] == 0
    assert not track.busy
    track.feed("item_2", 0, tone_24k(40))  # the next reply plays normally
    assert track.stats()["queued_ms"] == 40


async def test_clear_with_nothing_played_truncates_at_zero_and_empty_clear_is_none() -> None:
    track = PlayoutTrack()
    assert track.clear() is None
    track.feed("item_1", 0, tone_24k(500))
    cut = track.clear()
    assert cut is not None and cut.audio_end_ms == 0


async def test_buffer_is_bounded() -> None:
    track = PlayoutTrack(max_buffer_ms=100)
    track.feed("item_1", 0, tone_24k(80))
    track.feed("item_1", 0, tone_24k(80))
    stats = track.stats()
    assert stats["queued_ms"] == 80
    assert stats["dropped_ms"] == 80


async def test_every_track_paces_on_one_shared_20ms_grid() -> None:
    """Calls that start at different moments still have their frames due at the same instants (one loop wake-up)."""
    import asyncio

    first = PlayoutTrack()
    await first.recv()
    await asyncio.sleep(0.007)
    second = PlayoutTrack()
    await second.recv()
    for _ in range(3):
        await asyncio.gather(first.recv(), second.recv())
    assert first._start is not None and second._start is not None
    offset = (second._start - first._start) / 0.020
    assert abs(offset - round(offset)) < 1e-6, offset
    assert first.stats()["late_frames"] == second.stats()["late_frames"] == 0
