"""Knobs of the fake Realtime server: credentials, deployments and the fault modes tests switch on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FakeOptions:
    api_key: str = "test-key"
    deployments: tuple[str, ...] = ("gpt-realtime",)
    # api-versions the preview path accepts; any other (e.g. the model version 2025-08-28) gets a 400
    preview_api_versions: tuple[str, ...] = ("2025-04-01-preview", "2024-10-01-preview")
    # handshake faults
    reject_status: int | None = None  # answer the upgrade with this HTTP status (401, 429, 400, 500, …)
    reject_after: int = 0  # … starting with the upgrade of this index (0: the first) …
    reject_count: int | None = None  # … for this many upgrades (None: all the rest)
    # faults after the upgrade; they apply to the first `faulty_connections` connections (None: all)
    faulty_connections: int | None = None
    stall_after_s: float | None = None  # stop sending events (socket stays open, input still read)
    close_after_s: float | None = None  # close with 1011 this long after session.created
    close_on_audio: bool = False  # close with 1011 right after the first audio delta of a response
    first_audio_delay_s: float = 0.0  # slow first audio: wait this long after response.created
    session_expiry_s: float | None = None  # `session_expired` error, then close
    # replies
    reply_ms: int = 600  # length of the reply tone
    tone_hz: float = 440.0
    tone_amplitude: float = 0.3  # of full scale
    audio_speed: float = 10.0  # reply audio streams this many times faster than real time
    reply_transcript: str = "Hello from the fake realtime server."
    vad_threshold_dbfs: float = -40.0
    # `usage` of each response.done (GA shape): input tokens per response; output tokens follow from the reply
    usage_input_text: int = 118
    usage_input_audio: int = 36
    usage_cached_text: int = 64  # a subset of the input text tokens, as the service reports it

    def faulty(self, connection_index: int) -> bool:
        return self.faulty_connections is None or connection_index < self.faulty_connections
