"""Audio helpers: Opus and resampling round-trip, and no FFmpeg threads per call."""

from __future__ import annotations

import numpy as np

from tests.media_fixtures.helpers import os_threads
from web.media.audio.opus import OpusMonoDecoder, OpusMonoEncoder
from web.media.audio.resample import PcmResampler, pcm_to_frame
from web.media.audio.threads import single_thread_ffmpeg


def test_many_codecs_and_resamplers_start_no_threads() -> None:
    assert single_thread_ffmpeg()
    # warm: the first use of each kind may load codec tables
    OpusMonoDecoder().decode(OpusMonoEncoder().encode(bytes(1920)))
    PcmResampler(24_000).resample(pcm_to_frame(bytes(1920), 48_000, pts=0))
    before = os_threads()
    kept = []
    for _ in range(10):  # ten calls' worth of the media path
        encoder, decoder, down, up = OpusMonoEncoder(), OpusMonoDecoder(), PcmResampler(24_000), PcmResampler(48_000)
        for frame in decoder.decode(encoder.encode(bytes(1920))):
            down.resample(frame)
        up.resample(pcm_to_frame(bytes(960), 24_000, pts=0))
        kept.append((encoder, decoder, down, up))
    assert os_threads() == before


def test_opus_and_resampler_round_trip_keeps_the_signal() -> None:
    t = np.arange(48_000) / 48_000
    tone = (0.3 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16).tobytes()
    encoder, decoder, down = OpusMonoEncoder(), OpusMonoDecoder(), PcmResampler(24_000)
    out = bytearray()
    for i in range(50):
        for frame in decoder.decode(encoder.encode(tone[i * 1920 : (i + 1) * 1920])):
            assert frame.sample_rate == 48_000 and frame.layout.name == "mono"
            out += down.resample(frame)
    samples = np.frombuffer(bytes(out), dtype=np.int16).astype(np.float32) / 32768
    assert abs(len(samples) - 24_000) < 100
    rms = float(np.sqrt(np.mean(samples[2400:] ** 2)))
    assert 0.15 < rms < 0.26  # 0.3 amplitude sine → 0.21 RMS
