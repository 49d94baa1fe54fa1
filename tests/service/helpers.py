"""Small helpers of the service tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import simplejson
from aiokafka import AIOKafkaProducer

from shop.children import ChildProcess, schema_registry
from shop.codec import OrderEventCodec
from shop.events import OrderEvent
from shop.kafka import KafkaAdmin
from shop.partition_reader import PartitionReader
from shop.settings import Settings
from tests.brokers import free_port
from tests.conftest import broker_kind, broker_of_kind
from tests.waiting import unique

# Longest wait for any one answer of the broker while a test reads a topic.
READ_TIMEOUT_S = 30.0


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


async def topic_records(
    bootstrap: str, topic: str, partitions: int, timeout_s: float = READ_TIMEOUT_S
) -> list[Any]:
    """Every record ``topic`` holds now, each partition's in log order (raw, as aiokafka gives
    them), read by the service's own group-less reader."""
    async with PartitionReader.opened(bootstrap, topic, range(partitions), timeout_s) as reader:
        return await reader.read_to(await reader.seek_back())


async def records_of(bootstrap: str, topic: str, partitions: int, order_id: str) -> list[Any]:
    """Every record of ``order_id`` on ``topic``, in log order."""
    key = order_id.encode()
    return [r for r in await topic_records(bootstrap, topic, partitions) if r.key == key]


async def events_of(
    bootstrap: str, topic: str, partitions: int, codec: OrderEventCodec, order_id: str
) -> list[OrderEvent]:
    """Every event of ``order_id`` on ``topic``, in log order, decoded with the service's codec."""
    records = await records_of(bootstrap, topic, partitions, order_id)
    return await codec.decode_batch([r.value for r in records])  # type: ignore[return-value]


async def put_status(http: aiohttp.ClientSession, cart_url: str, order_id: str, status: str) -> int:
    async with http.put(
        f"{cart_url}/update-order", json={"orderId": order_id, "status": status}
    ) as response:
        code, _ = await answer(response)
    return code


async def topic_with_keys(bootstrap: str, keys: list[bytes | None], partitions: int = 1) -> str:
    """A new topic holding one record for each of ``keys``, in that order."""
    topic = unique("ids")
    async with KafkaAdmin.running(bootstrap, 10) as admin:
        await admin.ensure_topic(topic, partitions)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key in keys:
            await producer.send_and_wait(topic, b"anything", key=key)
    finally:
        await producer.stop()
    return topic


def own_broker(pytestconfig: pytest.Config, tmp_path: Path) -> tuple[ChildProcess, str]:
    """A broker of the session's kind only this test uses (to stop or pause), and its address."""
    if broker_kind(pytestconfig) == "external":
        pytest.skip("needs a broker of its own to stop or pause")
    return broker_of_kind(broker_kind(pytestconfig), tmp_path)


def own_registry(settings: Settings, tmp_path: Path) -> tuple[ChildProcess, Settings]:
    """A Schema Registry only this test uses (to stop), on the session's broker, and ``settings``
    made fresh and pointed at it."""
    assert settings.kafka_bootstrap_servers is not None
    port = free_port()
    registry = schema_registry(
        "127.0.0.1", port, settings.kafka_bootstrap_servers, tmp_path / "registry.log"
    )
    return registry, fresh(settings, schema_registry_url=f"http://127.0.0.1:{port}")


def to_record(event: OrderEvent) -> dict[str, Any]:
    """The Avro record (``schemas/order.avsc``) of ``event``, for fastavro (the service writes
    its events with ``shop.event_avro``; ``events.from_record`` reads them)."""
    order = event.order
    return {
        "eventId": event.event_id,
        "eventType": event.event_type.value,
        "orderVersion": event.order_version,
        "eventTime": event.event_time,
        "order": {
            "orderId": order.order_id,
            "customerId": order.customer_id,
            "orderDate": order.order_date,
            "items": [
                {
                    "itemId": item.item_id,
                    "name": item.name,
                    "quantity": item.quantity,
                    "unitPrice": item.unit_price,
                }
                for item in order.items
            ],
            "totalAmount": order.total_amount,
            "currency": order.currency,
            "status": order.status.value,
        },
    }
