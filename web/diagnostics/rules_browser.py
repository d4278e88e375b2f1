"""Verdicts for what the browser itself can do: secure context, APIs, microphone permission, devices, level, speaker.

Each function takes the values the page measured (see web/static/diagnostics.js) and returns a `CheckResult`.
"""

from __future__ import annotations

import math

from web.diagnostics import thresholds as th
from web.diagnostics.model import FAIL, PASS, SKIP, WARN, CheckResult
from web.diagnostics.text import Text, t
from web.diagnostics.useragent import UserAgent
from web.diagnostics.values import Values
from web.i18n import N_

# the same advice the echo row gives (defined here: the browser rules come first)
AUDIO_OUTPUT = t(N_("This browser's audio engine did not start (AudioContext {state}), so nothing can be played or "
                    "measured: check that a speaker or headset is connected and selected as the output device, "
                    "allow sound for this site, then run the checks again."))
FEATURES = ("RTCPeerConnection", "getUserMedia", "AudioWorklet", "WebSocket")
USE_HTTPS = t(N_("Open this page over https:// (or http://localhost on the server itself). Browsers only allow the "
                 "microphone on secure pages."))
UPDATE_BROWSER = t(N_("Use a supported browser and keep it updated: Chrome or Edge {chrome}+, Firefox {firefox}+, "
                      "Safari {safari}+."), chrome=80, firefox=76, safari="14.1")

# getUserMedia error name → advice (reference §6); legacy Chrome names map onto the standard ones.
_LEGACY = {"PermissionDeniedError": "NotAllowedError", "DevicesNotFoundError": "NotFoundError",
           "TrackStartError": "NotReadableError", "ConstraintNotSatisfiedError": "OverconstrainedError"}
_GUM_ADVICE: dict[str, Text] = {
    "NotAllowedError": t(N_("Microphone blocked. Click the lock or site-settings icon next to the address, set "
                            "Microphone to Allow, then reload this page.")),
    "NotFoundError": t(N_("No microphone found. Plug in or enable a microphone (check the system sound settings), "
                          "then retry.")),
    "NotReadableError": t(N_("The microphone is busy or failed to start. Close other apps using it (Teams, Zoom, "
                             "other tabs), reconnect the headset, then retry.")),
    "AbortError": t(N_("The microphone stopped unexpectedly. Retry; if it keeps happening, restart the browser.")),
    "OverconstrainedError": t(N_("The selected microphone is unavailable. Pick another microphone and retry.")),
    "SecurityError": t(N_("Your browser or administrator has disabled microphone access for this page.")),
    "TypeError": USE_HTTPS,
}
_BY_SYSTEM = t(N_("The operating system blocks the browser: allow it under macOS System Settings → Privacy & "
                  "Security → Microphone, or Windows Settings → Privacy → Microphone."))
_PROMPT = t(N_("Look for the microphone permission prompt near the address bar and choose Allow."))


def secure_context(v: Values) -> CheckResult:
    secure = v.flag("secure")
    if secure is None:
        return CheckResult("secure_context", SKIP, t(N_("not measured")))
    origin = v.text("origin", limit=120)
    if secure:
        return CheckResult("secure_context", PASS, t(N_("secure ({origin})"), origin=origin), data={"origin": origin})
    return CheckResult("secure_context", FAIL, t(N_("not secure ({origin})"), origin=origin), (USE_HTTPS,),
                       {"origin": origin})


def browser(v: Values, ua: UserAgent) -> CheckResult:
    features = v.sub("features")
    missing = [name for name in FEATURES if features.flag(name) is not True]
    data = {"browser": ua.browser_label(), "os": ua.os_label(), "missing": missing}
    label = t(N_("{browser} on {os}"), browser=ua.browser_label(), os=ua.os_label())
    if ua.is_internet_explorer:
        return CheckResult("browser", FAIL, t(N_("Internet Explorer is not supported")), (UPDATE_BROWSER,), data)
    if missing:
        value = t(N_("{browser}: missing {features}"), browser=ua.browser_label(), features=", ".join(missing))
        fixes = [UPDATE_BROWSER] + ([USE_HTTPS] if "getUserMedia" in missing else [])
        return CheckResult("browser", FAIL, value, tuple(fixes), data)
    version = ua.version_tuple()
    baseline = th.BROWSER_BASELINE.get(ua.browser)
    if baseline and version and version < baseline:
        return CheckResult("browser", WARN, t(N_("{browser}: older than the tested versions"),
                                              browser=ua.browser_label()), (UPDATE_BROWSER,), data)
    if ua.browser == "Firefox" and version and version < th.FIREFOX_CONNECTION_STATE:
        return CheckResult("browser", WARN, t(N_("{browser}: works, but Firefox {v}+ is preferred"),
                                              browser=ua.browser_label(), v=th.FIREFOX_CONNECTION_STATE[0]),
                           (UPDATE_BROWSER,), data)
    return CheckResult("browser", PASS, label, data=data)


def gum_advice(error_name: str, message: str = "") -> tuple[Text, ...]:
    name = _LEGACY.get(error_name, error_name)
    advice = _GUM_ADVICE.get(name, t(N_("The microphone could not be opened ({name}). Retry, or try another "
                                        "browser."), name=error_name or "?"))
    if name == "NotAllowedError" and "system" in message.lower():
        return (_BY_SYSTEM, advice)
    return (advice,)


def mic_permission(v: Values) -> CheckResult:
    outcome = v.text("outcome")
    state = v.text("state", "unknown", 20)
    data = {"state": state, "outcome": outcome, "error": v.text("error_name", limit=60),
            "message": v.text("error_message", limit=200), "waited_ms": v.integer("waited_ms")}
    if outcome == "ok":
        return CheckResult("mic_permission", PASS, t(N_("granted")), data=data)
    if outcome == "timeout":
        return CheckResult("mic_permission", WARN, t(N_("no answer to the permission prompt after {s} s"),
                                                      s=th.MIC_PROMPT_TIMEOUT_MS // 1000), (_PROMPT,), data)
    if outcome == "error":
        name = str(data["error"]) or "Error"
        fixes = gum_advice(name, str(data["message"]))
        standard = _LEGACY.get(name, name)
        if standard == "NotFoundError":  # nothing was refused: there is no microphone to ask for
            value = t(N_("no microphone found ({name})"), name=name)
        elif standard in ("NotReadableError", "AbortError", "OverconstrainedError"):
            value = t(N_("the microphone did not start ({name})"), name=name)
        else:
            value = t(N_("refused: {name}"), name=name)
        return CheckResult("mic_permission", FAIL, value, fixes, data)
    return CheckResult("mic_permission", SKIP, t(N_("not measured")), data=data)


def audio_devices(v: Values) -> CheckResult:
    inputs, labelled = v.integer("inputs"), v.integer("labelled") or 0
    data = {"inputs": inputs, "labelled": labelled}
    if inputs is None:
        return CheckResult("audio_devices", SKIP, t(N_("not measured")), data=data)
    if inputs <= 0:
        return CheckResult("audio_devices", FAIL, t(N_("no microphone")), (_GUM_ADVICE["NotFoundError"],), data)
    if labelled <= 0:
        return CheckResult("audio_devices", WARN, t(N_("{n} input(s), names hidden"), n=inputs),
                           (t(N_("Allow microphone access so the browser shows the device names.")),), data)
    return CheckResult("audio_devices", PASS, t(N_("{n} input(s)"), n=inputs), data=data)


def dbfs(rms: float) -> float:
    return round(20 * math.log10(rms), 1) if rms > 0 else -math.inf


def mic_level(v: Values) -> CheckResult:
    rms, peak = v.num("rms"), v.num("peak")
    mean, stddev = v.num("level_mean"), v.num("level_stddev")
    clip_run = v.integer("max_clip_run") or 0
    data = {"rms": rms, "peak": peak, "level_mean": mean, "level_stddev": stddev, "max_clip_run": clip_run,
            "track": v.text("track_state", limit=20), "muted": v.flag("muted")}
    context = v.text("context_state", limit=20)
    if context and context != "running":  # the analyser reads zeros: nothing was measured, the mic is not at fault
        data["context_state"] = context
        return CheckResult("mic_level", FAIL, t(N_("not measured: the browser's audio engine is {state}"),
                                                state=context), (AUDIO_OUTPUT.with_params(state=context),), data)
    if rms is None or peak is None:
        return CheckResult("mic_level", SKIP, t(N_("not measured")), data=data)
    level = dbfs(rms)
    data["rms_dbfs"] = level if math.isfinite(level) else None
    params = {"db": level if math.isfinite(level) else "-∞", "peak": round(peak * 100)}
    shown = t(N_("{db} dBFS (peak {peak} %)"), **params)
    speak = t(N_("Speak while the level is measured; check the microphone is not muted (hardware switch, system "
                 "settings) and is the one selected."))
    if v.flag("muted") or data["track"] == "ended":
        return CheckResult("mic_level", FAIL, t(N_("the microphone track is muted or ended")), (speak,), data)
    if peak < th.DIGITAL_SILENCE:
        return CheckResult("mic_level", FAIL, t(N_("digital silence")), (speak,), data)
    if clip_run > th.MIC_CLIP_RUN:
        return CheckResult("mic_level", WARN, t(N_("{db} dBFS (peak {peak} %), clipping"), **params),
                           (t(N_("The input is too loud and distorts: lower the microphone gain or move it away "
                                 "from your mouth.")),), data)
    flat = mean is not None and stddev is not None and mean <= th.MIC_FLAT_FRACTION and stddev <= th.MIC_FLAT_FRACTION
    if level < th.MIC_QUIET_DBFS or flat:
        return CheckResult("mic_level", WARN, t(N_("{db} dBFS (peak {peak} %), too quiet"), **params), (speak,), data)
    return CheckResult("mic_level", PASS, shown, data=data)


def speaker(v: Values) -> CheckResult:
    answer = v.text("answer", limit=20)
    data = {"answer": answer, "context_state": v.text("context_state", limit=20),
            "sink_selectable": v.flag("sink_selectable")}
    if answer == "heard":
        return CheckResult("speaker", PASS, t(N_("you heard the tone")), data=data)
    if answer == "not_heard":
        return CheckResult("speaker", FAIL, t(N_("you heard nothing")),
                           (t(N_("Turn the volume up, unmute this tab and the system output, and check the right "
                                 "speaker or headset is selected.")),), data)
    if data["context_state"] == "suspended":
        return CheckResult("speaker", WARN, t(N_("audio is blocked until you click the page")),
                           (t(N_("Click anywhere on the page, then run this check again.")),), data)
    return CheckResult("speaker", SKIP, t(N_("waiting for your answer")), data=data)
