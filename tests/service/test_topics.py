"""GET /getAllOrderIdsFromTopic: distinct keys of an allowed topic, from its beginning to its end,
bounded in records, time and scans at once."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from shop.kafka import KafkaAdmin
from shop.main import RunningService, running_service
from shop.settings import Settings
from tests.conftest import broker_kind
from tests.service.helpers import answer, create, fresh, own_broker, topic_with_keys
from tests.waiting import unique, wait_until

SCAN = "/getAllOrderIdsFromTopic"


@dataclasses.dataclass(frozen=True)
class Scanned:
    """Topics made for these tests, and a service that may scan them (and not its own topic)."""

    service: RunningService
    distinct: str  # keys B-2, A-1, B-2, None, C-3, A-1 on 2 partitions
    not_ids: str  # keys no order can have, and one that is
    missing: str  # allowed, but never created


@pytest.fixture(scope="module")
async def scanned(service_settings: Settings, bootstrap_servers: str) -> AsyncIterator[Scanned]:
    distinct = await topic_with_keys(
        bootstrap_servers, [b"B-2", b"A-1", b"B-2", None, b"C-3", b"A-1"], partitions=2
    )
    not_ids = await topic_with_keys(
        bootstrap_servers,
        [b"\xff\xfe", None, b'{"keytype":"SCHEMA"}', b"has space", b"ORDER-1", b""],
    )
    missing = unique("missing")
    settings = fresh(service_settings, scan_topics=(distinct, not_ids, missing))
    async with running_service(settings) as service:
        yield Scanned(service, distinct, not_ids, missing)


async def scan(http: aiohttp.ClientSession, orders_url: str, topic: str) -> tuple[int, Any]:
    async with http.get(f"{orders_url}{SCAN}", params={"topic": topic}) as response:
        return await answer(response)


async def test_order_ids_are_the_distinct_keys_of_the_topic(
    scanned: Scanned, http: aiohttp.ClientSession
) -> None:
    """The answer lists each key once, sorted, skipping records without a key, and is complete."""
    status, body = await scan(http, scanned.service.orders_url, scanned.distinct)
    assert status == 200
    assert body == {
        "topic": scanned.distinct,
        "orderIds": ["A-1", "B-2", "C-3"],
        "count": 3,
        "partial": False,
        "partialReason": None,
    }


async def test_keys_that_are_not_order_ids_are_skipped(
    scanned: Scanned, http: aiohttp.ClientSession
) -> None:
    """Null keys, non-UTF-8 keys and keys no order can have (JSON, spaces) are not order ids."""
    status, body = await scan(http, scanned.service.orders_url, scanned.not_ids)
    assert (status, body["orderIds"], body["count"]) == (200, ["ORDER-1"], 1)
    assert body["partial"] is False


async def test_order_ids_of_the_service_topic_include_new_orders(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """An order created through the cart is among the ids of the service's topic."""
    order = await create(http, service.cart_url, unique("ORDER"))
    topic = service.settings.topic
    async with http.get(
        f"{service.orders_url}/getAllOrderIdsFromTopic", params={"topic": topic}
    ) as response:
        status, body = await answer(response)
    assert status == 200
    assert order["orderId"] in body["orderIds"]
    assert body["count"] == len(body["orderIds"]) == len(set(body["orderIds"]))


async def test_an_allowed_topic_that_does_not_exist_is_404_and_is_not_created(
    scanned: Scanned, http: aiohttp.ClientSession, bootstrap_servers: str
) -> None:
    """An allowed topic that does not exist is 404, and the question does not create it."""
    status, body = await scan(http, scanned.service.orders_url, scanned.missing)
    assert (status, body["error"]) == (404, "topic_not_found")
    async with KafkaAdmin.running(bootstrap_servers, 10) as admin:
        assert scanned.missing not in await admin.topic_partitions()


async def test_a_topic_not_allowed_is_403_whether_it_exists_or_not(
    service: RunningService, http: aiohttp.ClientSession, bootstrap_servers: str
) -> None:
    """A topic beside the order topic is 403 naming the allowed one; its keys never appear."""
    card = b"4111111111111111"
    payments = await topic_with_keys(bootstrap_servers, [card, b"ORDER-PAID-1"])
    for topic in (payments, unique("missing"), "__consumer_offsets"):
        async with http.get(f"{service.orders_url}{SCAN}", params={"topic": topic}) as response:
            raw = await response.text()
            status, body = await answer(response)
        assert (status, body["error"]) == (403, "topic_not_allowed"), body
        assert service.settings.topic in body["message"]
        assert card.decode() not in raw and "ORDER-PAID-1" not in raw


async def test_a_scan_stops_at_max_records_and_says_so(
    service_settings: Settings, http: aiohttp.ClientSession, bootstrap_servers: str
) -> None:
    """Past SHOP_SCAN_MAX_RECORDS records a scan answers what it read, marked partial."""
    keys = [f"ORDER-{i:02d}".encode() for i in range(12)]
    topic = await topic_with_keys(bootstrap_servers, keys)
    settings = fresh(service_settings, scan_topics=(topic,), scan_max_records=5)
    async with running_service(settings) as service:
        status, body = await scan(http, service.orders_url, topic)
    assert (status, body["partial"], body["partialReason"]) == (200, True, "max_records")
    assert body["count"] == len(body["orderIds"]) == 5
    assert set(body["orderIds"]) <= {key.decode() for key in keys}


async def test_scans_beyond_the_concurrency_limit_are_429(
    service_settings: Settings,
    http: aiohttp.ClientSession,
    pytestconfig: pytest.Config,
    tmp_path: Path,
) -> None:
    """With SHOP_SCAN_CONCURRENCY scans in flight (broker paused) the next is 429, Retry-After."""
    broker, bootstrap = own_broker(pytestconfig, tmp_path)
    settings = fresh(
        service_settings,
        kafka_bootstrap_servers=bootstrap,
        request_timeout_s=3.0,
        scan_concurrency=1,
    )
    async with broker.running(), running_service(settings) as service:
        url = f"{service.orders_url}{SCAN}?topic={settings.topic}"
        assert broker.pid is not None
        os.kill(broker.pid, signal.SIGSTOP)  # a scan now waits for the broker, holding its slot
        try:
            held = asyncio.create_task(http.get(url))

            async def refused() -> tuple[Any, Any] | None:
                try:
                    async with http.get(url, timeout=aiohttp.ClientTimeout(total=0.5)) as response:
                        if response.status != 429:
                            return None
                        return response.headers.get("Retry-After"), (await answer(response))[1]
                except TimeoutError:  # this one got the slot (before the first did): it waits too
                    return None

            retry_after, body = await wait_until(refused, timeout=10, what="a scan answered 429")
        finally:
            os.kill(broker.pid, signal.SIGCONT)
        (await held).release()
        assert body["error"] == "too_many_scans"
        assert retry_after == "3"

        async def scanned_again() -> bool:
            status, _ = await scan(http, service.orders_url, settings.topic)
            return status == 200

        await wait_until(scanned_again, what="a scan once the others ended")


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
        configs = await admin.topic_configs(service.settings.topic)
    assert configs["cleanup.policy"] == "compact"


async def test_an_existing_topic_that_deletes_events_is_warned_about(
    service_settings: Settings,
    bootstrap_servers: str,
    caplog: pytest.LogCaptureFixture,
    pytestconfig: pytest.Config,
) -> None:
    """An existing topic is used as it is, with a warning when it would delete old orders."""
    settings = fresh(service_settings)
    async with KafkaAdmin.running(bootstrap_servers, 10) as admin:
        await admin.ensure_topic(settings.topic, 1)  # the broker's defaults: no compaction
    async with running_service(settings):
        pass
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    # Which broker it is decides, not a read of the topic's configs here: Apache Kafka answered
    # one made right after the creation with none at all once, under load (a CI run).
    if broker_kind(pytestconfig) == "tansu":  # it reports no retention: nothing expires
        assert not any(settings.topic in message for message in warned)
    else:
        assert any(
            f"topic {settings.topic} deletes events" in message and "compact" in message
            for message in warned
        )
