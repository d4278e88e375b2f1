// The voice panel: microphone → WebRTC call to /v1/realtime/calls → the reply plays through an <audio> element.
// No framework, no inline code (CSP script-src 'self'). Every user-visible sentence comes from a data-t-* attribute
// of the panel, rendered (and translated) by the server, so this file holds no user-facing text.
"use strict";

const panel = document.getElementById("voice-panel");
const RECONNECT_DELAYS_MS = [0, 300, 1200, 2700, 4800]; // then every 7 s
const RECONNECT_EVERY_MS = 7000;
const CONNECT_TIMEOUT_MS = 10000;
const PROMPT_HINT_MS = 10000;
const GATHER_WAIT_MS = 2000;
const RELAY_QUIET_MS = 300; // with a relay candidate gathered: how long without a new candidate ends the wait
const PING_EVERY_MS = 1000;
const SILENCE_LIMIT_MS = 3000;
const CONFIG_MAX_AGE_MS = 30000; // the config carries TURN credentials that expire (RTC_TURN_TTL_S ≥ 60 s): refetch

const $ = (id) => document.getElementById(id);
const t = (key) => panel.dataset["t" + key.charAt(0).toUpperCase() + key.slice(1)] || key;
const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

const ui = {
  start: $("voice-start"), stop: $("voice-stop"), status: $("voice-status"), message: $("voice-message"),
  transcript: $("voice-transcript"), wave: $("voice-wave"), audio: $("voice-audio"),
};

// mic: the MediaStream (kept across reconnects); pc/dc: the current peer connection and its oai-events channel;
// location_: the current call's URL (for DELETE); active: the user wants a call; attempt: reconnects since the last
// good connection; config: the ICE servers (a promise); waveStop: stops the waveform.
let mic = null, pc = null, dc = null, location_ = null, active = false, attempt = 0, config = null, waveStop = null;
let configAt = 0; // when `config` was fetched (performance.now())
let timers = [], lastHeard = 0;

function setState(state, text, tone) {
  panel.dataset.state = state;
  ui.status.textContent = text;
  ui.status.className = "badge " + (tone || "badge-muted");
}

function showMessage(text, withLogin) {
  ui.message.textContent = text;
  if (withLogin) {
    const link = document.createElement("a");
    link.href = panel.dataset.loginUrl;
    link.textContent = t("signIn");
    ui.message.append(" ", link);
  }
  ui.message.hidden = false;
}

const clearMessage = () => { ui.message.hidden = true; ui.message.textContent = ""; };
const later = (fn, ms) => timers.push(setTimeout(fn, ms));
const clearTimers = () => { timers.forEach(clearTimeout); timers = []; };

// --- microphone -------------------------------------------------------------------------------------------------
function micAdvice(error) {
  if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return t("micInsecure");
  const name = error && error.name;
  if (name === "NotAllowedError" || name === "PermissionDeniedError") {
    return /system/i.test(String(error.message)) ? t("micBlockedSystem") : t("micDenied");
  }
  if (name === "NotFoundError" || name === "DevicesNotFoundError") return t("micMissing");
  if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError") return t("micBusy");
  if (name === "OverconstrainedError" || name === "ConstraintNotSatisfiedError") return t("micUnavailable");
  if (name === "SecurityError") return t("micDisabled");
  if (name === "TypeError") return t("micInsecure");
  return t("micFailed");
}

async function openMic() {
  if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw { name: "TypeError" };
  }
  const hint = setTimeout(() => showMessage(t("micPrompt")), PROMPT_HINT_MS);
  try {
    const constraints = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
    try {
      return await navigator.mediaDevices.getUserMedia({ audio: constraints });
    } catch (error) {
      if (error && error.name === "OverconstrainedError") return await navigator.mediaDevices.getUserMedia({ audio: true });
      throw error;
    }
  } finally {
    clearTimeout(hint);
  }
}

function drawWave(stream) {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx || !ui.wave.getContext) return () => {};
  const audio = new Ctx();
  const analyser = audio.createAnalyser();
  analyser.fftSize = 1024;
  audio.createMediaStreamSource(stream).connect(analyser);
  const data = new Uint8Array(analyser.fftSize);
  const g = ui.wave.getContext("2d");
  let frame = 0;
  ui.wave.hidden = false;
  const draw = () => {
    analyser.getByteTimeDomainData(data);
    const w = ui.wave.width, h = ui.wave.height;
    g.clearRect(0, 0, w, h);
    g.lineWidth = 2;
    g.strokeStyle = getComputedStyle(ui.wave).color;
    g.beginPath();
    for (let i = 0; i < data.length; i++) {
      const x = (i / (data.length - 1)) * w, y = (data[i] / 255) * h;
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    }
    g.stroke();
    frame = requestAnimationFrame(draw);
  };
  draw();
  return () => { cancelAnimationFrame(frame); audio.close(); ui.wave.hidden = true; };
}

// --- transcript -------------------------------------------------------------------------------------------------
function line(key, who) {
  let item = ui.transcript.querySelector(`[data-key="${CSS.escape(key)}"]`);
  if (!item) {
    item = document.createElement("li");
    item.dataset.key = key;
    item.className = "turn turn-" + who;
    const label = document.createElement("span");
    label.className = "who";
    label.textContent = who === "user" ? t("you") : t("assistant");
    const text = document.createElement("span");
    text.className = "text";
    item.append(label, text);
    ui.transcript.append(item);
  }
  return item.querySelector(".text");
}

function onEvent(event) {
  lastHeard = Date.now();
  switch (event.type) {
    case "conversation.item.input_audio_transcription.delta":
      line("u" + event.item_id, "user").textContent += event.delta || ""; break;
    case "conversation.item.input_audio_transcription.completed":
      line("u" + event.item_id, "user").textContent = event.transcript || ""; break;
    case "response.output_audio_transcript.delta": case "response.output_text.delta":
      line("a" + event.item_id, "assistant").textContent += event.delta || ""; break;
    case "response.output_audio_transcript.done":
      line("a" + event.item_id, "assistant").textContent = event.transcript || ""; break;
    case "response.output_text.done":
      line("a" + event.item_id, "assistant").textContent = event.text || ""; break;
    case "error": {
      const error = event.error || {};
      if (error.code === "session_revoked") { stop(false); showMessage(t("authFailed"), true); return; }
      if (error.code === "quota_exceeded") { stop(false); showMessage(error.message); return; }
      if (error.message && (event.error.type === "server_error" || String(error.code).startsWith("upstream") || String(error.code).startsWith("quota"))) {
        showMessage(error.message);
      }
      break;
    }
    default: break;
  }
}

// --- the call ---------------------------------------------------------------------------------------------------
function loadConfig() {
  if (!config || performance.now() - configAt > CONFIG_MAX_AGE_MS) {
    configAt = performance.now();
    config = fetch(panel.dataset.configUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(async (response) => {
        if (response.status === 401) throw { status: 401, body: await response.json().catch(() => ({})) };
        return response.ok ? response.json() : { iceServers: [] };
      })
      .catch((error) => { config = null; throw error; });
  }
  return config;
}

function gathered(peer) {
  if (peer.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (peer.iceGatheringState === "complete") resolve(); };
    peer.addEventListener("icegatheringstatechange", done);
    // Once a TURN relay candidate is in, the offer can always connect: stop waiting soon after the last candidate
    // instead of for TURN/STUN attempts a firewall swallows (they hold gathering open for seconds, and on a network
    // that allows only TCP 443 the whole GATHER_WAIT_MS would bring WebRTC close to the WebSocket fallback).
    let quiet = null;
    peer.addEventListener("icecandidate", (e) => {
      if (!e.candidate || !/ typ relay /.test(e.candidate.candidate) && !quiet) return;
      clearTimeout(quiet);
      quiet = setTimeout(resolve, RELAY_QUIET_MS);
    });
    setTimeout(resolve, GATHER_WAIT_MS); // aiortc needs the candidates in the offer (no trickle ICE)
  });
}

function teardown() {
  clearTimers();
  if (location_) hangUp(location_); // first, so the server hears "hang up" rather than "peer vanished"
  if (dc) { dc.onclose = null; dc.onmessage = null; try { dc.close(); } catch (e) { /* already closed */ } }
  if (pc) { pc.onconnectionstatechange = null; pc.close(); }
  pc = dc = location_ = null;
  delete panel.dataset.callUrl; // voice-camera.js posts photos to the current call
}

function hangUp(url) {
  fetch(url, { method: "DELETE", credentials: "same-origin", headers: { "X-CSRF-Token": csrf() } }).catch(() => {});
}

function lost() {
  if (!active) return;
  teardown();
  setState("reconnecting", t("reconnecting"), "badge-warn");
  const delay = attempt < RECONNECT_DELAYS_MS.length ? RECONNECT_DELAYS_MS[attempt] : RECONNECT_EVERY_MS;
  attempt += 1;
  later(connect, delay);
}

async function connect() {
  if (!active) return;
  if (attempt === 0) setState("connecting", t("connecting"), "badge-warn");
  let peer;
  try {
    const { iceServers } = await loadConfig();
    peer = pc = new RTCPeerConnection({ iceServers: iceServers || [] });
    mic.getAudioTracks().forEach((track) => peer.addTrack(track, mic));
    peer.ontrack = (e) => {
      ui.audio.srcObject = e.streams[0] || new MediaStream([e.track]);
      ui.audio.play().catch(() => {});
    };
    dc = peer.createDataChannel("oai-events");
    dc.onmessage = (e) => { try { onEvent(JSON.parse(e.data)); } catch (err) { /* not JSON: ignore */ } };
    dc.onclose = () => { if (pc === peer) lost(); };
    peer.onconnectionstatechange = () => {
      if (pc !== peer) return;
      if (peer.connectionState === "connected") connected(peer);
      else if (peer.connectionState === "failed" || peer.connectionState === "closed") lost();
    };
    later(() => { if (pc === peer && peer.connectionState !== "connected") { showMessage(t("timeout")); lost(); } },
      CONNECT_TIMEOUT_MS);
    await peer.setLocalDescription(await peer.createOffer());
    await gathered(peer);
    if (pc !== peer) return;
    const response = await fetch(panel.dataset.callsUrl, {
      method: "POST", credentials: "same-origin", body: peer.localDescription.sdp,
      headers: { "Content-Type": "application/sdp", "X-CSRF-Token": csrf() },
    });
    if (pc !== peer) { if (response.ok) hangUp(response.headers.get("Location")); return; }
    if (!response.ok) throw { status: response.status, body: await response.json().catch(() => ({})) };
    location_ = response.headers.get("Location");
    panel.dataset.callUrl = location_;
    await peer.setRemoteDescription({ type: "answer", sdp: await response.text() });
  } catch (error) {
    if (pc !== peer && peer) return;
    failed(error);
  }
}

function failed(error) {
  const status = error && error.status;
  const body = (error && error.body && error.body.error) || {};
  if (status === 401) {
    stop(false);
    // the server knows which: a cookie that no longer names a live session, or no sign-in at all
    showMessage(body.code === "session_expired" ? t("authFailed") : t("loginRequired"), true);
    return;
  }
  if (status === 429 && body.code === "quota_exceeded") { stop(false); showMessage(body.message); return; }
  if (status === 400 || status === 403 || status === 415) { stop(false); showMessage(body.message || t("failed")); return; }
  if (body.message) showMessage(body.message);
  lost(); // 429/502/503/504 and network errors: retry with backoff
}

function connected(peer) {
  attempt = 0;
  clearTimers();
  clearMessage();
  setState("connected", t("connected"), "badge-ok");
  lastHeard = Date.now();
  const tick = () => {
    if (pc !== peer) return;
    if (Date.now() - lastHeard > SILENCE_LIMIT_MS) { lost(); return; }
    if (dc && dc.readyState === "open") dc.send(JSON.stringify({ type: "gateway.ping", id: Date.now() }));
    later(tick, PING_EVERY_MS);
  };
  later(tick, PING_EVERY_MS);
}

async function start() {
  if (active) return;
  clearMessage();
  ui.start.disabled = true;
  try {
    mic = await openMic();
  } catch (error) {
    ui.start.disabled = false;
    setState("error", t("idle"), "badge-bad");
    showMessage(micAdvice(error));
    return;
  }
  active = true;
  attempt = 0;
  ui.stop.disabled = false;
  connect(); // runs up to its first await; the waveform can start after that
  waveStop = drawWave(mic);
}

function stop(resetBadge = true) {
  active = false;
  teardown();
  if (waveStop) { waveStop(); waveStop = null; }
  if (mic) { mic.getTracks().forEach((track) => track.stop()); mic = null; }
  ui.audio.srcObject = null;
  ui.start.disabled = false;
  ui.stop.disabled = true;
  if (resetBadge) setState("idle", t("idle"), "badge-muted");
  else setState("error", t("idle"), "badge-bad");
}

if (panel) {
  loadConfig().catch(() => {}); // fetched ahead of the click; a failure is retried when the call starts
  ui.start.addEventListener("click", start);
  ui.stop.addEventListener("click", () => stop(true));
  window.addEventListener("pagehide", () => { if (location_) hangUp(location_); });
}
