"""The checklist: every check's id, title, rule and where it runs, in the order 「全部检测」 runs them.

`kind`: "client" checks are measured by the browser (web/static/diagnostics.js) or the CLI, which post the numbers;
"server" checks run on the server when their row is requested; "local" checks exist only in `diagnose --local`.
`needs_login`: the check talks to an endpoint that requires a session (or costs an upstream connection).
`needs_calls`: the check uses the WebRTC call endpoint. `cli`: the CLI runs it too.
"""

from __future__ import annotations

from dataclasses import dataclass

from web.diagnostics import thresholds as th
from web.diagnostics.text import Text, t
from web.i18n import N_


@dataclass(frozen=True)
class CheckSpec:
    id: str
    title: str  # msgid
    rule: Text
    kind: str = "client"
    needs_login: bool = False
    needs_calls: bool = False
    cli: bool = False


CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("secure_context", N_("Secure connection (HTTPS)"),
              t(N_("Pass: the page is a secure context (https:// or localhost)."))),
    CheckSpec("browser", N_("Browser compatibility"),
              t(N_("Pass: WebRTC, getUserMedia, AudioWorklet and WebSocket present; Chrome/Edge {chrome}+, Firefox "
                   "{firefox}+ ({firefox_full}+ preferred), Safari {safari}+. Internet Explorer is not supported."),
                chrome=80, firefox=76, firefox_full=113, safari="14.1")),
    CheckSpec("server_health", N_("Server reachable"),
              t(N_("Pass: /health answers 2xx within {pass_ms} ms; warn up to {warn_ms} ms; fail on an error, no "
                   "answer, or slower."), pass_ms=th.HEALTH_PASS_MS, warn_ms=th.HEALTH_WARN_MS), cli=True),
    CheckSpec("readiness", N_("Server dependencies"),
              t(N_("Pass: /health/ready reports every dependency (database, event loop, log queue, voice upstream) "
                   "ready; warn when one is degraded; fail when one is down.")), cli=True),
    CheckSpec("session", N_("Signed in"),
              t(N_("Pass: signed in with at least {minutes} minutes left and the clock within {skew} s of the "
                   "server's; fail when not signed in or the session expired."),
                minutes=th.SESSION_MIN_REMAINING_S // 60, skew=th.CLOCK_SKEW_WARN_S), cli=True),
    CheckSpec("upstream", N_("Voice service (server ↔ AI)"),
              t(N_("Pass: the server's realtime configuration is sane and a live handshake gets session.created "
                   "within {pass_ms} ms; warn up to {warn_ms} ms or on a configuration warning; fail on an error."),
                pass_ms=th.UPSTREAM_PASS_MS, warn_ms=th.UPSTREAM_WARN_MS),
              kind="server", needs_login=True, cli=True),
    CheckSpec("mic_permission", N_("Microphone permission"),
              t(N_("Pass: the browser grants microphone access; fail when getUserMedia is refused; warn when the "
                   "prompt is not answered within {seconds} s."), seconds=th.MIC_PROMPT_TIMEOUT_MS // 1000)),
    CheckSpec("audio_devices", N_("Audio input devices"),
              t(N_("Pass: at least one microphone with a name; warn when names are hidden; fail when there is none."))),
    CheckSpec("mic_level", N_("Microphone level"),
              t(N_("Over {seconds} s: pass when the level is above {quiet} dBFS without clipping; warn when too quiet, "
                   "flat or clipping (> {clip} full-scale samples in a row); fail on digital silence or a muted "
                   "track."), seconds=th.MIC_LEVEL_SECONDS, quiet=int(th.MIC_QUIET_DBFS), clip=th.MIC_CLIP_RUN)),
    CheckSpec("speaker", N_("Speaker"),
              t(N_("A short tone plays; pass when you confirm you heard it, fail when you did not."))),
    CheckSpec("ice", N_("Network candidates (ICE)"),
              t(N_("Pass: candidates gathered, and each configured STUN/TURN server answers (server-reflexive / "
                   "relay candidate); warn when a server does not answer; fail when no candidate is gathered.")),
              needs_login=True, needs_calls=True),
    CheckSpec("signalling", N_("Call set-up (offer → answer)"),
              t(N_("Pass: the server answers the WebRTC offer within {pass_ms} ms; warn up to {fail_ms} ms; fail on "
                   "an error or no answer."), pass_ms=th.SIGNAL_PASS_MS, fail_ms=th.SIGNAL_FAIL_MS),
              needs_login=True, needs_calls=True, cli=True),
    CheckSpec("media_path", N_("Media path to the server"),
              t(N_("Pass: connected within {pass_ms} ms over UDP directly; warn when relayed (TURN), over TCP, or "
                   "slower; fail when not connected within {fail_ms} ms."),
                pass_ms=th.CONNECT_PASS_MS, fail_ms=th.CONNECT_FAIL_MS),
              needs_login=True, needs_calls=True, cli=True),
    CheckSpec("echo", N_("End-to-end round trip"),
              t(N_("A test sound goes through the server and back (echo mode) or the AI answers a request; pass when "
                   "the reply is heard within {pass_ms} ms, warn up to {fail_ms} ms, fail when nothing comes back."),
                pass_ms=th.ROUND_TRIP_PASS_MS, fail_ms=th.ROUND_TRIP_FAIL_MS),
              needs_login=True, needs_calls=True, cli=True),
    CheckSpec("rtt", N_("Round-trip time"),
              t(N_("Median of 1 s samples: pass below {pass_ms} ms; fail above {fail_ms} ms in {n} or more samples; "
                   "warn in between."), pass_ms=th.RTT_PASS_MS, fail_ms=th.RTT_FAIL_MS, n=th.BAD_SAMPLES),
              needs_login=True, needs_calls=True, cli=True),
    CheckSpec("jitter", N_("Jitter"),
              t(N_("Median: pass below {pass_ms} ms; fail above {fail_ms} ms in {n} or more samples; warn in "
                   "between."), pass_ms=th.JITTER_PASS_MS, fail_ms=th.JITTER_FAIL_MS, n=th.BAD_SAMPLES),
              needs_login=True, needs_calls=True, cli=True),
    CheckSpec("packet_loss", N_("Packet loss"),
              t(N_("Average: pass below {pass_pct} %; warn below {fail_pct} %; fail at {fail_pct} % or more."),
                pass_pct=th.LOSS_PASS_PCT, fail_pct=th.LOSS_FAIL_PCT),
              needs_login=True, needs_calls=True, cli=True),
    CheckSpec("bitrate", N_("Available bandwidth"),
              t(N_("Estimated outgoing bandwidth: pass at {pass_kbps} kbps or more; warn from {fail_kbps} kbps; fail "
                   "below {fail_kbps} kbps."), pass_kbps=th.BITRATE_PASS_KBPS, fail_kbps=th.BITRATE_FAIL_KBPS),
              needs_login=True, needs_calls=True),
    CheckSpec("mos", N_("Estimated call quality (MOS)"),
              t(N_("MOS from RTT, jitter and loss (E-model): pass at {pass_mos} or more; warn from {fail_mos}; fail "
                   "below {fail_mos}."), pass_mos=th.MOS_PASS, fail_mos=th.MOS_FAIL),
              needs_login=True, needs_calls=True, cli=True),
    CheckSpec("server_view", N_("The server's view of the call"),
              t(N_("The same call as the server sees it (candidate pair, RTT, loss): pass when the server sees it "
                   "connected with RTT and loss within the limits above.")),
              kind="server", needs_login=True, needs_calls=True, cli=True),
    CheckSpec("websocket", N_("WebSocket connection"),
              t(N_("Pass: a WebSocket to /v1/realtime opens and the session starts within {pass_ms} ms; warn up to "
                   "{fail_ms} ms; fail when it is blocked."),
                pass_ms=th.WEBSOCKET_PASS_MS, fail_ms=th.WEBSOCKET_FAIL_MS), needs_login=True, cli=True),
    # diagnose --local only
    CheckSpec("database", N_("Database"), t(N_("Pass: the database answers a query within 2 s.")), kind="local"),
    CheckSpec("log_queue", N_("Log queue"),
              t(N_("Pass: the log writer is running and no record was dropped; warn when records were dropped.")),
              kind="local"),
    CheckSpec("event_loop", N_("Event-loop lag"),
              t(N_("Pass: lag below {warn_ms} ms; warn below {fail_ms} ms; fail above."),
                warn_ms=th.LOOP_LAG_WARN_MS, fail_ms=th.LOOP_LAG_FAIL_MS), kind="local"),
    CheckSpec("upstream_config", N_("Voice service configuration"),
              t(N_("Pass: the selected upstream has every AZURE_OPENAI_REALTIME_* / OPENAI_* setting it needs and no "
                   "warning (such as a model version used as api-version).")), kind="local"),
)

BY_ID: dict[str, CheckSpec] = {spec.id: spec for spec in CHECKS}
PAGE_CHECKS: tuple[CheckSpec, ...] = tuple(spec for spec in CHECKS if spec.kind != "local")
CALL_CHECKS = ("signalling", "media_path", "echo", "rtt", "jitter", "packet_loss", "bitrate", "mos", "server_view")

# The predecessor's troubleshooting guide, one failure mode per line, and the check that now catches it.
FAILURE_MODES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (N_("The service is down"), ("server_health", "readiness")),
    (N_("Not signed in"), ("session",)),
    (N_("Session expired or invalid"), ("session",)),
    (N_("Upstream credentials wrong"), ("upstream",)),
    (N_("Upstream unreachable"), ("upstream",)),
    (N_("WebSocket or UDP blocked by a firewall or proxy"), ("websocket", "ice", "media_path")),
    (N_("Microphone blocked or missing"), ("mic_permission", "audio_devices", "mic_level")),
    (N_("Unsupported browser"), ("browser", "secure_context")),
)
