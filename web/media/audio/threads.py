"""Keep FFmpeg from starting a thread pool per codec and per resampler.

PyAV's encoder converts every input frame through its own `AudioResampler` (Opus needs fixed 960-sample frames), and
that resampler's filter graph is built with automatic threading: FFmpeg then starts a slice-thread pool sized by the
CPU count, for every peer connection (shared/reference/aiortc.md §4). PyAV does not let us reach that internal graph,
so we tell libavutil once, process-wide, that it may assume a single CPU (`av_cpu_force_count(1)`). Audio work per
frame is tens of microseconds; it runs inline on the event loop and gains nothing from threads.

The library is found among the shared objects already mapped into this process (the copy PyAV loaded), so the call
reaches the same libavutil instance PyAV uses. If it cannot be found (not Linux, a static build), we log and carry on:
the cost is extra idle threads, not a failure.
"""

from __future__ import annotations

import ctypes

import av  # noqa: F401  (imported for its side effect: libavutil is mapped into the process)
from loguru import logger

_done = False


def _mapped_libavutil() -> str | None:
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            for line in maps:
                path = line.rsplit(None, 1)[-1]
                if "libavutil" in path and ".so" in path:
                    return path
    except OSError:
        return None
    return None


def single_thread_ffmpeg() -> bool:
    """Force FFmpeg's automatic thread count to 1 (idempotent). Returns True when the setting is in effect."""
    global _done
    if _done:
        return True
    path = _mapped_libavutil()
    if path is None:
        logger.warning("libavutil not found in /proc/self/maps; FFmpeg may start extra threads per call")
        return False
    try:
        lib = ctypes.CDLL(path)
        lib.av_cpu_force_count(1)
        _done = int(lib.av_cpu_count()) == 1
    except (OSError, AttributeError) as exc:
        logger.warning("could not limit FFmpeg threads: {}", exc)
        return False
    return _done
