// The Agents SDK's WebSocket transport in Node, unchanged: connect with the given key, speak a tone, hear the reply.
// Usage: node agents_ws.mjs <ws url> <key>; prints one JSON line with what happened.
import { OpenAIRealtimeWebSocket } from "@openai/agents-realtime";

const [url, apiKey] = process.argv.slice(2);
const transport = new OpenAIRealtimeWebSocket({ url });
const events = [];
let audioBytes = 0;
transport.on("*", (event) => events.push(event.type));
transport.on("audio", (event) => { audioBytes += event.data.byteLength; });
const timer = setTimeout(() => { console.log(JSON.stringify({ error: "timeout", events })); process.exit(1); }, 20000);
await transport.connect({ apiKey, model: "gpt-realtime", initialSessionConfig: { instructions: "Be brief." } });
const pcm = new Int16Array(24000);  // one second of a 440 Hz tone, PCM16 24 kHz
for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 24000));
transport.sendEvent({ type: "session.update", session: { type: "realtime", audio: { input: { turn_detection: null } } } });
transport.sendAudio(pcm.buffer, { commit: true });
transport.sendEvent({ type: "response.create" });
while (!events.includes("response.done")) await new Promise((r) => setTimeout(r, 50));
clearTimeout(timer);
transport.close();
console.log(JSON.stringify({ audio_bytes: audioBytes, events }));
process.exit(0);
