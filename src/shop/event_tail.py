"""Reading the order topic for a person (``shop events``): each record decoded into its event, one
line each, as aligned text or as JSON.

Nothing here joins a consumer group or commits: a reader assigns itself the partitions it reads.
Every wait for the broker or the registry is bounded; a record that is not an order event is shown
with the reason, never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from shop.codec import OrderEventCodec
from shop.errors import KafkaUnavailable, PoisonEvent, RegistryUnavailable
from shop.events import OrderEvent
from shop.kafka import KafkaAdmin, bounded, close_quietly
from shop.order import OrderId
from shop.render import dumps, timestamp

DEFAULT_LAST = 20
# Longest wait of one fetch for records that are not there yet.
FETCH_WAIT_MS = 500

Offsets = dict[TopicPartition, int]


def partition_of(key: bytes, partitions: int) -> int:
    """The partition the producer's default partitioner puts ``key`` on: murmur2 of the key
    bytes, made positive, modulo the partition count (as Kafka's Java client)."""
    every = list(range(partitions))
    partition: int = DefaultPartitioner()(key, every, every)
    return partition


class PartitionReader:
    """A consumer of some partitions of one topic, without a group (nothing is committed); a
    broker that fails, or sends nothing for ``timeout_s`` while records are due, is
    :class:`KafkaUnavailable`."""

    def __init__(self, consumer: Any, tps: list[TopicPartition], timeout_s: float) -> None:
        self._consumer = consumer
        self.partitions = tps
        self._timeout_s = timeout_s

    @classmethod
    @contextlib.asynccontextmanager
    async def opened(
        cls, bootstrap_servers: str, topic: str, partitions: Iterable[int], timeout_s: float
    ) -> AsyncIterator[PartitionReader]:
        consumer: Any = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            # earliest: a reset racing the seek that follows assign() must not land at the end.
            auto_offset_reset="earliest",
            request_timeout_ms=int(timeout_s * 1000),
        )
        reader = cls(consumer, [TopicPartition(topic, p) for p in partitions], timeout_s)
        try:
            await bounded(consumer.start(), timeout_s, f"connecting to {bootstrap_servers}")
            consumer.assign(reader.partitions)
            yield reader
        finally:
            await close_quietly(consumer.stop(), timeout_s, f"reader of {topic}")

    async def seek_back(self, last: int | None = None) -> Offsets:
        """Go to ``last`` records before the end of each partition (None: to its beginning);
        the ends, as they are now."""
        ends = await self._bounded(self._consumer.end_offsets(self.partitions))
        begins = await self._bounded(self._consumer.beginning_offsets(self.partitions))
        for tp in self.partitions:
            self._consumer.seek(
                tp, begins[tp] if last is None else max(begins[tp], ends[tp] - last)
            )
        return dict(ends)

    def seek_to(self, offsets: Mapping[TopicPartition, int]) -> None:
        for tp, offset in offsets.items():
            self._consumer.seek(tp, offset)

    async def read_to(self, ends: Mapping[TopicPartition, int]) -> list[Any]:
        """The records from here to ``ends``, each partition's in log order."""
        loop = asyncio.get_running_loop()
        found: list[Any] = []
        pending = {tp for tp in self.partitions if await self._position(tp) < ends[tp]}
        quiet_until = loop.time() + self._timeout_s
        while pending:
            batches = await self._bounded(
                self._consumer.getmany(*pending, timeout_ms=FETCH_WAIT_MS)
            )
            for tp, records in batches.items():
                found += [record for record in records if record.offset < ends[tp]]
            pending = {tp for tp in pending if await self._position(tp) < ends[tp]}
            if batches:
                quiet_until = loop.time() + self._timeout_s
            elif loop.time() > quiet_until:
                raise KafkaUnavailable(
                    f"Kafka sent nothing of {self.partitions[0].topic} for {self._timeout_s:g} s "
                    "while records were due; try again later"
                )
        return found

    async def batch(self) -> list[Any]:
        """The next records of any partition, after a wait of at most ``FETCH_WAIT_MS``."""
        batches = await self._bounded(
            self._consumer.getmany(*self.partitions, timeout_ms=FETCH_WAIT_MS)
        )
        return [record for records in batches.values() for record in records]

    async def _position(self, tp: TopicPartition) -> int:
        position: int = await self._bounded(self._consumer.position(tp))
        return position

    async def _bounded(self, call: Any) -> Any:
        return await bounded(call, self._timeout_s, f"reading {self.partitions[0].topic}")


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
