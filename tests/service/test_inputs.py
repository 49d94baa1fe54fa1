"""Hostile inputs on every endpoint: each a clear JSON error with the right status, never a 500."""

from __future__ import annotations

import io

import aiohttp
import pytest

from shop.kafka import KafkaAdmin
from shop.main import RunningService, running_service
from shop.settings import Settings
from tests.service.helpers import answer, create, fresh
from tests.waiting import unique

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested"),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested"),
        (b'{"orderId": "ORDER-NAN", "itemsCount": NaN}', "NaN"),
        (b'{"orderId": "ORDER-INF", "itemsCount": -Infinity}', "Infinity"),
        (b'{"orderId": "ORDER-DUP-1", "orderId": "ORDER-DUP-2", "itemsCount": 1}', "orderId"),
    ],
)
async def test_json_that_python_would_mishandle_is_400(
    service: RunningService, http: aiohttp.ClientSession, data: bytes, words: str
) -> None:
    """Deep nesting, NaN/Infinity literals and duplicate keys are a JSON 400 that says why."""
    for method, path in (("POST", "/create-order"), ("PUT", "/update-order")):
        async with http.request(
            method, service.cart_url + path, data=data, headers=JSON
        ) as response:
            status, body = await answer(response)
        assert (status, body["error"]) == (400, "invalid_request"), body
        assert words in body["message"], body
    assert service.view.store.get("ORDER-DUP-2") is None  # type: ignore[arg-type]


async def test_a_key_that_is_no_unicode_text_is_named_in_a_json_400(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """A key written as a lone surrogate escape is a JSON 400 naming it with U+FFFD, not a 500
    (such text cannot be written as UTF-8)."""
    data = b'{"orderId": "ORDER-SURROGATE", "itemsCount": 1, "\\ud800x": 1}'
    async with http.post(f"{service.cart_url}/create-order", data=data, headers=JSON) as response:
        status, body = await answer(response)
    assert (status, body["error"]) == (400, "invalid_request"), body
    assert body["fields"] == {"\ufffdx": "is not a known field; allowed: orderId, itemsCount"}


async def test_a_body_that_does_not_decompress_is_400(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """A body announced as gzip that is not gzip is a JSON 400, not a 500."""
    headers = {**JSON, "Content-Encoding": "gzip"}
    async with http.post(
        f"{service.cart_url}/create-order", data=b"not gzip at all", headers=headers
    ) as response:
        status, body = await answer(response)
    assert (status, body["error"]) == (400, "invalid_request")
    assert "gzip" in body["message"]


async def test_bodies_in_every_encoding_aiohttp_decodes_are_read(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """gzip, br and zstd bodies create their orders; a br body that is not br is a JSON 400 (it
    was aiohttp's text/plain 400, before any of the service's code, without Brotli installed)."""
    import gzip

    import brotli
    from backports import zstd

    for encoding, compress in (
        ("gzip", gzip.compress),
        ("br", brotli.compress),
        ("zstd", zstd.compress),
    ):
        order_id = unique(f"ORDER-{encoding}")
        data = compress(f'{{"orderId": "{order_id}", "itemsCount": 1}}'.encode())
        headers = {**JSON, "Content-Encoding": encoding}
        async with http.post(
            f"{service.cart_url}/create-order", data=data, headers=headers
        ) as response:
            status, body = await answer(response)
        assert (status, body["order"]["orderId"]) == (201, order_id), encoding
    headers = {**JSON, "Content-Encoding": "br"}
    async with http.post(
        f"{service.cart_url}/create-order", data=b"not br at all", headers=headers
    ) as response:
        status, body = await answer(response)
        assert response.headers["X-Request-ID"]
    assert (status, body["error"]) == (400, "invalid_request")


async def test_a_body_in_an_encoding_the_service_cannot_decode_is_415(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """An unknown Content-Encoding is a 415 naming it, not a body misread as plain JSON."""
    order_id = unique("ORDER")
    headers = {**JSON, "Content-Encoding": "bogus"}
    async with http.post(
        f"{service.cart_url}/create-order",
        json={"orderId": order_id, "itemsCount": 1},
        headers=headers,
    ) as response:
        status, body = await answer(response)
    assert (status, body["error"]) == (415, "unsupported_media_type")
    assert "bogus" in body["message"]
    assert service.view.store.get(order_id) is None  # type: ignore[arg-type]


async def test_a_body_over_the_limit_is_413_json(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """A body larger than aiohttp's client_max_size is a JSON 413 that names the limit."""
    data = io.BytesIO(b'{"orderId": "ORDER-BIG", "pad": "' + b"x" * 2_000_000 + b'"}')
    async with http.post(f"{service.cart_url}/create-order", data=data, headers=JSON) as response:
        status, body = await answer(response)
    assert (status, body["error"]) == (413, "request_too_large")
    assert "1048576 bytes" in body["message"]


@pytest.mark.parametrize(
    ("port", "method", "path", "allow"),
    [
        ("cart", "GET", "/create-order", "POST"),
        ("cart", "DELETE", "/update-order", "PUT"),
        ("cart", "OPTIONS", "/create-order", "POST"),
        ("orders", "POST", "/order-details", "GET,HEAD"),
        ("orders", "PUT", "/health", "GET,HEAD"),
    ],
)
async def test_405_carries_the_allow_header(
    service: RunningService,
    http: aiohttp.ClientSession,
    port: str,
    method: str,
    path: str,
    allow: str,
) -> None:
    """Every 405 is JSON and has the Allow header HTTP requires."""
    base = service.cart_url if port == "cart" else service.orders_url
    async with http.request(method, base + path) as response:
        status, body = await answer(response)
        allowed = response.headers.get("Allow", "")
    assert (status, body["error"]) == (405, "method_not_allowed")
    assert sorted(allowed.replace(" ", "").split(",")) == sorted(allow.split(","))


@pytest.mark.parametrize(
    ("path", "query", "name"),
    [
        ("/order-details", "orderId=A-1&orderId=B-2", "orderId"),
        ("/order-details", "orderId=A-1&orderId=", "orderId"),
        ("/getAllOrderIdsFromTopic", "topic=a&topic=b", "topic"),
    ],
)
async def test_a_repeated_query_parameter_is_400(
    service: RunningService, http: aiohttp.ClientSession, path: str, query: str, name: str
) -> None:
    """A query parameter given twice is ambiguous: 400 naming it, not the first one silently."""
    async with http.get(f"{service.orders_url}{path}?{query}") as response:
        status, body = await answer(response)
    assert (status, set(body["fields"])) == (400, {name})


async def test_order_details_of_a_repeated_id_does_not_answer_the_first(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """Even when the first of two orderIds exists, the answer is 400, not that order."""
    order = await create(http, service.cart_url, unique("ORDER"))
    query = f"orderId={order['orderId']}&orderId=OTHER"
    async with http.get(f"{service.orders_url}/order-details?{query}") as response:
        status, _ = await answer(response)
    assert status == 400


@pytest.mark.parametrize("topic", [".", "..", "a b", "tópico", "x" * 250])
async def test_topic_names_kafka_forbids_are_400(
    service: RunningService, http: aiohttp.ClientSession, topic: str
) -> None:
    """Names Kafka cannot have, '.' and '..' included, are 400 naming the parameter."""
    async with http.get(
        f"{service.orders_url}/getAllOrderIdsFromTopic", params={"topic": topic}
    ) as response:
        status, body = await answer(response)
    assert (status, set(body["fields"])) == (400, {"topic"})


async def test_internal_topics_are_403_and_400_even_when_allowed(
    service: RunningService,
    service_settings: Settings,
    http: aiohttp.ClientSession,
    bootstrap_servers: str,
) -> None:
    """Kafka's own topics hold no orders: __consumer_offsets is 403 like any topic not allowed,
    and a 400 that says so even where an operator allowed it."""
    url = f"{service.orders_url}/getAllOrderIdsFromTopic"
    async with http.get(url, params={"topic": "__consumer_offsets"}) as response:
        status, body = await answer(response)
    assert (status, body["error"]) == (403, "topic_not_allowed")
    async with KafkaAdmin.running(bootstrap_servers, 10) as admin:
        exists = "__consumer_offsets" in await admin.topic_partitions()
    allowing = fresh(service_settings, scan_topics=("__consumer_offsets",))
    async with running_service(allowing) as allowed:
        url = f"{allowed.orders_url}/getAllOrderIdsFromTopic"
        async with http.get(url, params={"topic": "__consumer_offsets"}) as response:
            status, body = await answer(response)
    if not exists:  # tansu keeps offsets without a topic for them
        assert (status, body["error"]) == (404, "topic_not_found")
        return
    assert (status, set(body["fields"])) == (400, {"topic"})
    assert "internal" in body["message"]
