"""The request-path metrics the request-context middleware records: count and latency per route template."""

from __future__ import annotations

from web.monitor.metrics import LATENCY_BUCKETS, MetricsRegistry

# Any other method string is folded into "OTHER" so a client cannot create unbounded label values.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"


class HttpMetrics:
    def __init__(self, registry: MetricsRegistry) -> None:
        self.requests = registry.counter(
            "http_requests_total", "HTTP requests by method, route template and status.", ("method", "route", "status")
        )
        self.latency = registry.histogram(
            "http_request_duration_seconds",
            "Time from request start to the end of the response body, by method and route template.",
            ("method", "route"),
            LATENCY_BUCKETS,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """O(1), no await, no lock, no I/O: safe on the request path."""
        method = method if method in KNOWN_METHODS else "OTHER"
        self.requests.inc(method, route, str(status))
        self.latency.observe(seconds, method, route)
