"""The upstream side of the voice path: a client conversation relayed to a GPT Realtime service (or echo mode).

Transports (WebRTC calls, the WebSocket endpoint) use only what is exported here.
"""

from __future__ import annotations

from .config import UpstreamConfig, describe_upstream, resolve_upstream
from .errors import UpstreamError
from .events import BYTES_PER_MS, SAMPLE_RATE, decode_audio_delta, error_event
from .factory import create_realtime_session, probe_upstream
from .session import RealtimeSession
from .session_config import SessionDefaults, SessionLimits
from .stats import RealtimeStats

__all__ = [
    "BYTES_PER_MS",
    "SAMPLE_RATE",
    "RealtimeSession",
    "RealtimeStats",
    "SessionDefaults",
    "SessionLimits",
    "UpstreamConfig",
    "UpstreamError",
    "create_realtime_session",
    "decode_audio_delta",
    "describe_upstream",
    "error_event",
    "probe_upstream",
    "resolve_upstream",
]
