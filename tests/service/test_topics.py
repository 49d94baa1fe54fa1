"""GET /getAllOrderIdsFromTopic: distinct keys of a topic, from its beginning to its end."""

from __future__ import annotations

import aiohttp
import pytest

from shop.kafka import KafkaAdmin
from shop.main import RunningService, running_service
from shop.settings import Settings
from tests.service.helpers import answer, create, fresh, topic_with_keys
from tests.waiting import unique


async def test_order_ids_are_the_distinct_keys_of_the_topic(
    service: RunningService, http: aiohttp.ClientSession, bootstrap_servers: str
) -> None:
    """The answer lists each key once, sorted, skipping records without a key."""
    keys = [b"B-2", b"A-1", b"B-2", None, b"C-3", b"A-1"]
    topic = await topic_with_keys(bootstrap_servers, keys, partitions=2)
    async with http.get(
        f"{service.orders_url}/getAllOrderIdsFromTopic", params={"topic": topic}
    ) as response:
        status, body = await answer(response)
    assert status == 200
    assert body == {"topic": topic, "orderIds": ["A-1", "B-2", "C-3"], "count": 3}


async def test_order_ids_of_the_service_topic_include_new_orders(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """An order created through the cart is among the ids of the service's topic."""
    order = await create(http, service.cart_url, unique("ORDER"))
    topic = service.shared.settings.topic
    async with http.get(
        f"{service.orders_url}/getAllOrderIdsFromTopic", params={"topic": topic}
    ) as response:
        status, body = await answer(response)
    assert status == 200
    assert order["orderId"] in body["orderIds"]
    assert body["count"] == len(body["orderIds"]) == len(set(body["orderIds"]))


async def test_unknown_topic_is_404_and_is_not_created(
    service: RunningService, http: aiohttp.ClientSession, bootstrap_servers: str
) -> None:
    """Asking for a topic that does not exist is 404, and the question does not create it."""
    topic = unique("missing")
    async with http.get(
        f"{service.orders_url}/getAllOrderIdsFromTopic", params={"topic": topic}
    ) as response:
        status, body = await answer(response)
    assert (status, body["error"]) == (404, "topic_not_found")
    async with KafkaAdmin.running(bootstrap_servers, 10) as admin:
        assert topic not in await admin.topic_partitions()


async def test_missing_or_malformed_topic_is_400(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """No topic parameter, or a name Kafka cannot have, is 400 naming the parameter."""
    for params in ({}, {"topic": ""}, {"topic": "no/slash"}, {"topic": "x" * 250}):
        async with http.get(
            f"{service.orders_url}/getAllOrderIdsFromTopic", params=params
        ) as response:
            status, body = await answer(response)
        assert (status, set(body["fields"])) == (400, {"topic"}), params


async def test_the_order_topic_is_created_compacted(
    service: RunningService, bootstrap_servers: str
) -> None:
    """The service creates its topic with cleanup.policy=compact, so orders never expire."""
    async with KafkaAdmin.running(bootstrap_servers, 10) as admin:
        configs = await admin.topic_configs(service.shared.settings.topic)
    assert configs["cleanup.policy"] == "compact"


async def test_an_existing_topic_that_deletes_events_is_warned_about(
    service_settings: Settings, bootstrap_servers: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An existing topic is used as it is, with a warning when it would delete old orders."""
    settings = fresh(service_settings)
    async with KafkaAdmin.running(bootstrap_servers, 10) as admin:
        await admin.ensure_topic(settings.topic, 1)  # the broker's defaults: no compaction
        configs = await admin.topic_configs(settings.topic)
    async with running_service(settings):
        pass
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    if configs.get("retention.ms", "-1") == "-1":  # tansu reports no retention: nothing expires
        assert not any(settings.topic in message for message in warned)
    else:
        assert any(
            f"topic {settings.topic} deletes events" in message and "compact" in message
            for message in warned
        )
