"""Prometheus metrics (prometheus-client): requests by route and status, latency, the
cache's hits and misses, queue depth, worker restarts. Labels are route templates
(`/v1/topics/{id}`), never paths, queries or anything a patient typed; methods come from
a fixed set (anything else is `other`), so no request can add a series."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.responses import Response

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    """The method as a label: one of METHODS, or `other`."""
    return method if method in METHODS else "other"


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("handouts_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram(
            "handouts_request_duration_seconds", "Time to answer a request", ["route"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry)
        self.cache_hits = Counter("handouts_cache_hits", "Cache entries found (topics, parts, "
                                  "covers without personal details)", registry=self.registry)
        self.cache_misses = Counter("handouts_cache_misses", "Cache entries not found",
                                    registry=self.registry)
        self.queue_depth = Gauge("handouts_queue_depth", "Requests waiting for a worker",
                                 registry=self.registry)
        self.workers_ready = Gauge("handouts_workers_ready", "1 when every worker is warm",
                                   registry=self.registry)
        self.refused_attempts = Counter("handouts_refused_attempts",
                                        "Key checks and sign-ins refused with 429 after "
                                        "too many failures", registry=self.registry)
        self.worker_restarts = Counter("handouts_worker_restarts",
                                       "Workers replaced after a crash or a timeout",
                                       registry=self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method_label(method), route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def response(self, pool) -> Response:
        self.queue_depth.set(pool.waiting)
        self.workers_ready.set(1 if pool.ready else 0)
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
