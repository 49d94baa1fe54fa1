"""python-schema-registry-client, async and sync, against our registry: it must not tell."""

from __future__ import annotations

from typing import Any

from schema_registry.client import AsyncSchemaRegistryClient, SchemaRegistryClient, schema
from schema_registry.serializers import AsyncAvroMessageSerializer

from tests.waiting import unique


def order_schema(*extra: dict[str, Any]) -> schema.AvroSchema:
    fields = [{"name": "order_id", "type": "string"}, {"name": "total_cents", "type": "long"}]
    return schema.AvroSchema(
        {
            "type": "record",
            "name": "Placed",
            "namespace": "shop.conformance",
            "fields": fields + list(extra),
        }
    )


async def test_async_client_full_cycle(registry_url: str) -> None:
    """register, get_by_id, get_schema, check_version, compatibility, config and delete."""
    client = AsyncSchemaRegistryClient(url=registry_url)
    subject = unique("pyasync-value")
    v1 = order_schema()
    schema_id = await client.register(subject, v1)
    assert (await client.get_by_id(schema_id)) == v1
    latest = await client.get_schema(subject)
    assert (latest.subject, latest.schema_id, latest.version, latest.schema) == (
        subject,
        schema_id,
        1,
        v1,
    )
    found = await client.check_version(subject, v1)
    assert (found.schema_id, found.version) == (schema_id, 1)
    compatible = order_schema({"name": "note", "type": "string", "default": ""})
    breaking = order_schema({"name": "note", "type": "string"})
    assert await client.test_compatibility(subject, compatible) is True
    assert await client.test_compatibility(subject, breaking) is False
    assert await client.update_compatibility("FULL", subject) is True
    assert await client.get_compatibility(subject) == "FULL"
    assert await client.get_compatibility() in {"BACKWARD", "FORWARD", "FULL", "NONE"}
    assert await client.register(subject, compatible) > schema_id
    assert await client.get_versions(subject) == [1, 2]
    assert await client.delete_subject(subject) == [1, 2]
    assert await client.get_versions(subject) == []


async def test_async_serializer_round_trip(registry_url: str) -> None:
    """AsyncAvroMessageSerializer encodes with a registered id and decodes by fetching it."""
    subject = unique("pyser-value")
    record = {"order_id": "o-1", "total_cents": 1999}
    writer = AsyncAvroMessageSerializer(AsyncSchemaRegistryClient(url=registry_url))
    message = await writer.encode_record_with_schema(subject, order_schema(), record)
    assert message[0] == 0
    reader = AsyncAvroMessageSerializer(AsyncSchemaRegistryClient(url=registry_url))
    assert await reader.decode_message(message) == record


def test_sync_client_full_cycle(registry_url: str) -> None:
    """The synchronous client does the same: register, read back, check, configure, delete."""
    client = SchemaRegistryClient(url=registry_url)
    subject = unique("pysync-value")
    v1 = order_schema()
    schema_id = client.register(subject, v1)
    assert client.get_by_id(schema_id) == v1
    assert client.get_schema(subject, version=1).schema_id == schema_id
    assert client.check_version(subject, v1).version == 1
    assert client.test_compatibility(subject, order_schema({"name": "n", "type": "int"})) is False
    assert client.update_compatibility("NONE", subject) is True
    assert client.test_compatibility(subject, order_schema({"name": "n", "type": "int"})) is True
    assert client.delete_subject(subject) == [1]
    assert client.get_schema(subject) is None
