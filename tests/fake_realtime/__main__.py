"""Run the fake Realtime server as a process (browser tests): `python -m tests.fake_realtime --port N --mode …`."""

from __future__ import annotations

import argparse
import asyncio
import signal

from .options import FakeOptions
from .server import FakeRealtimeServer

MODES = ("normal", "401", "429", "stall", "close", "slow", "expiry")


def options_from_args(args: argparse.Namespace) -> FakeOptions:
    options = FakeOptions(api_key=args.api_key, deployments=tuple(args.deployment), reply_ms=args.reply_ms,
                          audio_speed=args.audio_speed, faulty_connections=args.faulty_connections)
    if args.mode in ("401", "429"):
        options.reject_status = int(args.mode)
    elif args.mode == "stall":
        options.stall_after_s = args.stall_after
    elif args.mode == "close":
        options.close_on_audio = True
    elif args.mode == "slow":
        options.first_audio_delay_s = args.first_audio_delay
    elif args.mode == "expiry":
        options.session_expiry_s = args.expiry_after
    return options


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.fake_realtime", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mode", choices=MODES, default="normal")
    parser.add_argument("--api-key", default="test-key")
    parser.add_argument("--deployment", action="append", default=None, help="accepted deployment (repeatable)")
    parser.add_argument("--reply-ms", type=int, default=600)
    parser.add_argument("--audio-speed", type=float, default=10.0)
    parser.add_argument("--stall-after", type=float, default=1.0)
    parser.add_argument("--first-audio-delay", type=float, default=2.0)
    parser.add_argument("--expiry-after", type=float, default=5.0)
    parser.add_argument("--faulty-connections", type=int, default=None)
    args = parser.parse_args(argv)
    args.deployment = args.deployment or ["gpt-realtime"]
    return args


async def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    server = FakeRealtimeServer(options_from_args(args), host=args.host, port=args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        print(f"FAKE_REALTIME_READY {server.base_url}", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
