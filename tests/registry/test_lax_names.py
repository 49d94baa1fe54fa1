"""A schema Confluent stored with a name its lax reader accepts (namespace ``com.x-y``) is served:
looked up, checked against and followed by new versions, as Confluent serves it."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer

from shop.registry import records
from shop.registry.database import SchemaVersion
from shop.registry.typedefs import SchemaId, Subject, Version
from tests.registry.conftest import Api, body
from tests.waiting import unique, wait_until

LAX = {
    "type": "record",
    "name": "Lax",
    "namespace": "com.x-y",
    "fields": [{"name": "a", "type": "int"}],
}
# the next version: a field with a default, and a namespace new schemas may have
FOLLOWING = {
    "type": "record",
    "name": "Lax",
    "namespace": "com.x-y",
    "fields": [{"name": "a", "type": "int"}, {"name": "b", "type": "string", "default": ""}],
}


@pytest.fixture
async def producer(bootstrap_servers: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def stored_by_confluent(api: Api, producer: AIOKafkaProducer, text: str) -> Subject:
    """A new subject whose version 1 is ``text``, written to _schemas as Confluent writes it, once
    the registry serves it."""
    subject = Subject(unique("lax-value"))
    schema_id = SchemaId(random.randrange(10**6, 2 * 10**6))  # far from the ids handed out
    entry = SchemaVersion(subject, Version(1), schema_id, text)
    key, value = records.schema_record(entry)
    await producer.send_and_wait("_schemas", key=key, value=value, partition=0)

    async def served() -> bool:
        return (await api.call("GET", f"/subjects/{subject}/versions/1"))[0] == 200

    await wait_until(served, timeout=10, what=f"the registry to serve {subject}")
    return subject


async def test_a_lax_namespace_stored_by_confluent_is_looked_up(
    api: Api, producer: AIOKafkaProducer
) -> None:
    """Looking the stored schema up answers 200, as Confluent's lookup (not a new schema) does."""
    text = json.dumps(LAX, separators=(",", ":"))
    subject = await stored_by_confluent(api, producer, text)
    status, found = await api.call("POST", f"/subjects/{subject}", body(LAX))
    assert status == 200, found
    assert (found["subject"], found["version"]) == (subject, 1)


@pytest.mark.parametrize("level", ["BACKWARD", "NONE"])
async def test_a_subject_with_a_lax_namespace_is_checked_and_grows(
    api: Api, producer: AIOKafkaProducer, level: str
) -> None:
    """Checking and registering a compatible schema with valid names answer 200 under the
    subject, whatever its level; new schemas still need valid names."""
    subject = await stored_by_confluent(api, producer, json.dumps(LAX))
    assert (await api.call("PUT", f"/config/{subject}", {"compatibility": level}))[0] == 200
    valid = {**FOLLOWING, "namespace": "com.x_y"}  # record names compare by simple name
    checked = await api.call(
        "POST", f"/compatibility/subjects/{subject}/versions/latest", body(valid)
    )
    assert checked == (200, {"is_compatible": True})
    status, created = await api.call("POST", f"/subjects/{subject}/versions", body(valid))
    assert status == 200 and created["version"] == 2, created
    status, refused = await api.call("POST", f"/subjects/{subject}/versions", body(FOLLOWING))
    assert (status, refused["error_code"]) == (422, 42201)


async def test_a_schema_stored_in_an_older_key_order_is_the_same_schema(
    api: Api, producer: AIOKafkaProducer
) -> None:
    """A text stored with each field's type before its name (this registry's order before it
    took Avro Java's) is found by lookup, and registering the schema again adds no version."""
    schema = {"type": "record", "name": "Old", "fields": [{"name": "a", "type": "int"}]}
    old_order = '{"type":"record","name":"Old","fields":[{"type":"int","name":"a"}]}'
    subject = await stored_by_confluent(api, producer, old_order)
    status, found = await api.call("POST", f"/subjects/{subject}", body(schema))
    assert (status, found["version"], found["schema"]) == (200, 1, old_order)
    status, again = await api.call("POST", f"/subjects/{subject}/versions", body(schema))
    assert (status, again["id"], again["version"]) == (200, found["id"], 1)
    assert await api.call("GET", f"/subjects/{subject}/versions") == (200, [1])
