// The gateway's own pages in Debian's headless Firefox (firefox-esr), driven by puppeteer-core over WebDriver BiDi:
// no geckodriver, no browser download. One browser runs every scenario, each in a fresh browser context (its own
// cookies and localStorage): sign in, a voice call over WebRTC with the reply heard (inbound RTP stats), the
// automatic WebSocket fallback with UDP blocked (nft), and the diagnostics checklist.
// The agents_sdk scenario runs the OpenAI Agents SDK's WebRTC transport (@openai/agents-realtime, unchanged) with
// `ek_` keys minted by the gateway, on an app's own pages on another origin (FOREIGN_SITE, which serves the SDK's UMD
// bundle as /sdk.js and must be in the app's CORS_ALLOWED_ORIGINS): index.html, and strict.html with a CSP of
// `script-src 'self'`. (A gateway page is no app's page: its CSP admits no foreign script, and the bundle evaluated
// into it by the driver cannot parse events there. Chromium's test covers that same-origin case with CSP bypassed.)
// Usage: node firefox_pages.mjs <base url> <scenario,...>; prints one JSON line: {scenario: result, ...}.
// Run it inside a loopback-only network namespace with a PulseAudio null sink (tests/browser/test_firefox.py does):
// headless Firefox without an audio output device leaves every AudioContext suspended.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import puppeteer from "puppeteer-core";

const FIREFOX = process.env.FIREFOX || "/usr/bin/firefox-esr";
const [base, wanted = "voice,fallback,diagnostics"] = process.argv.slice(2);
const PREFS = {
  "media.navigator.streams.fake": true, // a steady tone as the microphone (gated below so the VAD hears turns)
  "media.navigator.permission.disabled": true,
  "media.navigator.permission.fake": true,
  "media.peerconnection.ice.loopback": true, // the namespace has only lo
  "media.peerconnection.ice.obfuscate_host_addresses": false, // aioice cannot resolve mDNS (.local) candidates
  "media.autoplay.default": 0,
  "media.autoplay.blocking_policy": 0,
  "intl.accept_languages": "zh-CN, zh", // the pages' first language
};
// Before any page script: count the peer connections, time the click, gate the fake microphone's tone (1.2 s on,
// 2.5 s off, so it reads as utterances), and report CSP violations as console errors.
const INIT = `(() => {
  const Native = window.RTCPeerConnection;
  window.__pcs = []; window.__clickAt = null; window.__states = [];
  if (Native) window.RTCPeerConnection = class extends Native {
    constructor(...a) {
      super(...a); window.__pcs.push(this);
      this.addEventListener("connectionstatechange",
        () => window.__states.push([Math.round(performance.now()), this.connectionState]));
    }
  };
  const md = navigator.mediaDevices;
  if (md && md.getUserMedia) {
    const gum = md.getUserMedia.bind(md);
    md.getUserMedia = async (c) => {
      const stream = await gum(c);
      const gate = (on) => { if (stream.active) { stream.getAudioTracks().forEach((t) => { t.enabled = on; });
        setTimeout(() => gate(!on), on ? 1200 : 2500); } };
      gate(true);
      return stream;
    };
  }
  document.addEventListener("click", (e) => {
    if (e.target && e.target.id === "voice-start" && window.__clickAt === null) window.__clickAt = performance.now();
  }, true);
  document.addEventListener("securitypolicyviolation",
    (e) => console.error("CSP violation: " + e.violatedDirective + " " + e.blockedURI), true);
})();`;
const STATS = `async () => {
  const pc = window.__pcs[window.__pcs.length - 1];
  const out = { t: performance.now(), click: window.__clickAt, pcs: window.__pcs.length, states: window.__states };
  if (!pc) return out;
  out.state = pc.connectionState;
  const stats = await pc.getStats(), byId = new Map();
  stats.forEach((s) => byId.set(s.id, s));
  stats.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "audio") {
      out.inbound = { level: s.audioLevel || 0, energy: s.totalAudioEnergy || 0, packets: s.packetsReceived || 0,
        samples: s.totalSamplesReceived || 0 };
    } else if (s.type === "outbound-rtp" && s.kind === "audio") {
      out.outbound = { packets: s.packetsSent || 0 };
    } else if (s.type === "candidate-pair" && s.state === "succeeded" && (s.selected || s.nominated)) {
      const l = byId.get(s.localCandidateId), r = byId.get(s.remoteCandidateId);
      out.pair = [l ? l.address + ":" + l.port : "?", r ? r.address + ":" + r.port : "?"];
    }
  });
  return out;
}`;
const PROBE = "() => { const p = document.getElementById('voice-panel'); return p.voiceProbe ? p.voiceProbe() : null; }";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function openPage(browser, problems) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on("console", (m) => { if (m.type() === "error") problems.console.push(m.text()); });
  page.on("pageerror", (e) => problems.page.push(String(e && e.message ? e.message : e)));
  page.on("response", (r) => { if (r.status() >= 400 && !r.url().endsWith("/favicon.ico")) problems.http.push(`${r.status()} ${r.url()}`); });
  await page.evaluateOnNewDocument(INIT);
  return { context, page };
}

async function signIn(page, next = "/") {
  await page.goto(base + "/login" + (next === "/" ? "" : "?next=" + encodeURIComponent(next)));
  await page.type("#email", "betty@123.com");
  await page.type("#password", "Betty@123.com");
  await Promise.all([page.waitForNavigation(), page.click("#login-form button[type=submit]")]);
  return new URL(page.url()).pathname;
}

async function voice(browser) {
  const problems = { console: [], page: [], http: [] }, result = { problems };
  const { context, page } = await openPage(browser, problems);
  result.signed_in_at = await signIn(page);
  await page.waitForSelector("#voice-panel");
  await page.click("#voice-start");
  let firstEnergy = null;
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    const s = await page.evaluate(`(${STATS})()`);
    const inbound = s.inbound || {};
    if (s.state === "connected" && result.click_to_connected_ms === undefined && s.click !== null) {
      const at = (s.states.find(([, st]) => st === "connected") || [s.t])[0];
      result.click_to_connected_ms = Math.round(at - s.click);
    }
    Object.assign(result, { inbound, outbound: s.outbound, pair: s.pair, peer_connections: s.pcs });
    result.max_level = Math.max(result.max_level || 0, inbound.level || 0);
    if ((inbound.level || 0) > 0.01 && firstEnergy === null) {
      firstEnergy = inbound.energy;
      result.click_to_audio_ms = Math.round(s.t - s.click);
      result.packets_at_first_audio = inbound.packets;
    }
    if (firstEnergy !== null && inbound.packets > result.packets_at_first_audio + 50) break; // 1 s more arrived
    await sleep(100);
  }
  result.badge = await page.$eval("#voice-status", (e) => e.textContent);
  result.transcript = await page.$eval("#voice-transcript", (e) => e.innerText);
  await page.click("#voice-stop");
  await page.waitForSelector("#voice-panel[data-state='idle']");
  result.badge_after = await page.$eval("#voice-status", (e) => e.textContent);
  await sleep(300); // the hang-up's answer
  await context.close();
  return result;
}

function nft(args) { execFileSync("nft", args, { stdio: ["ignore", "ignore", "pipe"], timeout: 5000 }); }

async function fallback(browser) {
  const problems = { console: [], page: [], http: [] }, result = { problems };
  const { context, page } = await openPage(browser, problems);
  await signIn(page);
  await page.waitForSelector("#voice-panel");
  nft(["add", "table", "inet", "sgv_test"]); // no UDP at all: ICE cannot connect, only the socket can
  nft(["add", "chain", "inet", "sgv_test", "out", "{ type filter hook output priority 0; policy accept; }"]);
  nft(["add", "rule", "inet", "sgv_test", "out", "meta", "l4proto", "udp", "drop"]);
  try {
    await page.click("#voice-start");
    let firstPlayed = null;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
      const probe = (await page.evaluate(`(${PROBE})()`)) || {};
      const [now, click] = await page.evaluate("[performance.now(), window.__clickAt]");
      Object.assign(result, { transport: probe.transport, state: probe.state, played: probe.played || 0 });
      result.max_output_level = Math.max(result.max_output_level || 0, probe.output || 0);
      if (probe.transport === "websocket" && probe.state === "connected" && result.click_to_ws_connected_ms === undefined) {
        result.click_to_ws_connected_ms = Math.round(now - click);
      }
      if ((probe.output || 0) > 0.01 && firstPlayed === null) {
        firstPlayed = probe.played || 0;
        result.played_at_first_audio = firstPlayed;
        result.click_to_audio_ms = Math.round(now - click);
      }
      if (firstPlayed !== null && (probe.played || 0) > firstPlayed + 24_000) break; // a second more played
      await sleep(100);
    }
    result.peer_connections = await page.evaluate("window.__pcs.length");
    result.badge = await page.$eval("#voice-status", (e) => e.textContent);
    result.transcript = await page.$eval("#voice-transcript", (e) => e.innerText);
    await page.click("#voice-stop");
    await page.waitForSelector("#voice-panel[data-state='idle']");
    result.last_transport = await page.evaluate("localStorage.getItem('voice.transport.last')");
  } finally {
    nft(["delete", "table", "inet", "sgv_test"]);
  }
  await context.close();
  return result;
}

async function diagnostics(browser) {
  const problems = { console: [], page: [], http: [] }, result = { problems };
  const { context, page } = await openPage(browser, problems);
  result.signed_in_at = await signIn(page, "/diagnostics");
  const began = Date.now();
  await page.click("#diag-run-all");
  await page.waitForSelector("[data-testid=diag-summary]", { visible: true, timeout: 40_000 });
  result.run_all_ms = Date.now() - began;
  await page.click("[data-testid=diag-speaker] [data-speaker=heard]");
  await page.waitForSelector("[data-testid=diag-speaker][data-status=pass]");
  result.statuses = await page.$$eval(".diag-row", (rows) => Object.fromEntries(rows.map((r) => [r.dataset.check,
    { status: r.dataset.status, text: r.innerText.replace(/\s+/g, " ").slice(0, 300) }])));
  result.report_id = await page.$eval("[data-testid=diag-report-id]", (e) => e.textContent);
  await context.close();
  return result;
}

// Shared with tests/browser/test_agents_sdk.py (Chromium): minting an `ek_` key in a signed-in gateway page, and the
// SDK's WebRTC call until the reply is done and heard. Each is a function expression; the driver evaluates a call of
// it as an expression (a function with arguments would need eval in the page, which the pages' CSP forbids).
const script = (name) => readFileSync(new URL(name, import.meta.url), "utf8");
const MINT = `(${script("mint_client_secret.js")})()`;
const call = (key) => `(${script("agents_sdk_call.js")})(${JSON.stringify(base)}, ${JSON.stringify(key)})`;

async function agents_sdk(browser) {
  const problems = { console: [], page: [], http: [] }, result = { problems };
  const gateway = await openPage(browser, problems);
  await signIn(gateway.page);
  const keys = [await gateway.page.evaluate(MINT), await gateway.page.evaluate(MINT)];
  result.keys_are_ek = keys.every((k) => typeof k === "string" && k.startsWith("ek_"));
  await gateway.context.close();
  // the app's own pages elsewhere, allowed by CORS_ALLOWED_ORIGINS: one plain, one with a strict CSP of its own
  // (the strict page's problems are kept apart: zod, inside the SDK, probes for eval and Firefox logs the refusal)
  result.strict_csp_problems = { console: [], page: [], http: [] };
  for (const [name, path, key] of [["cross_origin", "/index.html", keys[0]], ["strict_csp", "/strict.html", keys[1]]]) {
    const app = await openPage(browser, name === "strict_csp" ? result.strict_csp_problems : problems);
    await app.page.goto(process.env.FOREIGN_SITE + path);
    result[name] = await app.page.evaluate(call(key));
    await sleep(300); // the hang-up's answer
    await app.context.close();
  }
  return result;
}

const SCENARIOS = { voice, fallback, diagnostics, agents_sdk };
const out = {};
const launched = Date.now();
const browser = await puppeteer.launch({ browser: "firefox", executablePath: FIREFOX, headless: true,
  extraPrefsFirefox: PREFS, protocolTimeout: 60_000 });
out.launch_ms = Date.now() - launched;
out.version = await browser.version();
try {
  for (const name of wanted.split(",")) {
    try {
      out[name] = await SCENARIOS[name](browser);
    } catch (error) {
      out[name] = { error: String(error && error.stack ? error.stack : error) };
    }
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
