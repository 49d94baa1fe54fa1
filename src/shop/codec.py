"""Order events as Avro in the Confluent wire format, with schemas from the Schema Registry.

Registration and unknown writer schemas need the registry (async, python-schema-registry-client);
encoding with our registered schema (:mod:`shop.event_avro`, written for it) and decoding any
schema id seen before (fastavro) need no I/O. Its AsyncAvroMessageSerializer is not used: its
encode may fetch the schema again mid-request (raising an unmapped SerializerError) and its decode
awaits per record, while the consumer's hot path decodes a whole batch without an await per
record.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import struct
from collections.abc import Awaitable, Callable, Sequence
from importlib.resources import files
from typing import Any, TypeVar

import fastavro
import httpx
from schema_registry.client import AsyncSchemaRegistryClient
from schema_registry.client.errors import ClientError
from schema_registry.client.schema import AvroSchema

from shop import event_avro, events
from shop.errors import PoisonEvent, RegistryUnavailable, StartupError
from shop.events import OrderEvent
from shop.probe import SharedProbe

log = logging.getLogger(__name__)

MAGIC_BYTE = 0
_HEADER = struct.Struct(">bI")
T = TypeVar("T")

# What a registry that cannot be reached, or answers something that is not its API, raises.
_REGISTRY_ERRORS = (httpx.HTTPError, ClientError, ValueError, OSError, asyncio.TimeoutError)


def order_event_schema() -> dict[str, Any]:
    """``schemas/order.avsc``, read as a package resource."""
    text = files("shop").joinpath("schemas/order.avsc").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def subject_for(topic: str) -> str:
    """The subject of a topic's values under the default (topic name) strategy."""
    return f"{topic}-value"


Decoder = Callable[[io.BytesIO], Any]


class OrderEventCodec:
    """Encodes and decodes :class:`OrderEvent` values of one topic."""

    def __init__(self, registry_url: str, topic: str, timeout_s: float) -> None:
        self.registry_url = registry_url
        self.subject = subject_for(topic)
        self._timeout_s = timeout_s
        self._client = AsyncSchemaRegistryClient(url=registry_url, timeout=httpx.Timeout(timeout_s))
        # The registry client builds a new httpx client (and SSL context) for every request: about
        # 850 kB of garbage per /health. The probe has one client of its own, which keeps no
        # connection between probes, so it holds nothing that needs closing.
        self._probe_client = httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0))
        self.registry_probe = SharedProbe()
        self._schema = AvroSchema(order_event_schema())
        self._reader = fastavro.parse_schema(order_event_schema())
        self._schema_id: int | None = None
        self._header: bytes | None = None  # magic byte and schema id, packed once by start()
        self._decoders: dict[int, Decoder] = {}

    @property
    def schema_id(self) -> int:
        assert self._schema_id is not None, "start() first"
        return self._schema_id

    async def start(self) -> None:
        """Register the event schema under ``<topic>-value``; fail start-up if refused."""
        try:
            self._schema_id = await self._bounded(self._client.register(self.subject, self._schema))
        except ClientError as exc:
            if exc.http_code is None or exc.http_code >= 500:
                raise RegistryUnavailable(
                    f"the Schema Registry at {self.registry_url} failed: {exc.message}"
                ) from None
            raise StartupError(
                f"the Schema Registry at {self.registry_url} refused the schema of "
                f"{self.subject}: {exc.message} (HTTP {exc.http_code})"
            ) from None
        except _REGISTRY_ERRORS as exc:
            raise self._unavailable(exc) from None
        self._decoders[self.schema_id] = self._decoder(self._schema.schema, same_as_reader=True)
        self._header = _HEADER.pack(MAGIC_BYTE, self.schema_id)
        log.info("schema of %s registered with id %d", self.subject, self.schema_id)

    def encode(self, event: OrderEvent) -> bytes:
        """The record value of ``event``: magic byte, schema id, Avro binary (no I/O)."""
        assert self._header is not None, "start() first"
        return self._header + event_avro.encode(event)

    async def decode_batch(self, values: Sequence[bytes | None]) -> list[OrderEvent | PoisonEvent]:
        """Decode every value, in order; an undecodable one becomes a :class:`PoisonEvent`.

        Writer schemas not seen before are fetched from the registry first (one request per
        new id); :class:`RegistryUnavailable` when it cannot be reached, so nothing is skipped
        for an outage.
        """
        for schema_id in {_schema_id_of(value) for value in values} - self._decoders.keys():
            if schema_id is not None:
                await self._learn(schema_id)
        return [self._decode_known(value) for value in values]

    async def registry_reachable(self, timeout_s: float) -> bool:
        """Whether the registry answered a real request within ``timeout_s``, at most a second
        ago: one request serves every caller meanwhile (:class:`SharedProbe`)."""
        return await self.registry_probe.answer(lambda: self._get_config(timeout_s))

    async def _get_config(self, timeout_s: float) -> bool:
        # GET /config: a few bytes, and an answer from the registry's API, not just its port.
        try:
            response = await asyncio.wait_for(
                self._probe_client.get(self.registry_url + "/config", timeout=timeout_s), timeout_s
            )
        except _REGISTRY_ERRORS:
            return False
        return response.status_code == 200

    def _decode_known(self, value: bytes | None) -> OrderEvent | PoisonEvent:
        schema_id = _schema_id_of(value)
        if value is None or schema_id is None:
            return PoisonEvent("not in the Confluent wire format (magic byte 0, schema id)")
        decoder = self._decoders.get(schema_id)
        if decoder is None:
            return PoisonEvent(f"schema id {schema_id} is unknown to the Schema Registry")
        payload = io.BytesIO(value)
        payload.seek(_HEADER.size)
        try:
            return events.from_record(decoder(payload))
        except Exception as exc:  # fastavro and the record mapping raise many kinds
            return PoisonEvent(f"cannot decode an order event with schema id {schema_id}: {exc!r}")

    async def _learn(self, schema_id: int) -> None:
        try:
            writer = await self._bounded(self._client.get_by_id(schema_id))
        except _REGISTRY_ERRORS as exc:
            raise self._unavailable(exc) from None
        if writer is None:
            return  # the record is poison: _decode_known says so
        self._decoders[schema_id] = self._decoder(writer.schema, same_as_reader=False)

    def _decoder(self, writer: Any, *, same_as_reader: bool) -> Decoder:
        # Another writer's schema is resolved into ours, so a newer compatible schema still reads.
        reader = None if same_as_reader else self._reader
        return lambda payload: fastavro.schemaless_reader(payload, writer, reader)

    async def _bounded(self, call: Awaitable[T]) -> T:
        # Not wait_for, which on 3.11 can lose a cancellation that comes as the call ends: the
        # view's task, reading a schema when the service stops, would go on.
        async with asyncio.timeout(self._timeout_s):
            return await call

    def _unavailable(self, exc: BaseException) -> RegistryUnavailable:
        return RegistryUnavailable(
            f"the Schema Registry at {self.registry_url} cannot be reached "
            f"({type(exc).__name__}); check that it runs and SHOP_SCHEMA_REGISTRY_URL"
        )


def _schema_id_of(value: bytes | None) -> int | None:
    if value is None or len(value) <= _HEADER.size:
        return None
    magic, schema_id = _HEADER.unpack_from(value)
    return schema_id if magic == MAGIC_BYTE else None
