"""Records the view cannot apply go to the dead-letter topic, with where they came from and why."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import os
import random
import struct
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import fastavro
from aiokafka import AIOKafkaProducer
from msgspec.structs import replace

from shop import events
from shop.codec import order_event_schema
from shop.events import OrderEvent
from shop.kafka import Headers
from shop.main import RunningService, running_service
from shop.order import Order, OrderId, OrderStatus, build_order
from shop.orders.dead_letters import ERROR, SOURCE_OFFSET, SOURCE_PARTITION, SOURCE_TOPIC, TIME
from shop.settings import Settings
from tests.service.helpers import (
    answer,
    create,
    fresh,
    own_registry,
    put_status,
    records_of,
    to_record,
)
from tests.waiting import unique, wait_until

NOW = datetime.now(UTC)


async def produce(
    bootstrap: str,
    topic: str,
    records: list[tuple[bytes | None, bytes | None]],
    headers: Headers | None = None,
) -> list[Any]:
    """Write raw records past the cart; their metadata (partition, offset), in order."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        return [
            await producer.send_and_wait(topic, value, key=key, headers=headers)
            for key, value in records
        ]
    finally:
        await producer.stop()


async def dead_letters_of(service: RunningService, key: bytes) -> list[Any]:
    settings = service.settings
    return await records_of(service.broker, settings.dead_letters, 1, key.decode())


async def details(http: aiohttp.ClientSession, service: RunningService, order_id: str) -> Any:
    async with http.get(f"{service.orders_url}/order-details", params={"orderId": order_id}) as r:
        return await answer(r)


def _any_order(order_id: str) -> Order:
    return build_order(OrderId(order_id), 2, NOW, random.Random(7))


def forged_create(order_id: str, **order_changes: Any) -> OrderEvent:
    """The create of a generated order, with some fields changed as the cart never would."""
    return events.created(replace(_any_order(order_id), **order_changes), NOW)


async def test_events_that_break_the_carts_rules_are_dead_lettered_and_change_nothing(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """A negative total, quantity 0, a forged huge version and a key that is not the orderId are
    refused: each lands on the dead-letter topic as it was, with its source and reason."""
    codec, topic = service.codec, service.settings.topic
    victim = (await create(http, service.cart_url, unique("ORDER")))["orderId"]
    assert await put_status(http, service.cart_url, victim, "delivered") == 200
    held, version = service.view.store.get(victim)  # type: ignore[misc]
    target = (await create(http, service.cart_url, unique("ORDER")))["orderId"]
    fresh_order, _ = service.view.store.get(target)  # type: ignore[misc]

    negative = forged_create(unique("ORDER"), total_amount=Decimal("-50.00"))
    base = _any_order("X")
    zero = (replace(base.items[0], quantity=0), *base.items[1:])
    quantity_zero = forged_create(unique("ORDER"), items=zero, total_amount=Decimal("999.99"))
    huge = replace(
        events.updated(fresh_order.with_status(OrderStatus.CANCELLED), 1, NOW), order_version=2**62
    )
    reopen = events.updated(replace(held, status=OrderStatus.NEW), version, NOW)
    other_key = unique("P-KEYA").encode()
    forged = [
        (negative.order_id.encode(), codec.encode(negative), "not the sum"),
        (quantity_zero.order_id.encode(), codec.encode(quantity_zero), "quantity 0"),
        (target.encode(), codec.encode(huge), "impossible at offset"),
        (other_key, codec.encode(reopen), "not the event's orderId"),
        (victim.encode(), codec.encode(reopen), "cannot become new"),
    ]
    landed = await produce(service.broker, topic, [(key, value) for key, value, _ in forged])

    for (key, value, reason), where in zip(forged, landed, strict=True):
        letters = await wait_until(
            lambda key=key, where=where: _letter_at(service, key, where),  # type: ignore[misc]
            what=f"the dead letter of {key!r}",
        )
        headers = dict(letters.headers)
        assert (letters.key, letters.value) == (key, value)
        assert headers[SOURCE_TOPIC] == topic.encode()
        assert headers[SOURCE_PARTITION] == str(where.partition).encode()
        assert reason in headers[ERROR].decode(), headers[ERROR]
        assert datetime.fromisoformat(headers[TIME].decode()) >= NOW
    status, body = await details(http, service, victim)
    assert (status, body["status"]) == (200, "delivered")
    status, body = await details(http, service, target)
    assert (status, body["status"]) == (200, "new")
    for refused in (negative, quantity_zero):
        assert (await details(http, service, refused.order_id))[0] == 404


async def _letter_at(service: RunningService, key: bytes, where: Any) -> Any:
    for letter in await dead_letters_of(service, key):
        headers = dict(letter.headers)
        if (
            headers[SOURCE_OFFSET] == str(where.offset).encode()
            and headers[SOURCE_PARTITION] == str(where.partition).encode()
        ):
            return letter
    return None


async def test_a_restarted_view_does_not_dead_letter_a_record_twice(
    service_settings: Settings, http: aiohttp.ClientSession
) -> None:
    """Each start replays the topic; a record dead-lettered by an earlier run is not sent again."""
    settings = fresh(service_settings)
    key = unique("ORDER").encode()
    async with running_service(settings) as first:
        await produce(first.broker, settings.topic, [(key, b"not an event")])
        await wait_until(lambda: _count(first, key, 1), what="the first dead letter")
    async with running_service(settings) as second:
        report = second.view.consumer.report()
        assert (report["refused"], report["deadLettered"]) == (1, 0)
        assert len(await dead_letters_of(second, key)) == 1
        # A new bad record is still dead-lettered by the restarted view.
        await produce(second.broker, settings.topic, [(key, struct.pack(">bI", 0, 999_999) + b"x")])
        await wait_until(lambda: _count(second, key, 2), what="the second dead letter")


async def _count(service: RunningService, key: bytes, expected: int) -> bool:
    return len(await dead_letters_of(service, key)) == expected


async def test_of_two_events_claiming_one_version_the_first_counts_and_the_other_is_counted(
    service_settings: Settings, http: aiohttp.ClientSession
) -> None:
    """Two different version-2 events (a write that landed late, without idempotence, or from an
    instance that lost its partition): the view holds the first in the log, counts the conflict,
    and a replay agrees."""
    settings = fresh(service_settings)
    async with running_service(settings) as service:
        order_id = (await create(http, service.cart_url, unique("ORDER")))["orderId"]
        held, _ = service.view.store.get(order_id)  # type: ignore[misc]
        confirmed = events.updated(held.with_status(OrderStatus.CONFIRMED), 1, NOW)
        shipped = events.updated(held.with_status(OrderStatus.SHIPPED), 1, NOW)
        codec = service.codec
        await produce(
            service.broker,
            settings.topic,
            [
                (order_id.encode(), codec.encode(confirmed)),
                (order_id.encode(), codec.encode(shipped)),
            ],
        )

        async def conflict_seen() -> bool:
            return service.view.consumer.conflicts == 1

        await wait_until(conflict_seen, what="the conflict to be counted")
        assert service.view.store.get(order_id) == (confirmed.order, 2)
        status, body = await details(http, service, order_id)
        assert (status, body["status"]) == (200, "confirmed")
    async with running_service(dataclasses.replace(settings, consumer_group=unique("g"))) as replay:
        assert replay.view.store.get(order_id) == (confirmed.order, 2)
        assert replay.view.consumer.report()["versionConflicts"] == 1


async def test_a_registry_outage_is_waited_out_never_dead_lettered(
    service_settings: Settings, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """An event under a schema id the view has not seen, while the registry is down: the view
    waits (health says not caught up), then applies it once the registry is back."""
    registry, settings = own_registry(service_settings, tmp_path)
    async with registry.running(), running_service(settings) as service:
        order_id = (await create(http, service.cart_url, unique("ORDER")))["orderId"]
        held, version = service.view.store.get(order_id)  # type: ignore[misc]
        # A newer, compatible writer schema (one more field with a default), registered now.
        schema = order_event_schema()
        schema["fields"].append({"name": "note", "type": "string", "default": ""})
        async with http.post(
            f"{settings.schema_registry_url}/subjects/{service.codec.subject}/versions",
            json={"schema": json.dumps(schema)},
            headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
        ) as response:
            schema_id = (await response.json())["id"]
        shipped = events.updated(held.with_status(OrderStatus.SHIPPED), version, NOW)
        payload = io.BytesIO()
        payload.write(struct.pack(">bI", 0, schema_id))
        fastavro.schemaless_writer(
            payload, fastavro.parse_schema(schema), {**to_record(shipped), "note": "hi"}
        )
        await registry.stop()
        await produce(service.broker, settings.topic, [(order_id.encode(), payload.getvalue())])

        async def view_waiting() -> bool:
            return service.view.consumer.report()["caughtUp"] is False

        await wait_until(view_waiting, what="the view to say it is behind")
        async with http.get(f"{service.orders_url}/health") as response:
            _, body = await answer(response)
        assert body["orderView"]["caughtUp"] is False
        await registry.start()

        async def applied() -> bool:
            return service.view.store.get(order_id) == (shipped.order, version + 1)

        await wait_until(applied, timeout=30, what="the event once the registry is back")
        assert service.view.consumer.report()["deadLettered"] == 0
        await wait_until(lambda: _caught_up(service), what="the view to say it caught up")


async def _caught_up(service: RunningService) -> bool:
    return service.view.consumer.report()["caughtUp"] is True


async def test_a_dead_letter_can_be_listed_and_replayed_to_its_source_topic(
    service_settings: Settings, http: aiohttp.ClientSession
) -> None:
    """``python -m shop.orders.replay`` lists a dead letter and puts it back on the order topic
    with its key, value and headers; the view judges it again."""
    settings = fresh(service_settings)
    key = unique("ORDER").encode()
    async with running_service(settings) as service:
        await produce(service.broker, settings.topic, [(key, b"not an event")], [("trace", b"t-1")])
        await wait_until(lambda: _count(service, key, 1), what="the dead letter")
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        args = ["--bootstrap-servers", service.broker, "--dead-letter-topic", settings.dead_letters]
        listed = await _run(env, *args, "list")
        offset = int(listed.split("\t")[0])
        assert key.decode() in listed and "Confluent wire format" in listed
        replayed = await _run(env, *args, "replay", str(offset))
        assert f"to {settings.topic}-" in replayed
        await wait_until(lambda: _count(service, key, 2), what="the replayed record refused again")
        letters = await dead_letters_of(service, key)
        assert (letters[1].key, letters[1].value) == (key, b"not an event")
        assert ("trace", b"t-1") in letters[1].headers
        assert dict(letters[1].headers)[SOURCE_OFFSET] != dict(letters[0].headers)[SOURCE_OFFSET]


async def _run(env: dict[str, str], *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shop.orders.replay",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    return out.decode()
