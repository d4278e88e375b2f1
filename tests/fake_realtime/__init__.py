"""The project's own fake of the Realtime WebSocket service (Azure GA, Azure preview/beta, OpenAI), with faults.

In-process:   `async with FakeRealtimeServer(FakeOptions(stall_after_s=1)) as fake: ... fake.base_url ...`
Subprocess:   `python -m tests.fake_realtime --port 8765 --mode stall` (prints `FAKE_REALTIME_READY <base url>`).
"""

from __future__ import annotations

from .audio import feed, noise, silence, speech_like, utterance
from .contract import check_event, check_events, check_response_lifecycle
from .helpers import collect, of_type, types
from .options import FakeOptions
from .reply import tone
from .server import FakeRealtimeServer, Handshake

__all__ = [
    "FakeOptions",
    "FakeRealtimeServer",
    "Handshake",
    "check_event",
    "check_events",
    "check_response_lifecycle",
    "collect",
    "feed",
    "noise",
    "of_type",
    "silence",
    "speech_like",
    "tone",
    "types",
    "utterance",
]
