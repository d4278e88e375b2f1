"""Callback metrics that other modules register (voice calls, realtime upstream counters, log queue, …).

The collector samples them once per tick; request code never calls them. A leaf module (no monitor imports).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from web.monitor.families import Family, Kind, Sample

SourceValue = float | int | Mapping[tuple[str, ...], float] | Mapping[str, float]
SourceFn = Callable[[], SourceValue]

METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
MAX_SOURCE_SERIES = 200


def check_names(name: str, labelnames: tuple[str, ...]) -> None:
    if not METRIC_NAME.match(name):
        raise ValueError(f"invalid metric name {name!r}")
    for label in labelnames:
        if not LABEL_NAME.match(label) or label.startswith("__") or label == "le":
            raise ValueError(f"invalid label name {label!r} for {name}")


@dataclass(frozen=True, slots=True)
class CallbackSource:
    """`fn` must be synchronous, cheap and non-blocking (it runs on the event loop). It returns one number, or a
    mapping from label values (a tuple, or a plain string when there is one label) to numbers."""

    name: str
    help: str
    fn: SourceFn
    labelnames: tuple[str, ...] = ()
    kind: Kind = "gauge"

    def sample(self) -> Family:
        raw = self.fn()
        samples: list[Sample] = []
        if isinstance(raw, Mapping):
            for key, value in list(raw.items())[:MAX_SOURCE_SERIES]:
                values = (key,) if isinstance(key, str) else tuple(str(v) for v in key)
                if len(values) != len(self.labelnames):
                    raise ValueError(f"{self.name}: expected labels {self.labelnames}, got {values}")
                samples.append(Sample("", tuple(zip(self.labelnames, values, strict=True)), float(value)))
        else:
            if self.labelnames:
                raise ValueError(f"{self.name}: labelled source returned a single number")
            samples.append(Sample("", (), float(raw)))
        return Family(self.name, self.kind, self.help, tuple(samples))


class SourceList:
    """Registration happens at start-up; the collector reads `items()`. The tuple is swapped, never mutated."""

    def __init__(self) -> None:
        self._items: tuple[CallbackSource, ...] = ()

    def add(self, source: CallbackSource) -> None:
        check_names(source.name, source.labelnames)
        if source.kind == "histogram":
            raise ValueError("callback sources can be gauges or counters")
        if any(existing.name == source.name for existing in self._items):
            raise ValueError(f"metric {source.name!r} is already registered")
        self._items = (*self._items, source)

    def remove(self, name: str) -> None:
        self._items = tuple(s for s in self._items if s.name != name)

    def items(self) -> tuple[CallbackSource, ...]:
        return self._items

    def names(self) -> frozenset[str]:
        return frozenset(s.name for s in self._items)
