"""Records on the order topic that are not order events: the view skips them and keeps going."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import aiohttp
from aiokafka import AIOKafkaProducer

from shop import events
from shop.main import RunningService
from shop.order import OrderStatus
from tests.service.helpers import answer, create
from tests.waiting import unique, wait_until


async def test_poison_records_are_skipped_and_later_events_apply(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """Raw bytes, an unknown schema id, bad Avro and a tombstone are skipped; the next event applies."""
    order = await create(http, service.cart_url, unique("ORDER"))
    order_id = order["orderId"]
    shared = service.shared
    key = order_id.encode()
    poison = [
        b"not avro at all",
        struct.pack(">bI", 0, 2_000_000_000) + b"\x00\x02",
        struct.pack(">bI", 0, shared.codec.schema_id) + b"\xff" * 40,
        None,
    ]
    found = shared.store.get(order_id)
    assert found is not None
    current, version = found
    following = events.updated(
        current.with_status(OrderStatus.SHIPPED), version, datetime.now(UTC)
    )
    before = shared.view.poisoned
    producer = AIOKafkaProducer(bootstrap_servers=service.broker)
    await producer.start()
    try:
        for value in poison:
            await producer.send_and_wait(shared.settings.topic, value, key=key)
        # Written past the cart, so only the consumer can bring it into the view.
        await producer.send_and_wait(shared.settings.topic, shared.codec.encode(following), key=key)
    finally:
        await producer.stop()

    async def applied() -> bool:
        return shared.store.get(order_id) == (following.order, version + 1)

    await wait_until(applied, what="the event after the poison records in the view")
    assert shared.view.poisoned - before == len(poison)
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
    assert shared.store.get(order_id) is not None
    assert shared.store.get(order_id)[1] == version + 2  # type: ignore[index]
