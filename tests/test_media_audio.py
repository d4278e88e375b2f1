"""Audio helpers: libopus coding at the model's rate, the resampler, and no FFmpeg threads per call."""

from __future__ import annotations

import numpy as np
import pytest

from tests.media_fixtures.helpers import os_threads
from web.media.audio.opus import OpusError, OpusMonoDecoder, OpusMonoEncoder
from web.media.audio.resample import PcmResampler, pcm_to_frame
from web.media.audio.threads import single_thread_ffmpeg


def tone(rate: int, seconds: float = 1.0, hz: float = 440.0) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (0.3 * 32767 * np.sin(2 * np.pi * hz * t)).astype(np.int16).tobytes()


def rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768
    return float(np.sqrt(np.mean(samples**2)))


def test_many_codecs_and_resamplers_start_no_threads() -> None:
    assert single_thread_ffmpeg()
    # warm: the first use of each kind may load codec tables
    OpusMonoDecoder(24_000).decode(OpusMonoEncoder(24_000).encode(bytes(960)))
    PcmResampler(16_000).resample(pcm_to_frame(bytes(960), 24_000, pts=0))
    before = os_threads()
    kept = []
    for _ in range(10):  # ten calls' worth of the media path (and a device's resampler)
        encoder, decoder, resampler = OpusMonoEncoder(24_000), OpusMonoDecoder(24_000), PcmResampler(16_000)
        resampler.resample(pcm_to_frame(decoder.decode(encoder.encode(bytes(960))), 24_000, pts=0))
        kept.append((encoder, decoder, resampler))
    assert os_threads() == before


@pytest.mark.parametrize(("send_rate", "receive_rate"), [(48_000, 24_000), (24_000, 48_000), (24_000, 24_000)])
def test_opus_codes_at_the_model_rate_without_a_resampler(send_rate: int, receive_rate: int) -> None:
    """The browser sends 48 kHz, the model hears 24 kHz; the model's 24 kHz reply reaches the browser at 48 kHz."""
    encoder, decoder = OpusMonoEncoder(send_rate), OpusMonoDecoder(receive_rate)
    source, step = tone(send_rate), send_rate // 50 * 2
    out = b"".join(decoder.decode(encoder.encode(source[i : i + step])) for i in range(0, len(source), step))
    assert len(out) == receive_rate * 2  # one second in, one second out, at the receiver's rate
    assert 0.19 < rms(out[len(out) // 10 :]) < 0.23  # 0.3 amplitude sine → 0.21 RMS
    spectrum = np.abs(np.fft.rfft(np.frombuffer(out, dtype=np.int16)[receive_rate // 10 :]))
    peak_hz = int(np.argmax(spectrum)) * receive_rate / (2 * (len(spectrum) - 1))
    assert abs(peak_hz - 440) < 5  # the same tone, not a pitch-shifted one


def test_opus_refuses_bad_input_with_its_own_error() -> None:
    with pytest.raises(OpusError, match="corrupted"):
        OpusMonoDecoder(24_000).decode(b"\xff\xff\xff")
    with pytest.raises(OpusError, match="empty"):
        OpusMonoDecoder(24_000).decode(b"")
    with pytest.raises(OpusError, match="960 bytes"):
        OpusMonoEncoder(24_000).encode(bytes(100))
    with pytest.raises(ValueError, match="44100"):
        OpusMonoDecoder(44_100)


def test_resampler_changes_rate_and_keeps_the_signal() -> None:
    down, source = PcmResampler(16_000), tone(24_000)
    out = b"".join(down.resample(pcm_to_frame(source[i : i + 960], 24_000, pts=i // 2)) for i in range(0, 48_000, 960))
    assert abs(len(out) // 2 - 16_000) < 100
    assert 0.19 < rms(out[3200:]) < 0.23
