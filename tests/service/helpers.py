"""Small helpers of the service tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import simplejson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shop.children import ChildProcess, schema_registry
from shop.codec import OrderEventCodec
from shop.events import OrderEvent
from shop.kafka import KafkaAdmin
from shop.settings import Settings
from tests.brokers import free_port
from tests.conftest import broker_kind, broker_of_kind
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


async def records_of(bootstrap: str, topic: str, partitions: int, order_id: str) -> list[Any]:
    """Every record of ``order_id`` on ``topic``, in log order (raw, as aiokafka gives them)."""
    # earliest: a reset racing seek_to_beginning after assign() must not land at the end.
    consumer: Any = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, partition) for partition in range(partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        found: list[Any] = []
        for tp in tps:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                found += [r for r in batch.get(tp, []) if r.key == order_id.encode()]
        return found
    finally:
        await consumer.stop()


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
