"""The events on the topic: read back by confluent-kafka's Avro deserializer, one version each."""

from __future__ import annotations

import asyncio
import struct
from decimal import Decimal
from typing import Any

import aiohttp
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from shop.main import RunningService
from shop.render import timestamp
from tests.service.helpers import answer, create
from tests.waiting import unique


def read_events(
    bootstrap: str, registry_url: str, topic: str, partitions: int, key: str, count: int
) -> list[tuple[bytes, bytes, dict[str, Any]]]:
    """(key, value bytes, decoded value) of the first ``count`` records of ``key``, by confluent."""
    registry = SchemaRegistryClient({"url": registry_url})
    deserialize = AvroDeserializer(registry)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique("confluent"),
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    found: list[tuple[bytes, bytes, dict[str, Any]]] = []
    try:
        deadline = 200
        while len(found) < count and deadline:
            deadline -= 1
            message = consumer.poll(0.1)
            if message is None or message.error() or message.key() != key.encode():
                continue
            value = message.value()
            context = SerializationContext(topic, MessageField.VALUE)
            found.append((message.key(), value, deserialize(value, context)))
    finally:
        consumer.close()
        registry.close()
    return found


async def test_events_decode_with_confluent_avro_deserializer(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """confluent-kafka decodes every event: wire format, schema id, fields, Decimal money, key."""
    order = await create(http, service.cart_url, unique("ORDER"), items=5)
    async with http.put(
        f"{service.cart_url}/update-order", json={"orderId": order["orderId"], "status": "shipped"}
    ) as response:
        _, updated = await answer(response)
    settings = service.settings
    records = await asyncio.to_thread(
        read_events,
        service.broker,
        service.registry_url,
        settings.topic,
        settings.topic_partitions,
        order["orderId"],
        2,
    )
    assert len(records) == 2
    for key, value, _ in records:
        assert key == order["orderId"].encode("utf-8")
        magic, schema_id = struct.unpack(">bI", value[:5])
        assert (magic, schema_id) == (0, service.codec.schema_id)
    (_, _, first), (_, _, second) = records
    assert (first["eventType"], first["orderVersion"]) == ("ORDER_CREATED", 1)
    assert (second["eventType"], second["orderVersion"]) == ("ORDER_UPDATED", 2)
    assert first["eventId"] != second["eventId"]
    for event, answered in ((first, order), (second, updated["order"])):
        snapshot = event["order"]
        assert isinstance(snapshot["totalAmount"], Decimal)
        assert snapshot["totalAmount"] == answered["totalAmount"]
        assert [item["unitPrice"] for item in snapshot["items"]] == [
            item["unitPrice"] for item in answered["items"]
        ]
        assert timestamp(snapshot["orderDate"]) == answered["orderDate"]
        assert {k: snapshot[k] for k in ("orderId", "customerId", "currency", "status")} == {
            k: answered[k] for k in ("orderId", "customerId", "currency", "status")
        }


async def test_version_increases_by_one_per_event(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """Each accepted change of an order is the next version of it."""
    order = await create(http, service.cart_url, unique("ORDER"))
    statuses = ["confirmed", "shipped", "delivered"]
    for status in statuses:
        async with http.put(
            f"{service.cart_url}/update-order", json={"orderId": order["orderId"], "status": status}
        ) as response:
            assert response.status == 200
    settings = service.settings
    records = await asyncio.to_thread(
        read_events,
        service.broker,
        service.registry_url,
        settings.topic,
        settings.topic_partitions,
        order["orderId"],
        4,
    )
    assert [event["orderVersion"] for _, _, event in records] == [1, 2, 3, 4]
    assert [event["order"]["status"] for _, _, event in records] == ["new", *statuses]
