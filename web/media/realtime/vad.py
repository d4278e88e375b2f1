"""Energy voice-activity detection on PCM16 24 kHz mono, shaped like the realtime service's server VAD.

20 ms frames; a frame is voiced when its RMS level is above both an absolute level derived from `threshold` (0.5 →
-40 dBFS) and an adaptive noise floor + 12 dB (so a fan or a noisy street does not count as speech). Speech starts after
60 ms of voiced frames and stops after `silence_duration_ms` below the start level - 6 dB (hysteresis). Times are in ms
of audio received, like the service's `audio_start_ms` / `audio_end_ms`. Limitation: the floor learns only outside
speech, so a steady noise that jumps straight above -40 dBFS reads as one long utterance (the echo upstream cuts it at
30 s); the browser's noise suppression (on by default) normally keeps steady noise far below that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_MS = 20
FRAME_SAMPLES = 24_000 * FRAME_MS // 1000
FRAME_BYTES = FRAME_SAMPLES * 2
START_FRAMES = 3  # 60 ms of voiced frames before speech counts as started
FLOOR_MARGIN_DB = 12.0
HYSTERESIS_DB = 6.0


@dataclass(frozen=True)
class VadEvent:
    kind: str  # "started" | "stopped"
    ms: int  # audio_start_ms (prefix padding applied) or audio_end_ms


def frame_levels_db(pcm: bytes) -> np.ndarray:
    """RMS level in dBFS of each whole 20 ms frame in `pcm`."""
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % FRAME_BYTES], dtype="<i2").astype(np.float32)
    frames = samples.reshape(-1, FRAME_SAMPLES) / 32768.0
    rms = np.sqrt(np.mean(frames * frames, axis=1)) if len(frames) else np.zeros(0, dtype=np.float32)
    return 20.0 * np.log10(np.maximum(rms, 1e-5))


class EnergyVad:
    def __init__(self, threshold: float = 0.5, prefix_padding_ms: int = 300, silence_duration_ms: int = 500) -> None:
        self.configure(threshold, prefix_padding_ms, silence_duration_ms)
        self._carry = b""
        self._pos_ms = 0
        self._floor_db = -70.0
        self._speaking = False
        self._voiced_run = 0
        self._silent_ms = 0
        self._last_voiced_end_ms = 0

    def configure(self, threshold: float, prefix_padding_ms: int, silence_duration_ms: int) -> None:
        threshold = min(max(float(threshold), 0.0), 1.0)
        self._abs_start_db = -60.0 + 40.0 * threshold
        self._prefix_ms = max(0, int(prefix_padding_ms))
        self._silence_ms = max(FRAME_MS, int(silence_duration_ms))

    @property
    def speaking(self) -> bool:
        return self._speaking

    def reset(self) -> None:
        """Forget the current utterance (after `input_audio_buffer.clear`); the clock keeps running."""
        self._speaking = False
        self._voiced_run = 0
        self._silent_ms = 0

    def process(self, pcm: bytes) -> list[VadEvent]:
        data = self._carry + pcm
        whole = len(data) - len(data) % FRAME_BYTES
        self._carry = data[whole:]
        events: list[VadEvent] = []
        for level in frame_levels_db(data[:whole]).tolist():
            events.extend(self._frame(level))
        return events

    def _frame(self, level: float) -> list[VadEvent]:
        start_db = max(self._abs_start_db, self._floor_db + FLOOR_MARGIN_DB)
        frame_start = self._pos_ms
        self._pos_ms += FRAME_MS
        if not self._speaking:
            # The floor falls fast and rises slowly (~1 s), and only learns from non-speech frames.
            rate = 0.5 if level < self._floor_db else 0.02
            self._floor_db = min(max(self._floor_db + (level - self._floor_db) * rate, -90.0), -30.0)
            if level >= start_db:
                self._voiced_run += 1
                if self._voiced_run >= START_FRAMES:
                    self._speaking = True
                    self._silent_ms = 0
                    self._last_voiced_end_ms = self._pos_ms
                    first_voiced = frame_start - (START_FRAMES - 1) * FRAME_MS
                    return [VadEvent("started", max(0, first_voiced - self._prefix_ms))]
            else:
                self._voiced_run = 0
            return []
        if level >= start_db - HYSTERESIS_DB:
            self._silent_ms = 0
            self._last_voiced_end_ms = self._pos_ms
            return []
        self._silent_ms += FRAME_MS
        if self._silent_ms >= self._silence_ms:
            self._speaking = False
            self._voiced_run = 0
            return [VadEvent("stopped", self._last_voiced_end_ms)]
        return []
