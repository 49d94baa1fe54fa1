"""Reading the order topic for a person (``shop events``): each record decoded into its event, one
line each, as aligned text or as JSON.

Nothing here joins a consumer group or commits: a reader assigns itself the partitions it reads.
Every wait for the broker or the registry is bounded; a record that is not an order event is shown
with the reason, never raised.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from shop.codec import OrderEventCodec
from shop.errors import PoisonEvent, RegistryUnavailable
from shop.events import OrderEvent
from shop.kafka import KafkaAdmin
from shop.order import OrderId
from shop.partition_reader import Offsets, PartitionReader
from shop.partitioning import partition_of
from shop.render import dumps, timestamp

DEFAULT_LAST = 20


@dataclasses.dataclass(frozen=True, slots=True)
class Source:
    """Where the order topic is, and the longest wait for any one answer."""

    bootstrap_servers: str
    registry_url: str
    topic: str
    timeout_s: float


@dataclasses.dataclass(frozen=True, slots=True)
class Query:
    """Which events: those of one order (every one unless ``last``), or the topic's ``last``
    (None: every one); then, with ``follow``, each new one as it comes."""

    order_id: OrderId | None = None
    last: int | None = DEFAULT_LAST
    follow: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Seen:
    """One record of the order topic, decoded: its event, or why it is not one."""

    partition: int
    offset: int
    key: str | None
    timestamp: datetime | None  # the record's (the producer's clock)
    event: OrderEvent | None
    problem: str | None  # None exactly when ``event`` is set


async def decoded(codec: OrderEventCodec, records: Sequence[Any]) -> list[Seen]:
    """``records`` as events, in the same order; :class:`RegistryUnavailable` only when a schema
    the registry must supply cannot be fetched."""
    results = await codec.decode_batch([record.value for record in records])
    return [_seen(record, result) for record, result in zip(records, results, strict=True)]


def _seen(record: Any, result: OrderEvent | PoisonEvent) -> Seen:
    event = result if isinstance(result, OrderEvent) else None
    problem = None if event is not None else str(result)
    if record.value is None:
        problem = "a tombstone (a record without a value)"
    return Seen(
        partition=record.partition,
        offset=record.offset,
        key=None if record.key is None else record.key.decode("utf-8", "backslashreplace"),
        timestamp=_record_time(record.timestamp),
        event=event,
        problem=problem,
    )


def _record_time(milliseconds: int | None) -> datetime | None:
    if milliseconds is None or milliseconds < 0:
        return None
    return datetime.fromtimestamp(milliseconds / 1000, UTC)


def _log_order(record: Any) -> tuple[int, int]:
    return record.partition, record.offset


def _time_order(record: Any) -> tuple[int, int, int]:
    return record.timestamp, record.partition, record.offset


class EventTail:
    """The events a :class:`Query` asks for: those on the topic now, then the ones that follow."""

    def __init__(self, reader: PartitionReader, codec: OrderEventCodec, query: Query) -> None:
        self._reader = reader
        self._codec = codec
        self._query = query
        self._key = None if query.order_id is None else query.order_id.encode()
        self._ends: Offsets = {}

    @classmethod
    @contextlib.asynccontextmanager
    async def opened(cls, source: Source, query: Query) -> AsyncIterator[EventTail]:
        """:class:`RegistryUnavailable`, :class:`KafkaUnavailable` or :class:`TopicNotFound`
        when the registry, the broker or the topic is not there."""
        codec = OrderEventCodec(source.registry_url, source.topic, source.timeout_s)
        if not await codec.registry_reachable(source.timeout_s):
            raise RegistryUnavailable(
                f"the Schema Registry at {source.registry_url} cannot be reached; check that it "
                "runs and --schema-registry-url"
            )
        async with KafkaAdmin.running(source.bootstrap_servers, source.timeout_s) as admin:
            count = await admin.partitions_of(source.topic)
        # An order's events are all on the partition its key hashes to: read that one only.
        key = None if query.order_id is None else query.order_id.encode()
        partitions = range(count) if key is None else [partition_of(key, count)]
        async with PartitionReader.opened(
            source.bootstrap_servers, source.topic, partitions, source.timeout_s
        ) as reader:
            yield cls(reader, codec, query)

    @property
    def partitions(self) -> list[int]:
        return [tp.partition for tp in self._reader.partitions]

    async def existing(self) -> list[Seen]:
        """The events on the topic now: the order's in log order, the topic's by record time."""
        last = self._query.last
        # The last N of the whole topic are among the last N of each partition; an order's last
        # N may be anywhere in its partition.
        self._ends = await self._reader.seek_back(last if self._key is None else None)
        records = [r for r in await self._reader.read_to(self._ends) if self._wanted(r)]
        records.sort(key=self._order())
        return await decoded(self._codec, records if last is None else records[-last:])

    async def following(self) -> AsyncIterator[Seen]:
        """Each event written after :meth:`existing` read, as it comes; until cancelled."""
        # Reading up to the ends may have fetched (and dropped) records past them: fetch again.
        self._reader.seek_to(self._ends)
        while True:
            records = [r for r in await self._reader.batch() if self._wanted(r)]
            for seen in await decoded(self._codec, sorted(records, key=self._order())):
                yield seen

    def _wanted(self, record: Any) -> bool:
        return self._key is None or record.key == self._key

    def _order(self) -> Callable[[Any], tuple[int, ...]]:
        return _log_order if self._key is not None else _time_order


# Text: aligned columns, wide enough for the cart's own values (a longer key shifts its line).
_COLUMNS = "{:>9}  {:>8}  {:<24}  {:>7}  {:<13}  {:<9}  {:>10}  {}"
HEADER = _COLUMNS.format(
    "PARTITION", "OFFSET", "KEY", "VERSION", "EVENT", "STATUS", "TOTAL", "TIME"
)
NOT_AN_EVENT = "NOT_AN_EVENT"


def text_line(seen: Seen) -> str:
    """``seen`` as a row under :data:`HEADER`; a record that is no event says why at the end."""
    key = "-" if seen.key is None else seen.key
    event = seen.event
    if event is None:
        moment = "-" if seen.timestamp is None else timestamp(seen.timestamp)
        row = _COLUMNS.format(seen.partition, seen.offset, key, "-", NOT_AN_EVENT, "-", "-", moment)
        return f"{row}  {seen.problem}"
    return _COLUMNS.format(
        seen.partition,
        seen.offset,
        key,
        event.order_version,
        event.event_type.value,
        event.order.status.value,
        event.order.total_amount,
        timestamp(event.event_time),
    )


def json_line(seen: Seen) -> str:
    """``seen`` as one JSON object; the event's fields are null for a record that is not one."""
    event = seen.event
    return dumps(
        {
            "partition": seen.partition,
            "offset": seen.offset,
            "key": seen.key,
            "timestamp": None if seen.timestamp is None else timestamp(seen.timestamp),
            "orderVersion": None if event is None else event.order_version,
            "eventType": None if event is None else event.event_type.value,
            "eventId": None if event is None else event.event_id,
            "eventTime": None if event is None else timestamp(event.event_time),
            "orderId": None if event is None else event.order_id,
            "status": None if event is None else event.order.status.value,
            "totalAmount": None if event is None else event.order.total_amount,
            "currency": None if event is None else event.order.currency,
            "error": seen.problem,
        }
    )
