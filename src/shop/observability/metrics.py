"""Prometheus metrics, one registry per service, served at ``GET /metrics`` on both ports.

Counts the components keep anyway (events consumed, dead letters, rebuilds, orders, lag) are read
when Prometheus scrapes, not incremented on the hot path a second time; only what must be observed
as it happens (requests, sends and their latencies) is recorded then, in plain dicts that a
collector reads at each scrape.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterator, Mapping
from typing import Protocol

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

# Seconds: a create takes a few milliseconds, a topic scan up to the request timeout.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_Labels = tuple[str, ...]
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
    """The service's metrics. Requests and sends are counted in plain dicts on the event loop
    (the only thread that records or scrapes them) and read by a collector at each scrape:
    prometheus_client's own Counter and Histogram take a lock and walk every bucket on each
    record, 2-3 % of a create."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # Label values (api, method, route, status) -> requests answered.
        self._requests: dict[_Labels, int] = {}
        # (api, method, route) -> their durations.
        self._request_seconds: dict[_Labels, Histogram] = {}
        # (topic,) -> records acknowledged, and their send durations.
        self._produced: dict[_Labels, int] = {}
        self._send_seconds: dict[_Labels, Histogram] = {}
        self.registry.register(_RecordedCollector(self))

    def request_answered(
        self, api: str, method: str, route: str, status: int, seconds: float
    ) -> None:
        method = method if method in KNOWN_METHODS else "other"
        key = (api, method, route, str(status))
        self._requests[key] = self._requests.get(key, 0) + 1
        _observe(self._request_seconds, (api, method, route), seconds)

    def acknowledged(self, topic: str, seconds: float) -> None:
        """The broker acknowledged a record of ``topic`` ``seconds`` after it was sent."""
        key = (topic,)
        self._produced[key] = self._produced.get(key, 0) + 1
        _observe(self._send_seconds, key, seconds)

    def watch_view(self, view: ViewStats) -> None:
        self.registry.register(_ViewCollector(view))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class Histogram:
    """Observations in :data:`LATENCY_BUCKETS` (each counted in the first bucket whose bound it
    does not exceed, the last bound being +Inf) and their sum."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(_BOUNDS) + 1)
        self.sum = 0.0

    def cumulative(self) -> list[tuple[str, float]]:
        """``(le, observations at most le)`` per bucket, as Prometheus exposes them."""
        return list(zip(_LE, itertools.accumulate(self.counts), strict=True))


_BOUNDS = tuple(float(bound) for bound in LATENCY_BUCKETS)
# The bounds as prometheus_client writes them in ``le`` ("0.001", "1.0", "+Inf").
_LE: tuple[str, ...] = tuple(floatToGoString(b) for b in (*_BOUNDS, math.inf))  # type: ignore[no-untyped-call]


def _observe(histograms: dict[_Labels, Histogram], key: _Labels, value: float) -> None:
    histogram = histograms.get(key)
    if histogram is None:
        histogram = histograms[key] = Histogram()
    histogram.counts[bisect.bisect_left(_BOUNDS, value)] += 1
    histogram.sum += value


class _RecordedCollector(Collector):
    """What :class:`Metrics` recorded, as Prometheus metric families."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        recorded = self._metrics
        route = ["api", "method", "route"]
        yield _counter(
            "shop_http_requests",
            "HTTP requests answered, by API, method, route and status",
            [*route, "status"],
            recorded._requests,
        )
        yield _histogram(
            "shop_http_request_duration_seconds",
            "Time to answer an HTTP request, by API, method and route",
            route,
            recorded._request_seconds,
        )
        yield _counter(
            "shop_events_produced",
            "Records the broker acknowledged, by topic (order events and dead letters)",
            ["topic"],
            recorded._produced,
        )
        yield _histogram(
            "shop_producer_send_duration_seconds",
            "From handing a record to the producer to the broker's acknowledgement",
            ["topic"],
            recorded._send_seconds,
        )


def _counter(
    name: str, documentation: str, labels: list[str], counts: Mapping[_Labels, int]
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=labels)
    for values, count in counts.items():
        family.add_metric(values, count)
    return family


def _histogram(
    name: str,
    documentation: str,
    labels: list[str],
    histograms: Mapping[_Labels, Histogram],
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, documentation, labels=labels)
    for values, histogram in histograms.items():
        family.add_metric(values, histogram.cumulative(), histogram.sum)
    return family


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
