"""Prometheus metrics, one registry per service, served at ``GET /metrics`` on both ports.

Counts the components keep anyway (events consumed, dead letters, rebuilds, orders, lag) are read
when Prometheus scrapes, not incremented on the hot path a second time; only what must be observed
as it happens (request and send latencies) is recorded then.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, TypeVar

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

# Seconds: a create takes a few milliseconds, a topic scan up to the request timeout.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_Metric = TypeVar("_Metric", Counter, Histogram)
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class ViewStats(Protocol):
    """What the order view counts, read at each scrape."""

    topic: str

    @property
    def consumed(self) -> int: ...

    @property
    def dead_lettered(self) -> int: ...

    @property
    def rebuilds(self) -> int: ...

    @property
    def rebuild_seconds(self) -> float: ...

    @property
    def orders(self) -> int: ...

    def lag(self) -> dict[int, int]: ...


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "shop_http_requests",
            "HTTP requests answered, by API, method, route and status",
            ["api", "method", "route", "status"],
            registry=self.registry,
        )
        self._request_seconds = Histogram(
            "shop_http_request_duration_seconds",
            "Time to answer an HTTP request, by API, method and route",
            ["api", "method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._children: dict[tuple[object, tuple[str, ...]], object] = {}
        self._produced = Counter(
            "shop_events_produced",
            "Records the broker acknowledged, by topic (order events and dead letters)",
            ["topic"],
            registry=self.registry,
        )
        self._send_seconds = Histogram(
            "shop_producer_send_duration_seconds",
            "From handing a record to the producer to the broker's acknowledgement",
            ["topic"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def request_answered(
        self, api: str, method: str, route: str, status: int, seconds: float
    ) -> None:
        method = method if method in KNOWN_METHODS else "other"
        self._labelled(self._requests, api, method, route, str(status)).inc()
        self._labelled(self._request_seconds, api, method, route).observe(seconds)

    def acknowledged(self, topic: str, seconds: float) -> None:
        """The broker acknowledged a record of ``topic`` ``seconds`` after it was sent."""
        self._labelled(self._produced, topic).inc()
        self._labelled(self._send_seconds, topic).observe(seconds)

    def _labelled(self, metric: _Metric, *values: str) -> _Metric:
        """``metric``'s child for ``values``. prometheus_client's ``labels()`` takes a lock and
        checks every value on each call (2 % of a create); the children are few (routes are
        patterns, methods known, statuses the service's own), so each is looked up once."""
        child = self._children.get((metric, values))
        if child is None:
            child = self._children[(metric, values)] = metric.labels(*values)
        return child  # type: ignore[return-value]  # only this method stores them

    def watch_view(self, view: ViewStats) -> None:
        self.registry.register(_ViewCollector(view))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _ViewCollector(Collector):
    def __init__(self, view: ViewStats) -> None:
        self._view = view

    def collect(self) -> Iterator[Metric]:
        view = self._view
        labels = [view.topic]
        consumed = CounterMetricFamily(
            "shop_events_consumed", "Records the order view read and judged", labels=["topic"]
        )
        consumed.add_metric(labels, view.consumed)
        dead = CounterMetricFamily(
            "shop_dead_letters", "Records the view refused and dead-lettered", labels=["topic"]
        )
        dead.add_metric(labels, view.dead_lettered)
        orders = GaugeMetricFamily("shop_view_orders", "Orders the view holds", labels=["topic"])
        orders.add_metric(labels, view.orders)
        lag = GaugeMetricFamily(
            "shop_consumer_lag",
            "Records of the partition the view has not applied yet",
            labels=["topic", "partition"],
        )
        for partition, behind in sorted(view.lag().items()):
            lag.add_metric([view.topic, str(partition)], behind)
        rebuilds = SummaryMetricFamily(
            "shop_view_rebuild_duration_seconds",
            "Rebuilds of the view from the log (at start, on assignment, after a loss)",
            labels=["topic"],
        )
        rebuilds.add_metric(labels, view.rebuilds, view.rebuild_seconds)
        yield from (consumed, dead, orders, lag, rebuilds)


METRICS = web.AppKey("metrics", Metrics)


async def metrics(request: web.Request) -> web.Response:
    """``GET /metrics``: Prometheus text format 0.0.4, which every Prometheus reads."""
    body = request.app[METRICS].exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})
