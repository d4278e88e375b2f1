// The diagnostics checklist: measures in the browser, posts the numbers, and swaps in the row the server renders.
// Verdicts and thresholds live on the server (web/diagnostics/), so the page, the report and the CLI agree.
// No inline code anywhere (CSP): every row is found by id, every button by a data attribute.
(function () {
  "use strict";
  var CALL_ROWS = ["signalling", "media_path", "echo", "rtt", "jitter", "packet_loss", "bitrate", "mos", "server_view"];
  var QUALITY_ROWS = ["rtt", "jitter", "packet_loss", "bitrate", "mos"];
  var QUALITY_SECONDS = 10, MIC_SECONDS = 3, PROMPT_MS = 10000, HEARD_LEVEL = 0.02, WAIT_REPLY_MS = 10000;

  function now() { return performance.now(); }
  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
  function csrf() { var m = document.querySelector("meta[name='csrf-token']"); return m ? m.content : ""; }
  function timeout(ms, value) { return new Promise(function (r) { setTimeout(function () { r(value); }, ms); }); }
  function median(xs) { var s = xs.slice().sort(function (a, b) { return a - b; }); return s.length ? s[s.length >> 1] : null; }
  function round(x, n) { var f = Math.pow(10, n || 0); return x == null ? null : Math.round(x * f) / f; }
  async function timedFetch(url, options, ms) {
    var ctl = new AbortController(), timer = setTimeout(function () { ctl.abort(); }, ms);
    try { return await fetch(url, Object.assign({credentials: "same-origin", cache: "no-store", signal: ctl.signal}, options)); }
    finally { clearTimeout(timer); }
  }

  var rtc = window.SGVDiagRTC || {}, waitGathering = rtc.waitGathering, waitConnected = rtc.waitConnected, gather = rtc.gather;
  var selectedPair = rtc.selectedPair, inboundLevel = rtc.inboundLevel, qualitySample = rtc.qualitySample;
  var serverCandidates = rtc.serverCandidates;

  // ---- the checklist page ------------------------------------------------------------------------------------
  function Checklist(root) {
    var cfg = root.dataset, st = {reportId: "", stream: null, ctx: null, pair: null, busy: false, rtc: null, speakerAnswered: false};
    var field = document.getElementById("diag-report-field"), progress = document.getElementById("diag-progress");
    var signedIn = cfg.signedIn === "true";

    function rowEl(id) { return document.getElementById("diag-" + id); }
    function audioContext() {
      if (!st.ctx) st.ctx = new (window.AudioContext || window.webkitAudioContext)();
      if (st.ctx.state === "suspended") st.ctx.resume();
      return st.ctx;
    }
    async function ensureReport() {
      if (st.reportId) return st.reportId;
      try {
        var res = await fetch(cfg.reportsUrl, {method: "POST", credentials: "same-origin",
          headers: {"X-CSRF-Token": csrf(), "Accept": "application/json"}});
        var made = await res.json();
        st.authFailure = made.auth_failure || "";  // this request may be the one that found the session dead
        if (res.ok) { st.reportId = made.id; field.value = st.reportId; }
      } catch (e) { /* the server is unreachable: the rows say so */ }
      return st.reportId;
    }
    function markRunning(id) {
      var el = rowEl(id); if (!el) return;
      el.classList.add("diag-running");
      el.querySelector(".diag-status").textContent = cfg.textRunning;
    }
    function markOffline(id) {
      var el = rowEl(id); if (!el) return;
      el.className = "diag-row diag-fail"; el.dataset.status = "fail";
      el.querySelector(".diag-icon").textContent = "❌";
      el.querySelector(".diag-status").textContent = cfg.textOffline;
    }
    async function post(id, values) {
      if (st.callPosted) st.callPosted[id] = true;
      var body = new URLSearchParams();
      body.set("report_id", st.reportId); body.set("payload", JSON.stringify(values || {}));
      try {
        var res = await timedFetch(cfg.checkUrl.replace("CHECK", id), {method: "POST", body: body,
          headers: {"X-CSRF-Token": csrf(), "HX-Request": "true"}}, 20000);
        if (!res.ok) throw new Error("HTTP " + res.status);
        var html = await res.text(), el = rowEl(id);
        el.outerHTML = html;
        if (window.htmx) window.htmx.process(rowEl(id));
      } catch (e) { markOffline(id); }
      if (id === "signalling" && st.signalled) st.signalled();
    }
    async function run(id, measure) {
      markRunning(id);
      var values;
      try { values = await measure(); } catch (e) { values = {error: String(e && e.message || e)}; }
      await post(id, values);
      return values;
    }

    var measures = {
      secure_context: function () { return {secure: window.isSecureContext === true, origin: location.origin}; },
      browser: function () {
        return {features: {RTCPeerConnection: typeof RTCPeerConnection === "function",
          getUserMedia: !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia),
          AudioWorklet: typeof AudioWorkletNode === "function", WebSocket: typeof WebSocket === "function"}};
      },
      server_health: async function () {
        var t0 = now();
        try { var res = await timedFetch(cfg.healthUrl, {}, 5000); return {status: res.status, latency_ms: now() - t0}; }
        catch (e) { return {status: 0, error: e.name === "AbortError" ? "timeout" : String(e.message || e)}; }
      },
      readiness: async function () {
        var res = await timedFetch(cfg.readyUrl, {}, 5000), body = {};
        try { body = await res.json(); } catch (e) { /* not JSON: the status says enough */ }
        return {status: res.status, checks: body.checks || {}, down: body.down || []};
      },
      session: async function () {
        var t0 = Date.now(), res = await timedFetch(cfg.meUrl, {headers: {"Accept": "application/json"}}, 5000), t1 = Date.now();
        var out = {me_status: res.status, page_auth_failure: st.authFailure || cfg.authFailure};
        if (res.ok) out.clock_skew_ms = (t0 + t1) / 2 - (await res.json()).server_time * 1000;
        return out;
      },
      upstream: function () { return {}; },
      mic_permission: async function () {
        var state = "unsupported";
        try { state = (await navigator.permissions.query({name: "microphone"})).state; } catch (e) { /* Firefox < 132 */ }
        if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia)
          return {state: state, outcome: "error", error_name: "TypeError", error_message: "navigator.mediaDevices is undefined"};
        var t0 = now(), gum = navigator.mediaDevices.getUserMedia({audio: {echoCancellation: true, noiseSuppression: true, autoGainControl: true}});
        gum.then(function (s) { st.stream = s; }, function () {});
        try {
          var got = await Promise.race([gum, timeout(PROMPT_MS, "timeout")]);
          return {state: state, outcome: got === "timeout" ? "timeout" : "ok", waited_ms: now() - t0};
        } catch (e) { return {state: state, outcome: "error", error_name: e.name, error_message: e.message, waited_ms: now() - t0}; }
      },
      audio_devices: async function () {
        if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return {};
        var inputs = (await navigator.mediaDevices.enumerateDevices()).filter(function (d) { return d.kind === "audioinput"; });
        return {inputs: inputs.length, labelled: inputs.filter(function (d) { return d.label; }).length};
      },
      mic_level: async function () {
        if (!st.stream) return {};
        progress.textContent = cfg.textSpeak;
        var track = st.stream.getAudioTracks()[0], ctx = audioContext(), analyser = ctx.createAnalyser();
        analyser.fftSize = 2048;
        var source = ctx.createMediaStreamSource(st.stream); source.connect(analyser);
        var buf = new Float32Array(analyser.fftSize), levels = [], sumSq = 0, n = 0, peak = 0, run = 0, maxRun = 0;
        var end = now() + MIC_SECONDS * 1000;
        while (now() < end) {
          await sleep(40);
          analyser.getFloatTimeDomainData(buf);
          var sq = 0;
          for (var i = 0; i < buf.length; i++) {
            var a = Math.abs(buf[i]); sq += a * a; if (a > peak) peak = a;
            run = a >= 0.999 ? run + 1 : 0; if (run > maxRun) maxRun = run;
          }
          sumSq += sq; n += buf.length; levels.push(Math.sqrt(sq / buf.length));
        }
        source.disconnect(); progress.textContent = "";
        var mean = levels.reduce(function (a, b) { return a + b; }, 0) / levels.length;
        var sd = Math.sqrt(levels.reduce(function (a, b) { return a + (b - mean) * (b - mean); }, 0) / levels.length);
        st.mic = track.getSettings ? track.getSettings() : {};
        return {rms: Math.sqrt(sumSq / n), peak: peak, level_mean: mean, level_stddev: sd, max_clip_run: maxRun,
          track_state: track.readyState, muted: track.muted, context_state: ctx.state};
      }
    };

    function playTone() {
      var ctx = audioContext(), osc = ctx.createOscillator(), gain = ctx.createGain();
      osc.frequency.value = 660; gain.gain.value = 0.2;
      osc.connect(gain); gain.connect(ctx.destination);
      osc.start(); osc.stop(ctx.currentTime + 1);
      var confirm = rowEl("speaker").querySelector(".diag-confirm");
      if (confirm) confirm.hidden = false;
      markRunning("speaker");
      rowEl("speaker").querySelector(".diag-status").textContent = cfg.textListen;
    }
    function speakerValues(answer) {
      return {answer: answer, context_state: st.ctx ? st.ctx.state : "",
        sink_selectable: typeof HTMLMediaElement !== "undefined" && "setSinkId" in HTMLMediaElement.prototype};
    }

    async function rtcConfig() {
      var res = await timedFetch(cfg.configUrl, {headers: {"Accept": "application/json"}}, 5000);
      return res.ok ? res.json() : {iceServers: [], mode: ""};
    }
    async function iceCheck() {
      var config = await rtcConfig(), t0 = now(), servers = [];
      var counts = await gather(config.iceServers || []);
      for (var i = 0; i < (config.iceServers || []).length; i++) {
        var server = config.iceServers[i], c = await gather([server]);
        [].concat(server.urls).forEach(function (url) { servers.push({url: url, srflx: c.srflx, relay: c.relay}); });
      }
      return {measured: true, counts: counts, servers: servers, gathering_ms: now() - t0};
    }

    async function roundTrip(pc, gain, mode, events) {
      var out = await listenForReply(pc, gain, mode, events);
      out.context_state = st.ctx ? st.ctx.state : "";
      return out;
    }
    async function listenForReply(pc, gain, mode, events) {
      var t0 = now();
      while (!events.some(function (e) { return e.type === "session.created"; }) && now() - t0 < 3000) await sleep(50);
      var start;
      if (mode === "echo") {  // a 440 Hz burst; the echo upstream plays it back once its VAD hears the pause
        gain.gain.value = 0.3; await sleep(800); gain.gain.value = 0; start = now();
      } else {  // a real model answers a request: time to its first audio
        start = now();
        st.rtc.dc.send(JSON.stringify({type: "response.create", response: {instructions: "Say OK."}}));
      }
      var level = 0, buf = new Float32Array(2048);
      while (now() - start < WAIT_REPLY_MS) {
        level = inboundLevel(await pc.getStats());
        if (st.rtc.analyser) {
          st.rtc.analyser.getFloatTimeDomainData(buf);
          level = Math.max(level, Math.sqrt(buf.reduce(function (a, x) { return a + x * x; }, 0) / buf.length));
        }
        if (level > HEARD_LEVEL) return {mode: mode, heard: true, delay_ms: now() - start, level: level};
        // the call ended under us (the server relays an upstream drop as an error event, then closes): no use waiting
        var ended = events.some(function (e) { return e.type === "error"; }) || st.rtc.dc.readyState === "closed" ||
          pc.connectionState === "failed" || pc.connectionState === "closed";
        if (ended) return {mode: mode, heard: false, level: level, ended_early: true, waited_ms: now() - start};
        await sleep(50);
      }
      return {mode: mode, heard: false, level: level};
    }
    async function sampleQuality(pc) {
      var samples = [], prev = null;
      for (var i = 0; i < QUALITY_SECONDS; i++) {
        await sleep(1000);
        if (pc.connectionState === "failed" || pc.connectionState === "closed" ||
          (st.rtc && st.rtc.dc.readyState === "closed")) break;  // the call ended: nothing more to sample
        var stats = await pc.getStats(); samples.push(qualitySample(stats, prev)); prev = stats;
      }
      return samples;
    }
    async function callPhase() {
      st.callPosted = {};
      // the AI service row failed: no call can get an answer, so its rows defer to that row at once
      var upstreamFailed = rowEl("upstream") && rowEl("upstream").dataset.status === "fail";
      try { if (!upstreamFailed) await callSteps(); } catch (e) { /* e.g. no RTCPeerConnection: the rows below say "not measured" */ }
      for (var k = 0; k < CALL_ROWS.length; k++) if (!st.callPosted[CALL_ROWS[k]]) await post(CALL_ROWS[k], {});
    }
    async function callSteps() {
      if (!signedIn || cfg.calls !== "true") return;
      CALL_ROWS.forEach(markRunning);
      var config = await rtcConfig(), ctx = audioContext(), osc = ctx.createOscillator(), gain = ctx.createGain();
      var dest = ctx.createMediaStreamDestination(), events = [], player = new Audio();
      osc.frequency.value = 440; gain.gain.value = 0; osc.connect(gain); gain.connect(dest); osc.start();
      var pc = null, callUrl = "";
      try {
      pc = new RTCPeerConnection({iceServers: config.iceServers || []});
      var dc = pc.createDataChannel("oai-events");
      st.rtc = {pc: pc, dc: dc};
      dc.addEventListener("message", function (e) { try { events.push(JSON.parse(e.data)); } catch (err) { /* not JSON */ } });
      pc.addEventListener("track", function (e) {
        var stream = e.streams[0] || new MediaStream([e.track]);
        player.srcObject = stream; player.play().catch(function () {});
        // Browsers without inbound-rtp audioLevel (older Firefox): measure the reply with an analyser instead.
        st.rtc.analyser = ctx.createAnalyser(); ctx.createMediaStreamSource(stream).connect(st.rtc.analyser);
      });
      pc.addTrack(dest.stream.getAudioTracks()[0], dest.stream);
        await pc.setLocalDescription(await pc.createOffer());
        await waitGathering(pc, 5000);
        var t0 = now(), sig = {status: 0}, res = null;
        try {
          res = await timedFetch(cfg.callsUrl, {method: "POST", body: pc.localDescription.sdp,
            headers: {"Content-Type": "application/sdp", "X-CSRF-Token": csrf()}}, 10000);
          sig.status = res.status;
        } catch (e) { sig.timed_out = e.name === "AbortError"; }
        sig.elapsed_ms = now() - t0;
        if (res && res.status !== 201) {
          try { var err = (await res.json()).error || {}; sig.error_code = err.code; sig.error_message = err.message; } catch (e) { /* not JSON */ }
        }
        await post("signalling", sig);
        if (!res || res.status !== 201) { await post("media_path", {state: "skipped"}); return; }
        callUrl = res.headers.get("Location") || "";
        var answer = await res.text();
        await pc.setRemoteDescription({type: "answer", sdp: answer});
        var connected = await waitConnected(pc, 10000), sel = selectedPair(await pc.getStats()) || {};
        st.pair = sel;
        await post("media_path", {state: connected ? "connected" : (pc.connectionState || "timeout"), connect_ms: now() - t0,
          local_type: sel.local_type, remote_type: sel.remote_type, protocol: sel.protocol, relay_protocol: sel.relay_protocol,
          server_candidates: serverCandidates(answer), page_host: location.hostname});
        if (!connected) return;
        var quality = sampleQuality(pc);
        await post("echo", await roundTrip(pc, gain, config.mode, events));
        var samples = await quality;
        for (var q = 0; q < QUALITY_ROWS.length; q++) await post(QUALITY_ROWS[q], {samples: samples});
        var pick = function (key) { return samples.map(function (s) { return s[key]; }).filter(function (x) { return x != null; }); };
        var losses = pick("loss_pct");
        await post("server_view", {call_id: callUrl.split("/").pop(), include_ips: includeIps(),
          browser: {local_type: sel.local_type, remote_type: sel.remote_type, protocol: sel.protocol,
            rtt_ms: round(median(pick("rtt_ms")), 1), jitter_ms: round(median(pick("jitter_ms")), 1),
            loss_pct: losses.length ? round(losses.reduce(function (a, b) { return a + b; }, 0) / losses.length, 2) : null}});
      } finally {
        // close the peer only once the hang-up is answered (at most 1 s): a peer closed first ends the call, and the
        // DELETE then finds it gone (404)
        var peer = pc, closePeer = function () { if (peer) peer.close(); };
        if (callUrl) Promise.race([fetch(callUrl, {method: "DELETE", credentials: "same-origin", headers: {"X-CSRF-Token": csrf()}}),
          timeout(1000)]).catch(function () {}).then(closePeer); else closePeer();
        osc.stop(); player.srcObject = null; st.rtc = null;
      }
    }
    async function websocketCheck() {
      if (!signedIn || cfg.websocket !== "true") return {};
      var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + cfg.websocketPath;
      return new Promise(function (resolve) {
        var t0 = now(), out = {opened: false}, ws = new WebSocket(url), done = false;
        function finish() { if (done) return; done = true; try { ws.close(); } catch (e) { /* closed */ } resolve(out); }
        setTimeout(finish, 10000);
        ws.addEventListener("open", function () { out.opened = true; });
        ws.addEventListener("message", function (e) {
          try { var ev = JSON.parse(e.data); out.first_event = ev.type; if (ev.type === "error") out.error = (ev.error || {}).message; } catch (err) { /* not JSON */ }
          out.open_ms = now() - t0; finish();
        });
        ws.addEventListener("close", function (e) { out.close_code = e.code; finish(); });
      });
    }

    function includeIps() { var box = document.getElementById("diag-include-ips"); return !!(box && box.checked); }
    async function unsavedSummary() {  // no report (the database is down): the summary of the rows shown
      var shown = [].map.call(document.querySelectorAll(".diag-row"), function (r) {
        var value = r.querySelector(".diag-value");
        return {check: r.dataset.check, status: r.dataset.status, deferred_to: r.dataset.deferred || "",
          value: value ? value.textContent : "", fixes: [].map.call(r.querySelectorAll(".diag-fixes li"), function (li) { return li.textContent; })};
      });
      var body = new URLSearchParams(); body.set("payload", JSON.stringify({rows: shown}));
      try {
        var res = await timedFetch(cfg.summaryUrl, {method: "POST", body: body,
          headers: {"X-CSRF-Token": csrf(), "HX-Request": "true"}}, 10000);
        if (res.ok) document.getElementById("diag-summary").outerHTML = await res.text();
      } catch (e) { /* the rows already show what failed */ }
    }
    async function finishReport() {
      if (!st.reportId) return unsavedSummary();
      progress.textContent = cfg.textSaving;
      if (!st.speakerAnswered) await post("speaker", speakerValues(""));  // recorded as waiting; the buttons stay
      var pair = st.pair || {}, keep = {local_type: pair.local_type, remote_type: pair.remote_type, protocol: pair.protocol, relay_protocol: pair.relay_protocol};
      if (includeIps()) { keep.local_address = pair.local_address; keep.remote_address = pair.remote_address; }
      var mic = {};
      ["sampleRate", "channelCount", "echoCancellation", "noiseSuppression", "autoGainControl", "latency"].forEach(function (k) {
        if (st.mic && st.mic[k] != null) mic[k] = st.mic[k];
      });
      var body = new URLSearchParams(); body.set("payload", JSON.stringify({include_ips: includeIps(), mic: mic, candidate_pair: keep}));
      try {
        var res = await fetch(cfg.reportsUrl + "/" + st.reportId + "/finish", {method: "POST", body: body, credentials: "same-origin",
          headers: {"X-CSRF-Token": csrf(), "HX-Request": "true"}});
        if (res.ok) document.getElementById("diag-summary").outerHTML = await res.text();
      } catch (e) { /* the rows already show what failed */ }
      progress.textContent = "";
    }

    async function runOne(id) {
      if (CALL_ROWS.indexOf(id) >= 0) return callPhase();
      if (id === "ice") return run("ice", signedIn && cfg.calls === "true" ? iceCheck : function () { return {}; });
      if (id === "websocket") return run("websocket", websocketCheck);
      if (id === "speaker") return playTone();
      if ((id === "mic_level" || id === "audio_devices") && !st.stream) await run("mic_permission", measures.mic_permission);
      return run(id, measures[id]);
    }
    async function runAll() {
      if (st.busy) return;
      st.busy = true; audioContext();
      var button = document.getElementById("diag-run-all"); button.disabled = true;
      try {
        await ensureReport();
        var order = ["secure_context", "browser", "server_health"];
        for (var i = 0; i < order.length; i++) await run(order[i], measures[order[i]]);
        if (rowEl("server_health").dataset.status === "fail") return;  // nothing else can work; the row says why
        var rest = ["readiness", "session", "upstream", "mic_permission", "audio_devices", "mic_level"];
        for (var j = 0; j < rest.length; j++) await run(rest[j], measures[rest[j]]);
        try { playTone(); } catch (e) { await post("speaker", speakerValues("")); }
        await runOne("ice");
        // the WebSocket is measured alongside the call (its verdict must not wait for the quality samples), and
        // posted once the call set-up row is in: a server too busy for calls refuses WebSockets too
        markRunning("websocket");
        var signalled = new Promise(function (r) { st.signalled = r; });
        var socket = Promise.all([websocketCheck().catch(function (e) { return {error: String(e && e.message || e)}; }),
          signalled]).then(function (got) { return post("websocket", got[0]); });
        try { await callPhase(); } finally { st.signalled(); st.signalled = null; }
        await socket;
      } finally {
        await finishReport();
        st.busy = false; button.disabled = false;
      }
    }

    document.getElementById("diag-run-all").addEventListener("click", runAll);
    root.addEventListener("click", async function (e) {
      var target = e.target.closest("[data-run], [data-speaker]");
      if (!target) return;
      if (target.dataset.speaker) {  // answered at any time, also while 「全部检测」 is still running
        st.speakerAnswered = true;
        await post("speaker", speakerValues(target.dataset.speaker));
        if (document.querySelector("[data-testid='diag-summary']")) await finishReport();
        return;
      }
      if (target.hasAttribute("hx-post") || st.busy) return;  // a server-side check: htmx runs it
      st.busy = true;
      try { await ensureReport(); await runOne(target.dataset.run); } finally { st.busy = false; }
    });
    root.addEventListener("htmx:configRequest", function (e) {  // server rows run by htmx join the current report
      e.detail.parameters.report_id = st.reportId;
    });
  }

  // ---- the report page ---------------------------------------------------------------------------------------
  function ReportPage(actions) {
    var text = document.getElementById("report-text"), status = document.getElementById("report-copy-status");
    var copy = document.getElementById("report-copy");
    document.getElementById("report-print").addEventListener("click", function () { window.print(); });
    copy.addEventListener("click", async function () {
      try { await navigator.clipboard.writeText(text.value); status.textContent = copy.dataset.done; }
      catch (e) {
        text.closest("details").open = true; text.focus(); text.select();
        status.textContent = document.execCommand && document.execCommand("copy") ? copy.dataset.done : copy.dataset.failed;
      }
    });
    return actions;
  }

  var root = document.getElementById("diagnostics");
  if (root) Checklist(root);
  var actions = document.getElementById("report-actions");
  if (actions) ReportPage(actions);
})();
