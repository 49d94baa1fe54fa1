"""Reading some partitions of a topic without a consumer group: nothing joins, nothing is
committed, and every wait for the broker is bounded. The topic scans of getAllOrderIdsFromTopic,
``shop events`` and ``shop dead-letters`` read through it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from shop.errors import KafkaUnavailable
from shop.kafka import bounded, close_quietly

# Longest wait of one fetch for records that are not there yet.
FETCH_WAIT_MS = 500

Offsets = dict[TopicPartition, int]


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
        batches = await self.fetch(self.partitions, FETCH_WAIT_MS)
        return [record for records in batches.values() for record in records]

    async def fetch(
        self, partitions: Iterable[TopicPartition], wait_ms: int, max_records: int | None = None
    ) -> dict[TopicPartition, list[Any]]:
        """The next records of ``partitions``, by partition, after a wait of at most ``wait_ms``."""
        batches: dict[TopicPartition, list[Any]] = await self._bounded(
            self._consumer.getmany(*partitions, timeout_ms=wait_ms, max_records=max_records)
        )
        return batches

    async def position(self, tp: TopicPartition) -> int:
        """The offset of the next record of ``tp`` this reader will return."""
        return await self._position(tp)

    async def _position(self, tp: TopicPartition) -> int:
        position: int = await self._bounded(self._consumer.position(tp))
        return position

    async def _bounded(self, call: Any) -> Any:
        return await bounded(call, self._timeout_s, f"reading {self.partitions[0].topic}")
