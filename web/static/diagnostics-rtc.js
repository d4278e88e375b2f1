// WebRTC measurements for the diagnostics checklist: ICE gathering, connection, the selected candidate pair, the
// reply's level and 1 s quality samples from getStats(). Loaded before diagnostics.js, which runs the checklist.
(function () {
  "use strict";
  function timeout(ms, value) { return new Promise(function (r) { setTimeout(function () { r(value); }, ms); }); }
  // ---- WebRTC helpers ----------------------------------------------------------------------------------------
  function waitGathering(pc, ms) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return Promise.race([timeout(ms), new Promise(function (r) {
      pc.addEventListener("icegatheringstatechange", function () { if (pc.iceGatheringState === "complete") r(); });
    })]);
  }
  function waitConnected(pc, ms) {
    return Promise.race([timeout(ms, false), new Promise(function (r) {
      function check() {
        var s = pc.connectionState || pc.iceConnectionState;
        if (s === "connected" || s === "completed") r(true); else if (s === "failed" || s === "closed") r(false);
      }
      pc.addEventListener("connectionstatechange", check); pc.addEventListener("iceconnectionstatechange", check); check();
    })]);
  }
  function serverCandidates(sdp) {  // the server's own addresses in its answer (names a missing RTC_ANNOUNCED_ADDRESS)
    return sdp.split(/\r?\n/).filter(function (l) { return l.indexOf("a=candidate:") === 0; }).slice(0, 12)
      .map(function (l) { var f = l.split(" "); return {type: f[7], address: f[4], protocol: (f[2] || "").toLowerCase()}; });
  }
  function candidateType(c) { return c.type || (c.candidate.split(" ")[7] || "host"); }
  async function gather(iceServers) {
    var pc = new RTCPeerConnection({iceServers: iceServers}), counts = {host: 0, srflx: 0, relay: 0, prflx: 0};
    pc.createDataChannel("probe");
    pc.addEventListener("icecandidate", function (e) {
      if (e.candidate && e.candidate.candidate) counts[candidateType(e.candidate)] = (counts[candidateType(e.candidate)] || 0) + 1;
    });
    await pc.setLocalDescription(await pc.createOffer());
    await waitGathering(pc, 5000);
    pc.close();
    return counts;
  }
  function selectedPair(stats) {
    var pair = null, byId = {};
    stats.forEach(function (s) { byId[s.id] = s; });
    stats.forEach(function (s) { if (s.type === "transport" && s.selectedCandidatePairId) pair = byId[s.selectedCandidatePairId]; });
    if (!pair) stats.forEach(function (s) { if (s.type === "candidate-pair" && (s.selected || (s.nominated && s.state === "succeeded"))) pair = s; });
    if (!pair) return null;
    var l = byId[pair.localCandidateId] || {}, r = byId[pair.remoteCandidateId] || {};
    return {pair: pair, local_type: l.candidateType, remote_type: r.candidateType, protocol: l.protocol,
      relay_protocol: l.relayProtocol || "", local_address: (l.address || l.ip) + ":" + l.port,
      remote_address: (r.address || r.ip) + ":" + r.port};
  }
  function inboundLevel(stats) {
    var level = 0;
    stats.forEach(function (s) { if (s.type === "inbound-rtp" && s.kind === "audio" && s.audioLevel) level = Math.max(level, s.audioLevel); });
    return level;
  }
  function qualitySample(stats, prev) {
    var out = {rtt_ms: null, jitter_ms: null, loss_pct: null, bitrate_kbps: null}, sel = selectedPair(stats), losses = [];
    if (sel && sel.pair.currentRoundTripTime != null) out.rtt_ms = sel.pair.currentRoundTripTime * 1000;
    if (sel && sel.pair.availableOutgoingBitrate) out.bitrate_kbps = sel.pair.availableOutgoingBitrate / 1000;
    stats.forEach(function (s) {
      if (s.kind !== "audio") return;
      if (s.type === "remote-inbound-rtp") {
        if (s.roundTripTime != null) out.rtt_ms = s.roundTripTime * 1000;
        if (s.jitter != null) out.jitter_ms = Math.max(out.jitter_ms || 0, s.jitter * 1000);
        if (s.fractionLost != null) losses.push(s.fractionLost * 100);
      } else if (s.type === "inbound-rtp") {
        if (s.jitter != null) out.jitter_ms = Math.max(out.jitter_ms || 0, s.jitter * 1000);
        var p = prev && prev.get(s.id);
        if (p) {
          var lost = Math.max(0, s.packetsLost - p.packetsLost), got = s.packetsReceived - p.packetsReceived;
          if (lost + got > 0) losses.push(100 * lost / (lost + got));
        }
      }
    });
    if (losses.length) out.loss_pct = Math.max.apply(null, losses);
    return out;
  }
  window.SGVDiagRTC = {waitGathering: waitGathering, waitConnected: waitConnected, gather: gather,
    selectedPair: selectedPair, inboundLevel: inboundLevel, qualitySample: qualitySample, serverCandidates: serverCandidates};
})();
