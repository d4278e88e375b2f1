// Run in a page that loaded the Agents SDK's UMD bundle: the SDK's documented browser use (OpenAIRealtimeWebRTC),
// unchanged but for the base URL and the key. Listens until a reply is done and heard (inbound RTP audio level; the
// browsers measure it where audio is played out, and the first reply can come before a page's audio output runs),
// at most 25 s. Shared by tests/browser/test_agents_sdk.py (Chromium) and firefox_pages.mjs (Firefox).
async (base, key) => {
  const transport = new OpenAIAgentsRealtime.OpenAIRealtimeWebRTC({ baseUrl: base + "/v1/realtime/calls" });
  const events = [];
  transport.on("*", (e) => events.push(e.type));
  const began = performance.now();
  await transport.connect({ apiKey: key, model: "gpt-realtime", initialSessionConfig: { instructions: "Be brief." } });
  const connectMs = Math.round(performance.now() - began);
  const pc = transport.connectionState.peerConnection;
  let inbound = 0, level = 0, pair = null, heardMs = null;
  for (const deadline = performance.now() + 25_000; performance.now() < deadline;) {
    if (events.includes("response.done") && level > 0.01) break;
    await new Promise((r) => setTimeout(r, 50));
    const stats = await pc.getStats(), byId = new Map();
    stats.forEach((s) => byId.set(s.id, s));
    stats.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "audio") {
        inbound = s.packetsReceived || 0;
        level = Math.max(level, s.audioLevel || 0);
        if (level > 0.01 && heardMs === null) heardMs = Math.round(performance.now() - began);
      } else if (s.type === "candidate-pair" && s.state === "succeeded" && (s.selected || s.nominated)) {
        const l = byId.get(s.localCandidateId), r = byId.get(s.remoteCandidateId);
        pair = [l ? l.candidateType : "?", r ? r.candidateType : "?"];
      }
    });
  }
  transport.close();
  return { connect_ms: connectMs, heard_ms: heardMs, replies: events.filter((t) => t === "response.done").length,
    inbound_packets: inbound, max_level: level, pair, events };
}
