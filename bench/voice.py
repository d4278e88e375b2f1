"""The voice-path benchmark: one command, results in docs/benchmarks.md (and bench/results.json).

    .venv/bin/python -m bench.voice            # everything, about 10 minutes on a 2-core machine
    .venv/bin/python -m bench.voice --quick    # shorter runs, for a smoke check
    .venv/bin/python -m bench.voice --only capacity   # rerun one section, keep the others from bench/results.json

Sections: server receive latency with 0 % and 2 % loss and after a loss burst (ours vs stock aiortc); end of speech →
first reply audio (fake upstream answering at once); click → connected in headless Chromium; concurrent two-way
calls: CPU, memory and threads per call and how many run with < 1 % late frames (ours vs stock).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from loguru import logger

from bench.browser import aiortc_connect_times, browser_runs
from bench.capacity import ramp
from bench.common import machine
from bench.latency import receive_latency
from bench.report import render
from bench.turn import end_of_speech_to_reply
from web.media.rtc.ice import configure_host_addresses

ROOT = Path(__file__).resolve().parents[1]


SECTIONS = ("latency", "turn", "connect", "capacity")


def _stamp() -> dict[str, Any]:
    return {"date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


async def run_sections(results: dict[str, Any], sections: tuple[str, ...], quick: bool, skip_browser: bool) -> None:
    configure_host_addresses(["127.0.0.1"])  # every benchmark stays on loopback
    meta = results.setdefault("measured", {})
    if "latency" in sections:
        print("receive latency …", flush=True)
        meta["latency"] = _stamp()
        results["receive_latency"] = await receive_latency(8.0 if quick else 15.0)
    if "turn" in sections:
        print("end of speech → first reply audio …", flush=True)
        meta["turn"] = _stamp()
        results["turn"] = await end_of_speech_to_reply(15.0 if quick else 40.0)
    if "connect" in sections:
        print("connect time …", flush=True)
        meta["connect"] = _stamp()
        results["connect_aiortc"] = await aiortc_connect_times(5 if quick else 10)
        if not skip_browser:
            results["connect_browser"] = await asyncio.to_thread(browser_runs, 2 if quick else 5)
    if "capacity" in sections:
        print("capacity …", flush=True)
        meta["capacity"] = _stamp()
        levels = (1, 4, 8) if quick else (1, 4, 8, 12, 16, 20, 24, 28, 32, 40)
        results["capacity"] = {"ours": await ramp("ours", levels), "stock aiortc": await ramp("stock", levels)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter runs (numbers are noisier)")
    parser.add_argument("--skip-browser", action="store_true", help="leave out the Chromium runs")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {', '.join(SECTIONS)}; the other "
                        "sections are kept from the previous bench/results.json (each section states when it ran)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    logging.basicConfig(level=logging.WARNING)
    sections = tuple(s.strip() for s in args.only.split(",") if s.strip()) or SECTIONS
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    saved = ROOT / "bench" / "results.json"
    results: dict[str, Any] = json.loads(saved.read_text(encoding="utf-8")) if args.only and saved.exists() else {}
    results.update(machine=machine(), quick=args.quick)
    asyncio.run(run_sections(results, sections, args.quick, args.skip_browser))
    saved.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    args.out.write_text(render(results), encoding="utf-8")
    print(f"wrote {args.out} and bench/results.json", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
