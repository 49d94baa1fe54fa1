"""Watching the service: request ids, one log line per request, and Prometheus metrics."""

from __future__ import annotations

import json
import logging
import re

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shop.main import RunningService
from shop.observability.logs import JsonFormatter
from tests.service.helpers import answer, create
from tests.waiting import unique, wait_until

GENERATED_ID = re.compile(r"[0-9a-f]{32}")


async def scrape(
    http: aiohttp.ClientSession, base: str
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of ``base``/metrics, by name and labels."""
    async with http.get(f"{base}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        text = await response.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_a_request_id_is_echoed_when_valid_and_generated_otherwise(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """A client's X-Request-ID comes back on success and error alike; a missing or unsafe one
    (spaces, newlines, too long) is replaced by a generated one."""
    given = "trace-4bf92f3577b34da6.a3ce929d0e0e4736"
    for url in (f"{service.cart_url}/health", f"{service.orders_url}/nowhere"):
        async with http.get(url, headers={"X-Request-ID": given}) as response:
            assert response.headers["X-Request-ID"] == given
    for bad in ("", "two words", "x" * 129, "a\tb"):
        async with http.get(f"{service.orders_url}/livez", headers={"X-Request-ID": bad}) as r:
            assert GENERATED_ID.fullmatch(r.headers["X-Request-ID"]), bad
    async with http.get(f"{service.orders_url}/order-details") as response:
        assert response.status == 400
        assert GENERATED_ID.fullmatch(response.headers["X-Request-ID"])


async def test_each_request_is_one_log_line_with_its_id(
    service: RunningService, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """A create logs one INFO line (method, path, status, duration, request id); in JSON the
    fields are keys of their own."""
    order_id = unique("ORDER")
    with caplog.at_level(logging.INFO, logger="shop"):
        async with http.post(
            f"{service.cart_url}/create-order",
            json={"orderId": order_id, "itemsCount": 1},
            headers={"X-Request-ID": "req-42"},
        ) as response:
            assert response.status == 201
        lines = [r for r in caplog.records if r.name == "shop.cart" and r.levelno == logging.INFO]
    mine = [r for r in lines if getattr(r, "request_id", None) == "req-42"]
    assert len(mine) == 1, [r.getMessage() for r in lines]
    record = mine[0]
    assert re.fullmatch(r"POST /create-order 201 \d+\.\d ms id=req-42", record.getMessage())
    assert (record.method, record.path, record.status) == ("POST", "/create-order", 201)  # type: ignore[attr-defined]
    entry = json.loads(JsonFormatter().format(record))
    assert entry["request_id"] == "req-42"
    assert (entry["level"], entry["logger"], entry["status"]) == ("INFO", "shop.cart", 201)
    assert entry["message"] == record.getMessage()


async def test_metrics_count_requests_events_and_the_view(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """After a create and an update, /metrics (the same registry on both ports) counts them by
    route and status, the events produced and consumed, their send latency, the orders held and
    a lag of 0 on every partition once the view has read them."""
    topic = service.settings.topic
    before = await scrape(http, service.cart_url)
    order_id = unique("ORDER")
    await create(http, service.cart_url, order_id)
    async with http.put(
        f"{service.cart_url}/update-order", json={"orderId": order_id, "status": "confirmed"}
    ) as response:
        assert (await answer(response))[0] == 200
    await service.view.consumer.read_to_end()

    def value(
        samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
    ) -> float:
        return samples.get((name, frozenset(labels.items())), 0.0)

    async def consumed_both() -> dict[tuple[str, frozenset[tuple[str, str]]], float] | None:
        after = await scrape(http, service.orders_url)
        grown = value(after, "shop_events_consumed_total", topic=topic) - value(
            before, "shop_events_consumed_total", topic=topic
        )
        return after if grown >= 2 else None

    after = await wait_until(consumed_both, what="the view to count both events")
    created = dict(api="cart", method="POST", route="/create-order", status="201")
    updated = dict(api="cart", method="PUT", route="/update-order", status="200")
    for labels in (created, updated):
        assert value(after, "shop_http_requests_total", **labels) == (
            value(before, "shop_http_requests_total", **labels) + 1
        )
    assert value(after, "shop_events_produced_total", topic=topic) == (
        value(before, "shop_events_produced_total", topic=topic) + 2
    )
    assert value(after, "shop_producer_send_duration_seconds_count", topic=topic) == (
        value(before, "shop_producer_send_duration_seconds_count", topic=topic) + 2
    )
    assert value(after, "shop_view_orders", topic=topic) == len(service.view.store)
    lags = {
        dict(labels)["partition"]: v
        for (name, labels), v in after.items()
        if name == "shop_consumer_lag"
    }
    assert lags == {str(p): 0.0 for p in range(service.settings.topic_partitions)}
    assert value(after, "shop_view_rebuild_duration_seconds_count", topic=topic) >= 1
    assert ("shop_dead_letters_total", frozenset({("topic", topic)})) in after
    # A path no route has is counted under one label, not one per path.
    async with http.get(f"{service.orders_url}/{unique('nowhere')}") as response:
        assert response.status == 404
    samples = await scrape(http, service.orders_url)
    assert (
        value(
            samples,
            "shop_http_requests_total",
            api="orders",
            method="GET",
            route="unmatched",
            status="404",
        )
        >= 1
    )
