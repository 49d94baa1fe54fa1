"""The service's own request and send counts expose what prometheus_client's would."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from shop.observability.metrics import LATENCY_BUCKETS, Metrics

Samples = set[tuple[str, frozenset[tuple[str, str]], float]]


def _samples(exposition: bytes, names: set[str]) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items()), sample.value)
        for family in text_string_to_metric_families(exposition.decode())
        if family.name in names
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def test_requests_and_sends_are_exposed_as_prometheus_clients_counters_and_histograms() -> None:
    """Counts, buckets (a value on a bound counted in it), sums and label values match."""
    reference = CollectorRegistry()
    requests = Counter(
        "shop_http_requests", "", ["api", "method", "route", "status"], registry=reference
    )
    request_seconds = Histogram(
        "shop_http_request_duration_seconds",
        "",
        ["api", "method", "route"],
        buckets=LATENCY_BUCKETS,
        registry=reference,
    )
    produced = Counter("shop_events_produced", "", ["topic"], registry=reference)
    send_seconds = Histogram(
        "shop_producer_send_duration_seconds",
        "",
        ["topic"],
        buckets=LATENCY_BUCKETS,
        registry=reference,
    )
    metrics = Metrics()
    rng = random.Random(5)
    durations = [0.0, *LATENCY_BUCKETS, 11.0, *(rng.uniform(0, 12) for _ in range(500))]
    routes = [("cart", "POST", "/create-order", 201), ("orders", "BREW", "unmatched", 404)]
    for number, seconds in enumerate(durations):
        api, method, route, status = routes[number % 2]
        metrics.request_answered(api, method, route, status, seconds)
        method = "other" if method == "BREW" else method
        requests.labels(api, method, route, str(status)).inc()
        request_seconds.labels(api, method, route).observe(seconds)
        topic = f"topic-{number % 3}"
        metrics.acknowledged(topic, seconds / 7)
        produced.labels(topic).inc()
        send_seconds.labels(topic).observe(seconds / 7)
    names = {
        "shop_http_requests",
        "shop_http_request_duration_seconds",
        "shop_events_produced",
        "shop_producer_send_duration_seconds",
    }
    ours = _samples(metrics.exposition(), names)
    assert len(ours) == 2 + 2 * 16 + 3 + 3 * 16
    assert ours == _samples(generate_latest(reference), names)
