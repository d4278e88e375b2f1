// AudioWorklet processors for the WebSocket voice path (loaded by voice-ws.js with audioWorklet.addModule).
//   pcm-capture:  microphone (context rate) → low-pass + resample → 24 kHz PCM16, posted in 20 ms Int16Arrays.
//   pcm-playback: 24 kHz PCM16 from the model → jitter buffer → resample → speakers; "clear" empties it at once
//                 (barge-in); posts {played, level, peak, buffered, underruns} about every 50 ms.
// Both processors live in one AudioWorkletGlobalScope, so they share `echo` below without any message latency.
"use strict";

const RATE = 24000;
const CHUNK = 480; // 20 ms at 24 kHz
// Recent playback level. While the model speaks, the capture side sends silence instead of microphone blocks that
// are not clearly louder than it: Web Audio output is not reliably in the browser's echo canceller's reference, and
// otherwise the server's VAD would hear the reply through the speakers and interrupt it. Speaking up still barges in.
const echo = { level: 0, until: 0 };
const GATE_FLOOR = 0.02; // RMS a microphone block must exceed to pass while the model is speaking
const GATE_RATIO = 0.6; //  … or this fraction of the playback level, whichever is higher
const GATE_TAIL_S = 0.25; // the gate stays shut this long after playback stops (room echo tail)

function rms(block) {
  let sum = 0;
  for (let i = 0; i < block.length; i++) sum += block[i] * block[i];
  return block.length ? Math.sqrt(sum / block.length) : 0;
}

class Capture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / RATE; // input samples per output sample
    this.t = 0; // position of the next output sample, in input samples, relative to the current block
    this.prev = 0;
    this.out = new Int16Array(CHUNK);
    this.n = 0;
    this.mic = 0; // microphone envelope: fast attack, ~100 ms release, so the gate does not chop syllables
    // 2nd-order low-pass (RBJ cookbook) at 0.45 × 24 kHz against aliasing when the context runs faster than 24 kHz.
    const f = Math.min(0.45 * RATE, 0.45 * sampleRate) / sampleRate;
    const w = 2 * Math.PI * f, alpha = Math.sin(w) / (2 * Math.SQRT1_2), c = Math.cos(w), a0 = 1 + alpha;
    this.b0 = (1 - c) / 2 / a0; this.b1 = (1 - c) / a0; this.b2 = this.b0;
    this.a1 = -2 * c / a0; this.a2 = (1 - alpha) / a0;
    this.x1 = this.x2 = this.y1 = this.y2 = 0;
    this.filter = sampleRate > RATE;
    this.buf = new Float32Array(128);
    this.silence = new Float32Array(128);
  }

  process(inputs) {
    // Firefox hands a disabled or muted microphone track over as an input with no channel: send its silence all
    // the same, or the server's VAD, which runs on the audio it receives, never hears the pause that ends a turn.
    const input = (inputs[0] && inputs[0][0]) || this.silence;
    if (this.buf.length < input.length) this.buf = new Float32Array(input.length);
    const x = this.buf.subarray(0, input.length);
    for (let i = 0; i < input.length; i++) {
      let v = input[i];
      if (this.filter) {
        const y = this.b0 * v + this.b1 * this.x1 + this.b2 * this.x2 - this.a1 * this.y1 - this.a2 * this.y2;
        this.x2 = this.x1; this.x1 = v; this.y2 = this.y1; this.y1 = y; v = y;
      }
      x[i] = v;
    }
    this.mic = Math.max(rms(x), this.mic * 0.97);
    const gated = currentTime < echo.until && this.mic < Math.max(GATE_FLOOR, GATE_RATIO * echo.level);
    const n = x.length;
    let t = this.t;
    while (t < n - 1) {
      const i = Math.floor(t), frac = t - i;
      const a = i < 0 ? this.prev : x[i];
      const s = gated ? 0 : a + (x[i + 1] - a) * frac;
      this.out[this.n++] = Math.max(-32768, Math.min(32767, Math.round(s * 32767)));
      if (this.n === CHUNK) {
        this.port.postMessage(this.out, [this.out.buffer]);
        this.out = new Int16Array(CHUNK);
        this.n = 0;
      }
      t += this.step;
    }
    this.t = t - n;
    this.prev = x[n - 1];
    return true;
  }
}

class Playback extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const opts = (options && options.processorOptions) || {};
    this.prebuffer = Math.round(((opts.prebufferMs || 80) * RATE) / 1000); // jitter buffer depth before playing
    this.cap = RATE * (opts.maxSeconds || 120); // bound on queued audio; the oldest goes first beyond it
    this.step = RATE / sampleRate; // 24 kHz samples per output sample
    this.chunks = []; // Float32Arrays at 24 kHz
    this.queued = 0;
    this.pos = 0; // index into chunks[0]
    this.frac = 0;
    this.playing = false;
    this.draining = false; // the response ended: play the tail even if shorter than the prebuffer
    this.played = 0; // 24 kHz samples played since start (for truncation)
    this.peak = 0;
    this.underruns = 0;
    this.level = 0;
    this.lastReport = 0;
    this.port.onmessage = (e) => this.command(e.data);
  }

  command(data) {
    if (data instanceof Int16Array) {
      const f = new Float32Array(data.length);
      for (let i = 0; i < data.length; i++) f[i] = data[i] / 32768;
      this.chunks.push(f);
      this.queued += f.length;
      this.draining = false;
      while (this.queued > this.cap && this.chunks.length > 1) this.queued -= this.chunks.shift().length;
    } else if (data === "clear") {
      this.chunks = []; this.queued = 0; this.pos = 0; this.frac = 0; this.playing = false;
      echo.level = 0; echo.until = 0;
    } else if (data === "drain") {
      this.draining = true;
    }
  }

  sample(offset) {
    let index = this.pos + offset, c = 0;
    while (c < this.chunks.length && index >= this.chunks[c].length) index -= this.chunks[c++].length;
    return c < this.chunks.length ? this.chunks[c][index] : 0;
  }

  process(inputs, outputs) {
    const out = outputs[0][0];
    if (!this.playing && this.queued - this.pos >= (this.draining ? 2 : this.prebuffer)) this.playing = true;
    let sum = 0;
    for (let i = 0; i < out.length; i++) {
      if (!this.playing || this.queued - this.pos < 2) {
        if (this.playing) { this.playing = false; if (!this.draining) this.underruns++; }
        out[i] = 0;
        continue;
      }
      const a = this.sample(0), b = this.sample(1);
      const v = a + (b - a) * this.frac;
      out[i] = v;
      sum += v * v;
      this.frac += this.step;
      while (this.frac >= 1) {
        this.frac -= 1;
        this.pos++;
        this.played++;
        if (this.pos >= this.chunks[0].length) { this.pos -= this.chunks[0].length; this.queued -= this.chunks.shift().length; }
      }
    }
    for (let ch = 1; ch < outputs[0].length; ch++) outputs[0][ch].set(out);
    const level = Math.sqrt(sum / out.length);
    this.level = Math.max(level, this.level * 0.95);
    this.peak = Math.max(this.peak, level);
    if (level > 0.001) { echo.level = this.level; echo.until = currentTime + GATE_TAIL_S; }
    if (currentTime - this.lastReport >= 0.05) {
      this.lastReport = currentTime;
      this.port.postMessage({ played: this.played, level: this.level, peak: this.peak,
        buffered: this.queued - this.pos, underruns: this.underruns });
    }
    return true;
  }
}

registerProcessor("pcm-capture", Capture);
registerProcessor("pcm-playback", Playback);
