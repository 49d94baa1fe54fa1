"""Records on the order topic that are not order events: the view skips them and keeps going."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import aiohttp
from aiokafka import AIOKafkaProducer

from shop import events
from shop.kafka import header_version, version_headers
from shop.main import RunningService
from shop.order import OrderStatus
from tests.service.helpers import answer, create, records_of
from tests.waiting import unique, wait_until


async def test_poison_records_are_skipped_and_later_events_apply(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """Raw bytes, an unknown schema id and bad Avro are refused, a tombstone ignored; the next
    event applies."""
    order = await create(http, service.cart_url, unique("ORDER"))
    order_id = order["orderId"]
    key = order_id.encode()
    poison = [
        b"not avro at all",
        struct.pack(">bI", 0, 2_000_000_000) + b"\x00\x02",
        struct.pack(">bI", 0, service.codec.schema_id) + b"\xff" * 40,
        None,
    ]
    found = service.view.store.get(order_id)
    assert found is not None
    current, version = found
    following = events.updated(current.with_status(OrderStatus.SHIPPED), version, datetime.now(UTC))
    before = service.view.consumer.poisoned
    producer = AIOKafkaProducer(bootstrap_servers=service.broker)
    await producer.start()
    try:
        for value in poison:
            await producer.send_and_wait(service.settings.topic, value, key=key)
        # Written past the cart, so only the consumer can bring it into the view.
        await producer.send_and_wait(
            service.settings.topic, service.codec.encode(following), key=key
        )
    finally:
        await producer.stop()

    async def applied() -> bool:
        return service.view.store.get(order_id) == (following.order, version + 1)

    await wait_until(applied, what="the event after the poison records in the view")
    assert service.view.consumer.poisoned - before == len(poison) - 1  # the tombstone is not poison
    async with http.get(
        f"{service.orders_url}/order-details", params={"orderId": order_id}
    ) as response:
        status, details = await answer(response)
    assert (status, details["status"]) == (200, "shipped")
    async with http.put(
        f"{service.cart_url}/update-order", json={"orderId": order_id, "status": "delivered"}
    ) as response:
        status, _ = await answer(response)
    assert status == 200
    assert service.view.store.get(order_id) is not None
    assert service.view.store.get(order_id)[1] == version + 2  # type: ignore[index]


async def test_records_the_view_already_holds_are_not_decoded(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """A record whose orderVersion header is below the one the view holds is skipped undecoded."""
    order_id = (await create(http, service.cart_url, unique("ORDER")))["orderId"]
    current, version = service.view.store.get(order_id)  # type: ignore[misc]
    sentinel = events.updated(
        current.with_status(OrderStatus.CONFIRMED), version, datetime.now(UTC)
    )
    garbage = b"never decoded"
    before = service.view.consumer.poisoned
    producer = AIOKafkaProducer(bootstrap_servers=service.broker)
    await producer.start()
    try:
        for value, header in [
            (garbage, version - 1),  # older than what is held: skipped undecoded
            # The held version at a later offset could be a second claim to it: decoded, poison.
            (garbage, version),
            (garbage, version + 1),  # not held: decoded, found to be poison, refused
            (service.codec.encode(sentinel), version + 1),  # not held: decoded and applied
        ]:
            await producer.send_and_wait(
                service.settings.topic,
                value,
                key=order_id.encode(),
                headers=version_headers(header),
            )
    finally:
        await producer.stop()

    async def sentinel_applied() -> bool:
        return service.view.store.get(order_id) == (sentinel.order, version + 1)

    await wait_until(sentinel_applied, what="the event after the garbage records in the view")
    assert service.view.consumer.poisoned - before == 2


async def test_the_cart_writes_the_version_header(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """Every record the cart writes carries its event's orderVersion as a header."""
    order_id = (await create(http, service.cart_url, unique("ORDER")))["orderId"]
    async with http.put(
        f"{service.cart_url}/update-order", json={"orderId": order_id, "status": "confirmed"}
    ) as response:
        assert response.status == 200
    settings = service.settings
    records = await records_of(service.broker, settings.topic, settings.topic_partitions, order_id)
    assert [header_version(record.headers) for record in records] == [1, 2]
