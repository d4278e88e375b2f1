"""Metrics and liveness that cannot deadlock: O(1) request-path metrics, one collector task publishing immutable
snapshots, a heartbeat + watchdog thread, Prometheus text rendering. See monitoring.py for the facade."""

from __future__ import annotations

from web.monitor.exposition import CONTENT_TYPE
from web.monitor.http_metrics import UNMATCHED_ROUTE, HttpMetrics
from web.monitor.metrics import Counter, Gauge, Histogram, MetricsRegistry
from web.monitor.monitoring import Monitoring
from web.monitor.snapshot import MonitorSnapshot

__all__ = [
    "CONTENT_TYPE",
    "UNMATCHED_ROUTE",
    "Counter",
    "Gauge",
    "Histogram",
    "HttpMetrics",
    "MetricsRegistry",
    "MonitorSnapshot",
    "Monitoring",
]
