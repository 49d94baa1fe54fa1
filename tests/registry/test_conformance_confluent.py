"""confluent-kafka's own Schema Registry client and Avro serdes against our registry."""

from __future__ import annotations

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from tests.waiting import unique

SCHEMA = """
{"type": "record", "name": "Shipped", "namespace": "shop.conformance",
 "fields": [{"name": "order_id", "type": "string"},
            {"name": "items", "type": {"type": "array", "items": "string"}},
            {"name": "carrier", "type": ["null", "string"], "default": null}]}
"""


def test_avro_serializer_round_trip(registry_url: str) -> None:
    """A record serialized with auto-registration deserializes to the same record."""
    topic = unique("shipments")
    context = SerializationContext(topic, MessageField.VALUE)
    record = {"order_id": "o-42", "items": ["book", "pen"], "carrier": "post"}
    with SchemaRegistryClient({"url": registry_url}) as client:
        data = AvroSerializer(client, SCHEMA)(record, context)
        assert data is not None and data[0] == 0
        schema_id = int.from_bytes(data[1:5], "big")
        assert client.get_latest_version(f"{topic}-value").schema_id == schema_id
    with SchemaRegistryClient({"url": registry_url}) as fresh:
        assert AvroDeserializer(fresh)(data, context) == record


def test_client_admin_calls(registry_url: str) -> None:
    """register, lookup, versions, compatibility (sent as True/False) and config, by the client."""
    with SchemaRegistryClient({"url": registry_url}) as client:
        admin_calls(client, unique("ck-value"))


def admin_calls(client: SchemaRegistryClient, subject: str) -> None:
    schema_id = client.register_schema(subject, Schema(SCHEMA, "AVRO"))
    found = client.lookup_schema(subject, Schema(SCHEMA, "AVRO"))
    assert (found.schema_id, found.version) == (schema_id, 1)
    assert client.get_versions(subject) == [1]
    assert client.test_compatibility(subject, Schema(SCHEMA, "AVRO")) is True
    client.set_compatibility(subject, "FORWARD_TRANSITIVE")
    assert client.get_compatibility(subject) == "FORWARD_TRANSITIVE"
    assert client.get_schema(schema_id).schema_str is not None
    assert client.delete_subject(subject) == [1]
    assert client.delete_subject(subject, permanent=True) == [1]
