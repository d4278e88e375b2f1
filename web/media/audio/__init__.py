"""Audio helpers for the voice path: single-threaded resampling and Opus coding on PyAV/FFmpeg.

PyAV's stock `AudioResampler` builds an FFmpeg filter graph with automatic threading, which starts one thread per CPU
per resampler (shared/reference/aiortc.md §4). Everything here builds its graphs with `threads = 1`, so a call costs
no extra OS threads, and the work (tens of microseconds per 20 ms frame) runs inline on the event loop.
"""
