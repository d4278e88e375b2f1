// The voice panel's WebSocket transport (GET /v1/realtime, GA Realtime events), used when the user picks it in the
// panel's connection settings, or automatically when a WebRTC call has not connected within FALLBACK_MS (ICE failed,
// UDP blocked). It works beside voice.js through the panel's DOM contract only: it intercepts the start/stop clicks
// when it owns the call, watches data-state for the WebRTC outcome, and hands over by pressing stop. Audio: the mic
// through the pcm-capture AudioWorklet (24 kHz PCM16 appends), the reply through pcm-playback (jitter buffer,
// cleared at once on barge-in). All user-facing text comes from data-t-* attributes rendered by the server.
"use strict";

const panel = document.getElementById("voice-panel");
const box = document.getElementById("voice-transport");
const FALLBACK_MS = 4000;
const CONNECT_TIMEOUT_MS = 10000;
const RECONNECT_DELAYS_MS = [0, 300, 1200, 2700, 4800]; // then every 7 s, as voice.js does
const RECONNECT_EVERY_MS = 7000;
const SEND_BUFFER_LIMIT = 256 * 1024; // ~2.7 s of audio not yet on the wire: drop the mic rather than queue more
const STALL_CHECKS = 3; // seconds the send buffer may stay over the limit before the socket counts as lost
const PREF_KEY = "voice.transport";
const LAST_KEY = "voice.transport.last"; // which transport last connected (for support and diagnostics)

const $ = (id) => document.getElementById(id);
const t = (key) => {
  const name = "t" + key.charAt(0).toUpperCase() + key.slice(1);
  return (box && box.dataset[name]) || panel.dataset[name] || key;
};
const ui = { start: $("voice-start"), stop: $("voice-stop"), status: $("voice-status"), message: $("voice-message"),
  transcript: $("voice-transcript"), wave: $("voice-wave"), choice: $("voice-transport-choice") };

const s = { active: false, sock: null, ready: false, opened: false, attempt: 0, timers: [], stall: 0,
  ctx: null, primed: null, mic: null, nodes: [], playback: null, analyser: null, frame: 0,
  posted: 0, cur: null, muted: null, report: { played: 0, peak: 0, level: 0, buffered: 0, underruns: 0 } };
let watch = null; // the auto-mode watcher of a WebRTC attempt

function pref() { try { return localStorage.getItem(PREF_KEY) || "auto"; } catch (e) { return "auto"; } }
function remember(key, value) { try { localStorage.setItem(key, value); } catch (e) { /* private mode */ } }
function later(fn, ms) { const id = setTimeout(fn, ms); s.timers.push(id); return id; }
function clearTimers() { s.timers.forEach(clearTimeout); s.timers = []; }

function setState(state, text, tone) {
  panel.dataset.state = state;
  ui.status.textContent = text;
  ui.status.className = "badge " + (tone || "badge-muted");
}
function showMessage(text, withLogin) {
  ui.message.textContent = text;
  if (withLogin) ui.message.append(" ", Object.assign(document.createElement("a"), { href: panel.dataset.loginUrl,
    textContent: t("signIn") }));
  ui.message.hidden = false;
}
function clearMessage() { ui.message.hidden = true; ui.message.textContent = ""; }

const MIC_ADVICE = { NotAllowedError: "micDenied", NotFoundError: "micMissing", NotReadableError: "micBusy",
  AbortError: "micBusy", OverconstrainedError: "micUnavailable", SecurityError: "micDisabled" };
function micAdvice(error) { // the same advice as voice.js gives (shared/reference/diagnostics.md §5)
  const name = error && error.name;
  if (!window.isSecureContext || !navigator.mediaDevices) return t("micInsecure");
  if (name === "NotAllowedError" && /system/i.test(String(error.message))) return t("micBlockedSystem");
  return t(MIC_ADVICE[name] || "micFailed");
}

// --- audio ------------------------------------------------------------------------------------------------------
function newContext() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  return new Ctx({ latencyHint: "interactive" });
}

async function openAudio() {
  const ctx = s.ctx = s.primed || newContext(); // created during the click, so autoplay rules let it run
  s.primed = null;
  await ctx.resume();
  await ctx.audioWorklet.addModule(box.dataset.workletUrl);
  const audio = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
  s.mic = await navigator.mediaDevices.getUserMedia({ audio });
  const source = ctx.createMediaStreamSource(s.mic);
  const capture = new AudioWorkletNode(ctx, "pcm-capture", { numberOfInputs: 1, numberOfOutputs: 0 });
  capture.port.onmessage = (e) => sendPcm(e.data);
  source.connect(capture);
  const playback = s.playback = new AudioWorkletNode(ctx, "pcm-playback", { numberOfInputs: 0, numberOfOutputs: 1,
    outputChannelCount: [1], processorOptions: { prebufferMs: 80 } });
  playback.port.onmessage = (e) => { s.report = e.data; };
  playback.connect(ctx.destination);
  s.analyser = ctx.createAnalyser(); // what reaches the speakers, for the tests' level probe
  playback.connect(s.analyser);
  const micAnalyser = ctx.createAnalyser();
  source.connect(micAnalyser);
  s.nodes = [source, capture, playback, s.analyser, micAnalyser];
  drawWave(micAnalyser);
}

function drawWave(analyser) { // the microphone's waveform, drawn as voice.js draws it for WebRTC calls
  if (!ui.wave.getContext) return;
  const data = new Uint8Array(analyser.fftSize), g = ui.wave.getContext("2d"), w = ui.wave.width, h = ui.wave.height;
  ui.wave.hidden = false;
  const draw = () => {
    analyser.getByteTimeDomainData(data);
    g.clearRect(0, 0, w, h);
    Object.assign(g, { lineWidth: 2, strokeStyle: getComputedStyle(ui.wave).color });
    g.beginPath();
    data.forEach((v, i) => g.lineTo((i / (data.length - 1)) * w, (v / 255) * h));
    g.stroke();
    s.frame = requestAnimationFrame(draw);
  };
  draw();
}

function closeAudio() {
  cancelAnimationFrame(s.frame);
  ui.wave.hidden = true;
  s.nodes.forEach((node) => node.disconnect());
  s.nodes = [];
  if (s.mic) s.mic.getTracks().forEach((track) => track.stop());
  if (s.ctx) s.ctx.close().catch(() => {});
  s.mic = s.ctx = s.playback = s.analyser = null;
}

function outputLevel() { // RMS at the output right now (the tests' probe)
  const buf = new Float32Array(s.analyser ? s.analyser.fftSize : 1);
  if (s.analyser) s.analyser.getFloatTimeDomainData(buf);
  return Math.sqrt(buf.reduce((sum, v) => sum + v * v, 0) / buf.length);
}

function sendPcm(pcm) {
  const sock = s.sock;
  if (!s.ready || !sock || sock.readyState !== WebSocket.OPEN || sock.bufferedAmount > SEND_BUFFER_LIMIT) return;
  const bytes = new Uint8Array(pcm.buffer);
  let bin = "";
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
  sock.send(JSON.stringify({ type: "input_audio_buffer.append", audio: btoa(bin) }));
}

function play(event) {
  if (!s.playback || event.item_id === s.muted) return;
  const bin = atob(event.delta || "");
  const pcm = new Int16Array(bin.length >> 1);
  const bytes = new Uint8Array(pcm.buffer);
  for (let i = 0; i < bytes.length; i++) bytes[i] = bin.charCodeAt(i);
  if (!s.cur || s.cur.item !== event.item_id) s.cur = { item: event.item_id, start: s.posted, received: 0 };
  s.cur.received += pcm.length;
  s.posted += pcm.length;
  s.playback.port.postMessage(pcm, [pcm.buffer]);
}

function bargeIn() { // the user spoke over the reply: drop what is queued at once, tell the server what was heard
  const cur = s.cur;
  if (s.playback) s.playback.port.postMessage("clear");
  s.posted = s.report.played;
  s.cur = null;
  if (!cur) return;
  const heard = Math.max(0, Math.min(cur.received, s.report.played - cur.start));
  s.muted = cur.item;
  if (heard < cur.received) send({ type: "conversation.item.truncate", item_id: cur.item, content_index: 0,
    audio_end_ms: Math.floor(heard / 24) });
}

// --- events -----------------------------------------------------------------------------------------------------
function send(event) { if (s.sock && s.sock.readyState === WebSocket.OPEN) s.sock.send(JSON.stringify(event)); }

function line(key, who) { // the same transcript markup as voice.js, so both transports can share one transcript
  let item = ui.transcript.querySelector(`[data-key="${CSS.escape(key)}"]`);
  if (!item) {
    item = Object.assign(document.createElement("li"), { className: "turn turn-" + who });
    item.dataset.key = key;
    item.append(Object.assign(document.createElement("span"), { className: "who",
      textContent: who === "user" ? t("you") : t("assistant") }), Object.assign(document.createElement("span"),
      { className: "text" }));
    ui.transcript.append(item);
  }
  return item.querySelector(".text");
}

function onEvent(e) {
  switch (e.type) {
    case "session.created": connected(); break;
    case "response.output_audio.delta": play(e); break;
    case "response.output_audio.done": case "response.done": if (s.playback) s.playback.port.postMessage("drain"); break;
    case "input_audio_buffer.speech_started": bargeIn(); break;
    case "conversation.item.input_audio_transcription.delta": line("u" + e.item_id, "user").textContent += e.delta || ""; break;
    case "conversation.item.input_audio_transcription.completed": line("u" + e.item_id, "user").textContent = e.transcript || ""; break;
    case "response.output_audio_transcript.delta": case "response.output_text.delta":
      line("a" + e.item_id, "assistant").textContent += e.delta || ""; break;
    case "response.output_audio_transcript.done": line("a" + e.item_id, "assistant").textContent = e.transcript || ""; break;
    case "error": {
      const error = e.error || {};
      if (error.code === "session_revoked") { stop(false); showMessage(t("authFailed"), true); }
      else if (error.code === "quota_exceeded") { stop(false); showMessage(error.message); }
      else if (error.message && (error.type === "server_error" || String(error.code).startsWith("upstream") || String(error.code).startsWith("quota"))) showMessage(error.message);
      break;
    }
    default: break;
  }
}

// A photo from voice-camera.js: on our socket while we own the call (then answered at once).
panel.addEventListener("voice-photo", (e) => {
  if (!s.sock || !s.ready) return;
  s.sock.send(JSON.stringify({ type: "conversation.item.create", item: { type: "message", role: "user",
    content: [{ type: "input_image", image_url: e.detail.dataUrl }] } }));
  s.sock.send(JSON.stringify({ type: "response.create" }));
  e.preventDefault();
});

// --- the socket ---------------------------------------------------------------------------------------------------
function connect() {
  if (!s.active) return;
  const sock = s.sock = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + box.dataset.wsUrl);
  s.ready = s.opened = false;
  later(() => { if (s.sock === sock && !s.ready) { showMessage(t("timeout")); sock.close(); } }, CONNECT_TIMEOUT_MS);
  sock.onopen = () => { s.opened = true; };
  sock.onmessage = (e) => { let event; try { event = JSON.parse(e.data); } catch (err) { return; } if (s.sock === sock) onEvent(event); };
  sock.onclose = (e) => { if (s.sock === sock) closed(e.code, s.opened); };
}

function connected() {
  s.ready = true;
  s.attempt = s.stall = 0;
  clearMessage();
  setState("connected", t("wsConnected"), "badge-ok");
  panel.dataset.transport = "websocket";
  remember(LAST_KEY, "websocket");
  const tick = () => { // a socket whose send buffer never drains is dead, even if the browser has not noticed yet
    if (!s.ready) return;
    s.stall = s.sock && s.sock.bufferedAmount > SEND_BUFFER_LIMIT ? s.stall + 1 : 0;
    if (s.stall >= STALL_CHECKS) { s.sock.close(); closed(1006, true); return; }
    later(tick, 1000);
  };
  later(tick, 1000);
}

async function closed(code, opened) {
  s.sock = null;
  s.ready = false;
  if (!s.active) return;
  if (code === 4001) { stop(false); showMessage(t("authFailed"), true); return; }
  if (!opened) { // refused at the handshake: a browser cannot read the status, so ask the API why
    const check = await fetch(panel.dataset.configUrl, { credentials: "same-origin" }).catch(() => null);
    if (check && check.status === 401) {
      const body = await check.json().catch(() => ({}));
      stop(false);
      showMessage((body.error || {}).code === "session_expired" ? t("authFailed") : t("loginRequired"), true);
      return;
    }
  }
  if (!s.active) return;
  bargeIn(); // whatever was queued belongs to the lost session
  setState("reconnecting", t("reconnecting"), "badge-warn");
  const delay = s.attempt < RECONNECT_DELAYS_MS.length ? RECONNECT_DELAYS_MS[s.attempt] : RECONNECT_EVERY_MS;
  s.attempt += 1;
  later(connect, delay);
}

async function start(why) {
  if (s.active) return;
  s.active = true;
  s.attempt = 0;
  clearMessage();
  ui.start.disabled = true;
  ui.stop.disabled = false;
  setState("connecting", why === "fallback" ? t("wsSwitching") : t("connecting"), "badge-warn");
  try {
    await openAudio();
  } catch (error) {
    stop(false);
    showMessage(micAdvice(error));
    return;
  }
  connect();
}

function stop(resetBadge) {
  const sock = s.sock;
  s.active = s.ready = false;
  s.sock = s.cur = null;
  clearTimers();
  if (sock) { sock.onclose = null; sock.close(1000); }
  closeAudio();
  delete panel.dataset.transport;
  ui.start.disabled = false;
  ui.stop.disabled = true;
  setState(resetBadge ? "idle" : "error", t("idle"), resetBadge ? "badge-muted" : "badge-bad");
}

// --- choosing the transport -----------------------------------------------------------------------------------------
function unwatch(keepPrimed) {
  if (watch) { clearTimeout(watch.timer); watch.observer.disconnect(); watch = null; }
  if (!keepPrimed && s.primed && !s.active) { s.primed.close().catch(() => {}); s.primed = null; }
}

function watchWebRtc() { // auto: give WebRTC FALLBACK_MS to connect, then switch to the WebSocket
  unwatch();
  let tried = false; // voice.js got past the microphone and started a call
  const fall = () => {
    const state = panel.dataset.state;
    if (state === "connected" || state === "idle") { unwatch(); return; }
    unwatch(true);
    ui.stop.click(); // voice.js hangs up its attempt and frees the microphone
    start("fallback");
  };
  const observer = new MutationObserver(() => {
    const state = panel.dataset.state;
    if (state === "connecting") tried = true;
    if (state === "connected") {
      unwatch();
      panel.dataset.transport = "webrtc";
      remember(LAST_KEY, "webrtc");
    } else if (state === "reconnecting") fall(); // failed before it ever connected
    // the offer was refused (e.g. no usable ICE candidate: the browser's policy allows no UDP), unless the error is
    // about signing in (voice.js then shows a login link), which no transport can fix
    else if (state === "error" && tried && !ui.message.querySelector("a")) fall();
    else if (state === "idle" || state === "error") unwatch(); // stopped, or a microphone/sign-in error
  });
  observer.observe(panel, { attributes: true, attributeFilter: ["data-state"] });
  watch = { observer, timer: setTimeout(fall, FALLBACK_MS) };
}

if (panel && box) {
  const choice = pref();
  if (ui.choice) {
    ui.choice.value = ["auto", "webrtc", "websocket"].includes(choice) ? choice : "auto";
    ui.choice.addEventListener("change", () => remember(PREF_KEY, ui.choice.value));
  }
  panel.addEventListener("click", (e) => { // capture phase: runs before voice.js's own button handlers
    if (e.target === ui.start && !ui.start.disabled) {
      const mode = pref();
      if (mode === "webrtc") return;
      if (!s.primed && mode === "auto") s.primed = newContext();
      if (mode === "websocket") { e.stopImmediatePropagation(); start("chosen"); } else watchWebRtc();
    } else if (e.target === ui.stop && s.active) {
      e.stopImmediatePropagation();
      stop(true);
    } else if (e.target === ui.stop && watch) unwatch();
  }, true);
  window.addEventListener("pagehide", () => { if (s.sock) s.sock.close(1000); });
  panel.voiceProbe = () => ({ transport: panel.dataset.transport || "", state: panel.dataset.state,
    output: outputLevel(), ...s.report, posted: s.posted });
}
