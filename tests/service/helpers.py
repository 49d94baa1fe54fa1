"""Small helpers of the service tests."""

from __future__ import annotations

import dataclasses
from typing import Any

import aiohttp
import simplejson
from aiokafka import AIOKafkaConsumer, TopicPartition

from shop.codec import OrderEventCodec
from shop.events import OrderEvent
from shop.settings import Settings
from tests.waiting import unique


def fresh(settings: Settings, **changes: Any) -> Settings:
    """``settings`` with a topic and consumer group no other test uses (plus ``changes``)."""
    return dataclasses.replace(
        settings, topic=unique("order-events"), consumer_group=unique("shop-orders"), **changes
    )


async def answer(response: aiohttp.ClientResponse) -> tuple[int, Any]:
    """Status and JSON body, numbers read as Decimal so money is compared exactly."""
    assert response.content_type == "application/json", await response.text()
    return response.status, simplejson.loads(await response.text(), use_decimal=True)


async def create(http: aiohttp.ClientSession, cart_url: str, order_id: str, items: int = 3) -> Any:
    async with http.post(
        f"{cart_url}/create-order", json={"orderId": order_id, "itemsCount": items}
    ) as response:
        status, body = await answer(response)
    assert status == 201, body
    return body["order"]


async def events_of(
    bootstrap: str, topic: str, partitions: int, codec: OrderEventCodec, order_id: str
) -> list[OrderEvent]:
    """Every event of ``order_id`` on ``topic``, in log order, decoded with the service's codec."""
    consumer: Any = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, partition) for partition in range(partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        found: list[OrderEvent] = []
        for tp in tps:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                records = [r for r in batch.get(tp, []) if r.key == order_id.encode()]
                found += await codec.decode_batch([r.value for r in records])  # type: ignore[arg-type]
        return found
    finally:
        await consumer.stop()


async def put_status(http: aiohttp.ClientSession, cart_url: str, order_id: str, status: str) -> int:
    async with http.put(
        f"{cart_url}/update-order", json={"orderId": order_id, "status": status}
    ) as response:
        code, _ = await answer(response)
    return code
