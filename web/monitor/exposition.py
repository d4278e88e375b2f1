"""Prometheus text exposition format 0.0.4, written out by hand (no prometheus_client)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from web.monitor.families import Family, Kind, Sample
from web.monitor.snapshot import MonitorSnapshot

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def render(families: Iterable[Family]) -> str:
    lines: list[str] = []
    seen: set[str] = set()
    for family in families:
        if family.name in seen:
            continue  # a name may be exposed once; the first registration wins
        seen.add(family.name)
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for sample in family.samples:
            labels = ""
            if sample.labels:
                labels = "{" + ",".join(f'{k}="{_escape_label(v)}"' for k, v in sample.labels) + "}"
            lines.append(f"{family.name}{sample.suffix}{labels} {format_value(sample.value)}")
    return "\n".join(lines) + "\n"


def _single(name: str, kind: Kind, help: str, value: float | None) -> Family | None:
    if value is None:
        return None
    return Family(name, kind, help, (Sample("", (), float(value)),))


def snapshot_families(snapshot: MonitorSnapshot, now_monotonic: float | None = None) -> list[Family]:
    age = snapshot.age_s(now_monotonic)
    candidates = [
        _single("event_loop_lag_seconds", "gauge", "How late the monitor's last sleep woke up.", snapshot.loop_lag_s),
        _single(
            "event_loop_lag_max_seconds", "gauge", "Worst event-loop lag over the last ~10 s.", snapshot.loop_lag_max_s
        ),
        _single(
            "process_cpu_percent",
            "gauge",
            "Process CPU use since the previous sample (100 = one core).",
            snapshot.cpu_percent,
        ),
        _single("process_resident_memory_bytes", "gauge", "Resident set size.", snapshot.rss_bytes),
        _single("process_open_fds", "gauge", "Open file descriptors.", snapshot.open_fds),
        _single("process_threads", "gauge", "OS threads in the process.", snapshot.threads),
        _single(
            "active_sessions", "gauge", "Signed-in sessions that are not expired or revoked.", snapshot.active_sessions
        ),
        _single(
            "monitor_snapshot_age_seconds",
            "gauge",
            "Seconds since the collector last published a snapshot.",
            age if math.isfinite(age) else None,
        ),
        _single("monitor_collections_total", "counter", "Snapshots published by the collector.", snapshot.seq),
        _single("monitor_source_errors_total", "counter", "Failed samples of metric sources.", snapshot.errors_total),
    ]
    return [f for f in candidates if f is not None] + list(snapshot.families)
