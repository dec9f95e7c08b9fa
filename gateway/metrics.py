"""Prometheus metrics: requests, latency, auth failures, cache, (later) the order inbox."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from gateway.odata.errors import forbidden


def route_label(path: str) -> str:
    """A small, fixed set of labels (a label per URL would grow without bound)."""
    for prefix, label in (
        ("/ODataV4", "odata_v4"),
        ("/OData", "odata_v3"),
        ("/webhooks", "webhook"),
        ("/health", "health"),
        ("/api", "admin"),
        ("/metrics", "metrics"),
    ):
        if path.startswith(prefix):
            return label
    return "other"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "bcgw_requests",
            "HTTP requests answered",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "bcgw_request_seconds",
            "Time to answer",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.auth_failures = Counter("bcgw_auth_failures", "Refused credentials", ["status"], registry=self.registry)
        self.cache_entries = Gauge("bcgw_cache_entries", "Answers in the cache", registry=self.registry)
        self.cache_hits = Gauge("bcgw_cache_hits", "Cache hits since start", registry=self.registry)
        self.cache_misses = Gauge("bcgw_cache_misses", "Cache misses since start", registry=self.registry)
        self.inbox = Gauge("bcgw_inbox_rows", "Order inbox rows by state", ["state"], registry=self.registry)
        # (first path segment, method, status) -> the counter's and the histogram's children: labels()
        # takes a lock and builds its key on every call.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, path: str, method: str, status: int, elapsed: float) -> None:
        """One answer: counted by route, method and status, and its time (gateway/edge.py)."""
        key = (path.split("/", 2)[1], method, status)
        children = self._children.get(key)
        if children is None:
            route = route_label(path)
            children = (self.requests.labels(route, method, str(status)), self.latency.labels(route))
            if len(self._children) < 1000:  # first path segments x methods x statuses: few, but bounded
                self._children[key] = children
        children[0].inc()
        children[1].observe(elapsed)

    def add_route(
        self,
        app: web.Application,
        allowed: Callable[[web.Request], bool],
        refresh: Callable[[], Awaitable[None]],
    ) -> None:
        async def metrics(request: web.Request) -> web.Response:
            if not allowed(request):
                raise forbidden("Reading metrics needs the role INTEGRATION_ADMIN.")
            await refresh()
            return web.Response(body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

        app.router.add_get("/metrics", metrics)
