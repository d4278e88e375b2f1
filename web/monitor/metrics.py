"""Counters, gauges and histograms for the request path: O(1) updates, no locks, no awaits, no I/O.

Counters and histograms keep one dict per thread ("shard"). A thread only ever writes its own shard, so a
read-modify-write can never interleave with another writer and no update is lost, without a lock. Readers
(`/metrics`) copy each shard with one C-level call and add them up. Gauges are last-write-wins single stores.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left
from collections.abc import Iterable
from typing import Any, TypeVar

from web.monitor.families import Family, Kind, Labels, Sample
from web.monitor.sources import check_names

Key = tuple[str, ...]
MAX_SERIES = 1000  # per metric and thread; beyond it new label sets fold into one "other" series
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_S = TypeVar("_S")


class _Shards:
    __slots__ = ("_all", "_local")

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: list[dict[Key, Any]] = []

    def mine(self) -> dict[Key, Any]:
        try:
            shard: dict[Key, Any] = self._local.shard
        except AttributeError:
            shard = {}
            self._local.shard = shard
            self._all.append(shard)  # list.append is atomic; happens once per thread
        return shard

    def items(self) -> list[list[tuple[Key, Any]]]:
        return [list(shard.items()) for shard in list(self._all)]


class _Metric:
    kind: Kind

    def __init__(self, name: str, help: str, labelnames: Iterable[str] = ()) -> None:
        self.name = name
        self.help = help
        self.labelnames = tuple(labelnames)
        check_names(name, self.labelnames)
        self._overflow: Key = tuple("other" for _ in self.labelnames)

    def _key(self, labelvalues: tuple[str, ...], store: dict[Key, Any]) -> Key:
        if len(labelvalues) != len(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {labelvalues!r}")
        if labelvalues in store or len(store) < MAX_SERIES:
            return labelvalues
        return self._overflow

    def _labels(self, key: Key) -> Labels:
        return tuple(zip(self.labelnames, key, strict=True))

    def collect(self) -> Family:
        raise NotImplementedError


class Counter(_Metric):
    kind: Kind = "counter"

    def __init__(self, name: str, help: str, labelnames: Iterable[str] = ()) -> None:
        super().__init__(name, help, labelnames)
        self._shards = _Shards()

    def inc(self, *labelvalues: str, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("counters only go up")
        shard = self._shards.mine()
        key = self._key(labelvalues, shard)
        shard[key] = shard.get(key, 0.0) + amount

    def values(self) -> dict[Key, float]:
        totals: dict[Key, float] = {}
        for items in self._shards.items():
            for key, value in items:
                totals[key] = totals.get(key, 0.0) + value
        return totals

    def value(self, *labelvalues: str) -> float:
        return self.values().get(labelvalues, 0.0)

    def collect(self) -> Family:
        samples = tuple(Sample("", self._labels(k), v) for k, v in sorted(self.values().items()))
        return Family(self.name, self.kind, self.help, samples)


class Gauge(_Metric):
    kind: Kind = "gauge"

    def __init__(self, name: str, help: str, labelnames: Iterable[str] = ()) -> None:
        super().__init__(name, help, labelnames)
        self._values: dict[Key, float] = {}

    def set(self, value: float, *labelvalues: str) -> None:
        self._values[self._key(labelvalues, self._values)] = float(value)

    def value(self, *labelvalues: str) -> float:
        return self._values.get(labelvalues, 0.0)

    def collect(self) -> Family:
        samples = tuple(Sample("", self._labels(k), v) for k, v in sorted(list(self._values.items())))
        return Family(self.name, self.kind, self.help, samples)


class Histogram(_Metric):
    kind: Kind = "histogram"

    def __init__(
        self, name: str, help: str, labelnames: Iterable[str] = (), buckets: Iterable[float] = LATENCY_BUCKETS
    ) -> None:
        super().__init__(name, help, labelnames)
        bounds = sorted(float(b) for b in buckets if not math.isinf(b))
        if not bounds:
            raise ValueError("a histogram needs at least one finite bucket")
        self.bounds = tuple(bounds)
        self._shards = _Shards()

    def observe(self, value: float, *labelvalues: str) -> None:
        shard = self._shards.mine()
        key = self._key(labelvalues, shard)
        row = shard.get(key)
        if row is None:
            # per-bucket counts (the last one is +Inf), then the sum
            row = [0.0] * (len(self.bounds) + 2)
            shard[key] = row
        row[bisect_left(self.bounds, value)] += 1
        row[-1] += value

    def rows(self) -> dict[Key, list[float]]:
        merged: dict[Key, list[float]] = {}
        for items in self._shards.items():
            for key, row in items:
                current = list(row)
                total = merged.get(key)
                merged[key] = current if total is None else [a + b for a, b in zip(total, current, strict=True)]
        return merged

    def count(self, *labelvalues: str) -> float:
        row = self.rows().get(labelvalues)
        return sum(row[:-1]) if row else 0.0

    def collect(self) -> Family:
        samples: list[Sample] = []
        for key, row in sorted(self.rows().items()):
            labels = self._labels(key)
            running = 0.0
            for bound, count in zip((*self.bounds, math.inf), row[:-1], strict=True):
                running += count
                le = "+Inf" if math.isinf(bound) else _fmt_bound(bound)
                samples.append(Sample("_bucket", (*labels, ("le", le)), running))
            samples.append(Sample("_sum", labels, row[-1]))
            samples.append(Sample("_count", labels, running))
        return Family(self.name, self.kind, self.help, tuple(samples))


def _fmt_bound(bound: float) -> str:
    return repr(bound)


class MetricsRegistry:
    """Metrics are registered at start-up; `collect()` is read-only and safe to call from any thread."""

    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}

    def _register(self, metric: _S) -> _S:
        assert isinstance(metric, _Metric)
        existing = self._metrics.get(metric.name)
        if existing is not None:
            same = type(existing) is type(metric) and existing.labelnames == metric.labelnames
            if not same:
                raise ValueError(f"metric {metric.name!r} is already registered with another type or labels")
            return existing  # type: ignore[return-value]
        self._metrics[metric.name] = metric
        return metric

    def counter(self, name: str, help: str, labelnames: Iterable[str] = ()) -> Counter:
        return self._register(Counter(name, help, labelnames))

    def gauge(self, name: str, help: str, labelnames: Iterable[str] = ()) -> Gauge:
        return self._register(Gauge(name, help, labelnames))

    def histogram(
        self, name: str, help: str, labelnames: Iterable[str] = (), buckets: Iterable[float] = LATENCY_BUCKETS
    ) -> Histogram:
        return self._register(Histogram(name, help, labelnames, buckets))

    def names(self) -> frozenset[str]:
        return frozenset(self._metrics)

    def collect(self) -> list[Family]:
        return [metric.collect() for metric in list(self._metrics.values())]
