"""Every number a verdict depends on, in one place. Sources: shared/reference/diagnostics.md §9 ("ours" there marks
values this project chose). The page, the report and the CLI all read these, so they can never disagree."""

from __future__ import annotations

# server health: GET /health as seen from the client
HEALTH_PASS_MS = 1000
HEALTH_WARN_MS = 3000
HEALTH_TIMEOUT_MS = 5000

# sign-in
SESSION_MIN_REMAINING_S = 5 * 60
CLOCK_SKEW_WARN_S = 2 * 60

# microphone
MIC_PROMPT_TIMEOUT_MS = 10_000
MIC_LEVEL_SECONDS = 3
MIC_QUIET_DBFS = -60.0  # testRTC: RMS below this is too quiet
MIC_FLAT_FRACTION = 0.01  # Twilio: mean and stddev of the level both at or below 1 % of full scale
MIC_CLIP_RUN = 6  # more consecutive full-scale samples than this is clipping
DIGITAL_SILENCE = 1 / 32767  # every sample below one 16-bit step

# connection set-up
SIGNAL_PASS_MS = 2000
SIGNAL_FAIL_MS = 10_000  # Twilio's signalling timeout
CONNECT_PASS_MS = 2000
CONNECT_FAIL_MS = 10_000
UPSTREAM_PASS_MS = 2000
UPSTREAM_WARN_MS = 5000
UPSTREAM_FAIL_MS = 10_000
WEBSOCKET_PASS_MS = 2000
WEBSOCKET_FAIL_MS = 10_000

# end-to-end round trip (ours): from the end of the test tone (echo) or the request (AI) to the first reply audio.
# Echo mode waits for the 500 ms of silence that ends a turn, so this includes it.
ROUND_TRIP_PASS_MS = 2000
ROUND_TRIP_FAIL_MS = 5000
ROUND_TRIP_WAIT_MS = 10_000

# call quality over QUALITY_SECONDS one-second samples
QUALITY_SECONDS = 10
BAD_SAMPLES = 3  # Twilio: a threshold crossed in at least this many samples
RTT_PASS_MS = 250
RTT_FAIL_MS = 400
JITTER_PASS_MS = 10
JITTER_FAIL_MS = 30
LOSS_PASS_PCT = 1.0
LOSS_FAIL_PCT = 5.0
BITRATE_PASS_KBPS = 100
BITRATE_FAIL_KBPS = 40  # the Opus audio floor
MOS_PASS = 3.7
MOS_FAIL = 3.0

# browsers (MDN browser-compat-data; reference §7): the first versions with every API the voice page uses
BROWSER_BASELINE: dict[str, tuple[int, ...]] = {"Chrome": (80,), "Edge": (80,), "Firefox": (76,), "Safari": (14, 1)}
FIREFOX_CONNECTION_STATE = (113,)  # RTCPeerConnection.connectionState

# server-side checks run by `diagnose --local`
LOOP_LAG_WARN_MS = 100
LOOP_LAG_FAIL_MS = 1000
