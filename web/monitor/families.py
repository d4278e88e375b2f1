"""Plain, immutable metric data shared by the registry, the collector's snapshot and the exposition renderer.

A leaf module: it imports nothing from the monitor package, so everything may depend on it without cycles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["counter", "gauge", "histogram"]
Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Sample:
    suffix: str  # "" for counters and gauges; "_bucket", "_sum", "_count" for histograms
    labels: Labels
    value: float


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    kind: Kind
    help: str
    samples: tuple[Sample, ...]
