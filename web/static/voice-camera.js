// The 「拍照提问」 button: one frame from the camera (getUserMedia video, its own permission and error advice) into
// the running call, then a thumbnail in the transcript. The frame is shrunk to MAX_SIDE and sent as a JPEG: over a
// WebRTC call with POST {call}/images (the data channel's 256 KiB messages are too small for photos); when the
// WebSocket transport owns the call, voice-ws.js takes the cancelable "voice-photo" event and sends it on its socket.
// The server checks, downscales and rate-limits it again. All user-facing text comes from data-t-* attributes.
"use strict";

const panel = document.getElementById("voice-panel");
const button = document.getElementById("voice-photo");
const MAX_SIDE = 1024;
const QUALITY = 0.85;
const PROMPT_HINT_MS = 10000;

const t = (key) => panel.dataset["t" + key.charAt(0).toUpperCase() + key.slice(1)] || key;
const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
const message = document.getElementById("voice-message");
const transcript = document.getElementById("voice-transcript");

function show(text) { message.textContent = text; message.hidden = false; }

function cameraAdvice(error) {
  if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return t("camInsecure");
  const name = error && error.name;
  if (name === "NotAllowedError" || name === "PermissionDeniedError" || name === "SecurityError") return t("camDenied");
  if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError") return t("camMissing");
  if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError") return t("camBusy");
  return t("camFailed");
}

async function grabFrame() {
  const hint = setTimeout(() => show(t("camPrompt")), PROMPT_HINT_MS);
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: false,
      video: { facingMode: "environment", width: { ideal: 1280 }, height: { ideal: 960 } } });
  } finally { clearTimeout(hint); }
  try {
    const video = document.createElement("video");
    video.muted = true; video.playsInline = true; video.srcObject = stream;
    await video.play();
    if (!video.videoWidth) await new Promise((done) => video.addEventListener("loadeddata", done, { once: true }));
    const scale = Math.min(1, MAX_SIDE / Math.max(video.videoWidth, video.videoHeight));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(video.videoWidth * scale); canvas.height = Math.round(video.videoHeight * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return { canvas, blob: await new Promise((done) => canvas.toBlob(done, "image/jpeg", QUALITY)) };
  } finally {
    stream.getTracks().forEach((track) => track.stop());
  }
}

function thumbnail(dataUrl) {
  const item = document.createElement("li");
  item.className = "turn turn-user voice-photo";
  item.dataset.testid = "voice-photo";
  const img = document.createElement("img");
  img.src = dataUrl; // a data: URL, which the page's CSP allows for images (blob: it does not)
  img.alt = t("photoSent");
  item.append(img);
  transcript.append(item);
  transcript.scrollTop = transcript.scrollHeight;
}

async function postPhoto(callUrl, blob) {
  const response = await fetch(callUrl + "/images?respond=true", { method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "image/jpeg", "X-CSRF-Token": csrf() }, body: blob });
  if (response.ok) return;
  let text = t("photoFailed");
  try { text = (await response.json()).error.message || text; } catch (err) { /* keep the generic advice */ }
  throw { name: "Sent", text };
}

async function takePhoto() {
  button.disabled = true;
  try {
    const { canvas, blob } = await grabFrame();
    const dataUrl = canvas.toDataURL("image/jpeg", QUALITY);
    const handled = !panel.dispatchEvent(new CustomEvent("voice-photo", { cancelable: true, detail: { dataUrl } }));
    if (!handled) {
      if (!panel.dataset.callUrl) throw { name: "Sent", text: t("photoNoCall") };
      await postPhoto(panel.dataset.callUrl, blob);
    }
    thumbnail(dataUrl);
  } catch (error) {
    show(error && error.name === "Sent" ? error.text : cameraAdvice(error));
  } finally {
    button.disabled = panel.dataset.state !== "connected";
  }
}

async function init() {
  if (!button || !navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
  const devices = await navigator.mediaDevices.enumerateDevices().catch(() => []);
  if (!devices.some((d) => d.kind === "videoinput")) return; // no camera: no button
  button.hidden = false;
  const sync = () => { button.disabled = panel.dataset.state !== "connected"; };
  new MutationObserver(sync).observe(panel, { attributes: true, attributeFilter: ["data-state"] });
  sync();
  button.addEventListener("click", takePhoto);
}

init();
