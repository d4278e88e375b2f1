"""Browser-side script for the `offer-timing` scenario: connect as the OpenAI Agents SDK does (POST the SDP straight
from createOffer(), no ICE candidates), and as our voice page does (after ICE gathering), timing each to connected."""

from __future__ import annotations

CONNECT = """
async (gather) => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
  const pc = new RTCPeerConnection();
  mic.getAudioTracks().forEach((track) => pc.addTrack(track, mic));
  const dc = pc.createDataChannel("oai-events");
  const events = [];
  dc.onmessage = (e) => { try { events.push(JSON.parse(e.data).type); } catch (err) { /* ignore */ } };
  const began = performance.now();
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  if (gather) await new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") resolve();
    pc.addEventListener("icegatheringstatechange", () => { if (pc.iceGatheringState === "complete") resolve(); });
  });
  const body = gather ? pc.localDescription.sdp : offer.sdp;
  const response = await fetch("/v1/realtime/calls", { method: "POST", credentials: "same-origin", body,
    headers: { "Content-Type": "application/sdp", "X-CSRF-Token": csrf } });
  if (response.status !== 201) return { status: response.status, body: await response.text() };
  const location = response.headers.get("Location");
  await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
  await new Promise((resolve, reject) => {
    if (pc.connectionState === "connected") resolve();
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState === "connected") resolve();
      else if (pc.connectionState === "failed") reject(new Error("ICE failed"));
    });
    setTimeout(() => reject(new Error("not connected in 10 s")), 10000);
  });
  const connectMs = Math.round(performance.now() - began);
  let inbound = 0, remoteType = null;
  for (let i = 0; i < 200 && inbound === 0; i++) {  // the echo of the microphone's speech, at most 20 s
    await new Promise((r) => setTimeout(r, 100));
    const stats = await pc.getStats();
    stats.forEach((s) => { if (s.type === "inbound-rtp" && s.kind === "audio") inbound = s.packetsReceived || 0; });
  }
  pc.close();
  mic.getTracks().forEach((t) => t.stop());
  await fetch(location, { method: "DELETE", credentials: "same-origin", headers: { "X-CSRF-Token": csrf } });
  return { status: 201, candidates: (body.match(/a=candidate:/g) || []).length, connect_ms: connectMs,
           inbound_packets: inbound, events };
}
"""
