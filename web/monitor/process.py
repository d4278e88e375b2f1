"""Process CPU, memory, fds and threads via psutil. Blocking-ish (reads /proc): the collector calls it in a thread."""

from __future__ import annotations

from dataclasses import dataclass

import psutil


@dataclass(frozen=True, slots=True)
class ProcessSample:
    cpu_percent: float
    rss_bytes: int
    open_fds: int | None
    threads: int


class ProcessSampler:
    def __init__(self) -> None:
        self._process = psutil.Process()
        # The first interval=None call only starts the measurement window (it returns 0.0); later calls report the
        # CPU used since the previous call. interval>0 would sleep, which is why it is never used (C2).
        self._process.cpu_percent(interval=None)

    def __call__(self) -> ProcessSample:
        proc = self._process
        with proc.oneshot():
            cpu = proc.cpu_percent(interval=None)
            rss = proc.memory_info().rss
            threads = proc.num_threads()
            try:
                fds: int | None = proc.num_fds()
            except (AttributeError, psutil.Error):  # not on Windows
                fds = None
        return ProcessSample(cpu_percent=cpu, rss_bytes=rss, open_fds=fds, threads=threads)
