"""`python -m web device`: the smallest working glasses client — copy it.

What it does, in order: connect to `wss://<server>/v1/realtime` with a device token (`Authorization: Bearer`), say
that it speaks PCM16 at 16 kHz both ways (`session.update` `audio.input/output.format`), optionally send one photo
(`conversation.item.create` with an `input_image` data URL; the server shrinks it), stream a 16 kHz mono WAV (or the
default microphone, if the `sounddevice` package is installed) in 20 ms appends at real-time pace followed by a
second of silence so the server's turn detection ends the turn, then print the transcripts and save the spoken
reply to a WAV (and play it, with `--play` and `sounddevice`). It needs only `websockets` and the standard library.

    python -m web device --url wss://voice.example.com --token "$DEVICE_TOKEN" --wav question.wav \\
        --image photo.jpg --out reply.wav
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import wave
from pathlib import Path
from typing import Any

RATE = 16_000
CHUNK_MS = 20
TRAILING_SILENCE_MS = 1_000
REPLY_TIMEOUT_S = 30.0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        "device", help="reference glasses client: stream a WAV or the microphone, send a photo, save the reply",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="ws://127.0.0.1:3000", help="server origin (ws:// or wss://)")
    parser.add_argument("--token", default=os.environ.get("DEVICE_TOKEN", ""), help="device token ($DEVICE_TOKEN)")
    parser.add_argument("--wav", type=Path, help="16 kHz mono 16-bit WAV to send (default: the microphone)")
    parser.add_argument("--seconds", type=float, default=5.0, help="microphone recording length")
    parser.add_argument("--image", type=Path, help="a JPEG or PNG to send before speaking")
    parser.add_argument("--question", default="", help="text sent with the photo, e.g. 'what is this?'")
    parser.add_argument("--out", type=Path, default=Path("reply.wav"), help="where to save the spoken reply")
    parser.add_argument("--play", action="store_true", help="play the reply (needs sounddevice)")
    return parser


def read_wav(path: Path) -> bytes:
    with wave.open(str(path), "rb") as wav:
        if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) != (RATE, 1, 2):
            raise SystemExit(f"{path}: need 16 kHz mono 16-bit PCM (convert: sox in.wav -r 16000 -c 1 -b 16 out.wav)")
        return wav.readframes(wav.getnframes())


def record_microphone(seconds: float) -> bytes:
    try:
        import sounddevice
    except ImportError as exc:
        raise SystemExit("no --wav given and the sounddevice package is not installed") from exc
    print(f"recording {seconds:g} s …", file=sys.stderr)
    frames = sounddevice.rec(int(seconds * RATE), samplerate=RATE, channels=1, dtype="int16")
    sounddevice.wait()
    return bytes(frames.tobytes())


def photo_event(path: Path, question: str) -> dict[str, Any]:
    data = path.read_bytes()
    mime = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
    content: list[dict[str, Any]] = [{"type": "input_text", "text": question}] if question else []
    content.append({"type": "input_image", "image_url": f"data:{mime};base64,{base64.b64encode(data).decode()}"})
    return {"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": content}}


async def stream_audio(ws: Any, pcm: bytes) -> None:
    step = RATE * 2 * CHUNK_MS // 1000
    pcm += bytes(RATE * 2 * TRAILING_SILENCE_MS // 1000)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for index, offset in enumerate(range(0, len(pcm), step)):
        await asyncio.sleep(max(0.0, started + index * CHUNK_MS / 1000 - loop.time()))  # real-time pace
        chunk = base64.b64encode(pcm[offset : offset + step]).decode()
        await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))


async def converse(args: argparse.Namespace, pcm: bytes) -> tuple[bytes, list[str]]:
    from websockets.asyncio.client import connect

    url = args.url.rstrip("/") + "/v1/realtime"
    reply, said = bytearray(), []
    async with connect(url, additional_headers={"Authorization": f"Bearer {args.token}"}, max_size=None) as ws:
        call_id = ws.response.headers.get("x-call-id") if ws.response is not None else None
        print(f"call {call_id} (photos also go to POST /v1/realtime/calls/{call_id}/images)", file=sys.stderr)
        first = json.loads(await ws.recv())
        if first.get("type") != "session.created":
            raise SystemExit(f"the server refused the call: {first.get('error', first)}")
        fmt = {"type": "audio/pcm", "rate": RATE}
        await ws.send(json.dumps({"type": "session.update", "session": {
            "type": "realtime", "audio": {"input": {"format": fmt}, "output": {"format": fmt}}}}))
        if args.image:
            await ws.send(json.dumps(photo_event(args.image, args.question)))
        sender = asyncio.create_task(stream_audio(ws, pcm))
        try:
            async with asyncio.timeout(REPLY_TIMEOUT_S + len(pcm) / (RATE * 2)):
                async for message in ws:
                    event = json.loads(message)
                    kind = event.get("type")
                    if kind == "response.output_audio.delta":
                        reply += base64.b64decode(event["delta"])
                    elif kind == "response.output_audio_transcript.done":
                        said.append(f"assistant: {event.get('transcript', '')}")
                    elif kind == "conversation.item.input_audio_transcription.completed":
                        said.append(f"you: {event.get('transcript', '')}")
                    elif kind == "error":
                        print(f"server error: {event['error'].get('code')}: {event['error'].get('message')}",
                              file=sys.stderr)
                    elif kind == "response.done":
                        break
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
    return bytes(reply), said


def save_wav(path: Path, pcm: bytes) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(pcm)


def run(args: argparse.Namespace) -> int:
    if not args.token:
        print("error: a device token is needed (--token or $DEVICE_TOKEN; create one on the account page)",
              file=sys.stderr)
        return 2
    pcm = read_wav(args.wav) if args.wav else record_microphone(args.seconds)
    try:
        reply, said = asyncio.run(converse(args, pcm))
    except TimeoutError:
        print("error: no reply in time", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    for line in said:
        print(line)
    save_wav(args.out, reply)
    print(f"reply: {len(reply) / (RATE * 2):.1f} s of audio saved to {args.out}", file=sys.stderr)
    if args.play and reply:
        import sounddevice

        sounddevice.play(memoryview(reply).cast("h"), RATE, blocking=True)
    return 0
