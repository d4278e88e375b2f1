"""How long a photo takes to check, decode, shrink and re-encode (web/media/images), and how big the result is.

    .venv/bin/python -m bench.images --repeat 5

Inputs are made in-process (a gradient with film-grain noise, JPEG at FFmpeg quality 4; PNG without noise); each is
prepared `--repeat` times in one worker thread, as the gateway does, and the median and worst wall time are reported.
Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

from tests.support.images import jpeg, png
from web.media.images import ImageGate, ImagePolicy

SIZES = ((640, 480), (1280, 960), (3264, 2448), (4032, 3024), (8000, 6000))


async def measure(kind: str, width: int, height: int, repeat: int) -> dict[str, Any]:
    data = jpeg(width, height) if kind == "jpeg" else png(width, height)
    policy = ImagePolicy(min_interval_s=0.0)
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = await ImageGate(policy).prepare_bytes(data)
        times.append((time.perf_counter() - began) * 1000)
    assert result is not None
    return {"input": f"{kind} {width}×{height}", "input_bytes": len(data), "output": f"{result.width}×{result.height}",
            "output_bytes": len(result.jpeg), "median_ms": round(statistics.median(times), 1),
            "max_ms": round(max(times), 1)}


async def main(repeat: int) -> list[dict[str, Any]]:
    rows = [await measure("jpeg", w, h, repeat) for w, h in SIZES]
    rows.append(await measure("png", 3264, 2448, repeat))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    print(json.dumps(asyncio.run(main(parser.parse_args().repeat)), ensure_ascii=False, indent=1))
