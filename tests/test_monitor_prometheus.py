"""Prometheus text exposition (format 0.0.4): a strict parser in the test checks what /metrics renders."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import pytest

from web.monitor.exposition import render, snapshot_families
from web.monitor.families import Family, Sample
from web.monitor.metrics import MetricsRegistry
from web.monitor.snapshot import MonitorSnapshot

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(?:,|$)')
_SUFFIXES = {"counter": ("",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}


@dataclass
class ParsedFamily:
    kind: str = ""
    help: str = ""
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)


def _labels(raw: str | None) -> dict[str, str]:
    if not raw:
        return {}
    pos, out = 0, {}
    while pos < len(raw):
        match = _LABEL.match(raw, pos)
        assert match, f"bad label syntax at {raw[pos:]!r}"
        key, value = match.group(1), match.group(2)
        assert key not in out, f"duplicate label {key}"
        out[key] = value.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        pos = match.end()
    return out


def parse_exposition(text: str) -> dict[str, ParsedFamily]:
    """Parse and validate; raises AssertionError on anything a Prometheus server would reject."""
    assert text.endswith("\n"), "exposition must end with a newline"
    families: dict[str, ParsedFamily] = {}
    current: str | None = None
    seen_series: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert name not in families, f"family {name} declared twice"
            families[name] = ParsedFamily(help=line.split(" ", 3)[3] if line.count(" ") >= 3 else "")
            current = name
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name == current and kind in _SUFFIXES, line
            families[name].kind = kind
        elif line.startswith("#") or not line:
            continue
        else:
            match = _SAMPLE.match(line)
            assert match, f"bad sample line {line!r}"
            assert current is not None and families[current].kind, f"sample before TYPE: {line!r}"
            name = match.group("name")
            suffix = name[len(current) :] if name.startswith(current) else None
            assert suffix in _SUFFIXES[families[current].kind], f"{name} does not belong to {current}"
            labels = _labels(match.group("labels"))
            value = float(match.group("value"))  # accepts +Inf / NaN as Prometheus does
            series = (name, tuple(sorted(labels.items())))
            assert series not in seen_series, f"duplicate series {series}"
            seen_series.add(series)
            families[current].samples.append((name, labels, value))
    for name, fam in families.items():
        if fam.kind == "histogram":
            _check_histogram(name, fam)
    return families


def _check_histogram(name: str, fam: ParsedFamily) -> None:
    groups: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
    counts: dict[tuple[tuple[str, str], ...], float] = {}
    for sample_name, labels, value in fam.samples:
        base = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        if sample_name.endswith("_bucket"):
            groups.setdefault(base, []).append((float(labels["le"]), value))
        elif sample_name.endswith("_count"):
            counts[base] = value
    for base, buckets in groups.items():
        bounds = [b for b, _ in buckets]
        values = [v for _, v in buckets]
        assert bounds == sorted(bounds) and math.isinf(bounds[-1]), f"{name}: buckets out of order or no +Inf"
        assert values == sorted(values), f"{name}: buckets are not cumulative"
        assert values[-1] == counts[base], f"{name}: +Inf bucket != _count"


def test_registry_renders_valid_exposition() -> None:
    reg = MetricsRegistry()
    requests = reg.counter("http_requests_total", "Requests.", ("method", "route", "status"))
    latency = reg.histogram("http_request_duration_seconds", "Latency.", ("route",), buckets=(0.1, 1.0))
    gauge = reg.gauge("temperature", "A gauge\nwith a newline in its help \\ text.")
    requests.inc("GET", "/a", "200")
    requests.inc("GET", "/a", "200")
    requests.inc("POST", '/we"ird\\route\n', "500")
    for value in (0.05, 0.5, 0.5, 7.0):
        latency.observe(value, "/a")
    gauge.set(-1.5)
    parsed = parse_exposition(render(reg.collect()))
    samples = {(n, tuple(sorted(lbl.items()))): v for n, lbl, v in parsed["http_requests_total"].samples}
    assert samples[("http_requests_total", (("method", "GET"), ("route", "/a"), ("status", "200")))] == 2
    assert samples[("http_requests_total", (("method", "POST"), ("route", '/we"ird\\route\n'), ("status", "500")))] == 1
    hist = {(n, lbl.get("le")): v for n, lbl, v in parsed["http_request_duration_seconds"].samples}
    assert hist[("http_request_duration_seconds_bucket", "0.1")] == 1
    assert hist[("http_request_duration_seconds_bucket", "1.0")] == 3
    assert hist[("http_request_duration_seconds_bucket", "+Inf")] == 4
    assert hist[("http_request_duration_seconds_sum", None)] == pytest.approx(8.05)
    assert parsed["temperature"].samples == [("temperature", {}, -1.5)]
    assert parsed["temperature"].help == "A gauge\\nwith a newline in its help \\\\ text."


def test_snapshot_families_render_and_skip_unknown_values() -> None:
    snap = MonitorSnapshot(
        seq=3,
        taken_monotonic=100.0,
        interval_s=1.0,
        loop_lag_s=0.002,
        cpu_percent=12.5,
        rss_bytes=50_000_000,
        active_sessions=None,
        families=(Family("voice_calls_active", "gauge", "Calls.", (Sample("", (("mode", "echo"),), 2.0),)),),
    )
    parsed = parse_exposition(render(snapshot_families(snap, now_monotonic=101.0)))
    assert parsed["event_loop_lag_seconds"].samples[0][2] == 0.002
    assert parsed["process_resident_memory_bytes"].samples[0][2] == 50_000_000
    assert parsed["monitor_snapshot_age_seconds"].samples[0][2] == 1.0
    assert parsed["voice_calls_active"].samples == [("voice_calls_active", {"mode": "echo"}, 2.0)]
    assert "active_sessions" not in parsed  # unknown is absent, not a misleading 0


def test_parser_rejects_broken_exposition() -> None:
    """Guard: the parser used by these tests does reject what Prometheus rejects."""
    broken = [
        "# HELP a x\n# TYPE a counter\na 1",  # no final newline
        "a 1\n",  # sample without TYPE
        '# HELP a x\n# TYPE a counter\na{b="1"} 1\na{b="1"} 2\n',  # duplicate series
        "# HELP a x\n# TYPE a counter\na{b=1} 1\n",  # unquoted label value
        '# HELP h x\n# TYPE h histogram\nh_bucket{le="1"} 5\nh_bucket{le="+Inf"} 3\nh_count 3\nh_sum 1\n',
    ]
    for text in broken:
        with pytest.raises(AssertionError):
            parse_exposition(text)
