"""Scanning a topic for its distinct keys (getAllOrderIdsFromTopic), bounded and a few at a time.

A scan runs in the event loop that also serves writes. It reads small batches and yields between
them, so a create's latency is not held behind a scan; it stops after ``max_records`` records or
``timeout_s`` seconds of reading and says which bound cut it short; and at most a few run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import math
from collections.abc import Iterator

from aiokafka import TopicPartition

from shop.errors import TooManyScans, TopicNotAllowed, echo
from shop.kafka import KafkaAdmin, bounded
from shop.partition_reader import PartitionReader

# Records decoded between two yields to the event loop: well under a millisecond of work.
BATCH_RECORDS = 500
# Longest wait of one fetch for records that are not there yet.
FETCH_WAIT_S = 0.2


class PartialReason(enum.StrEnum):
    """Which bound ended a scan before the end of the topic."""

    MAX_RECORDS = "max_records"
    TIME_LIMIT = "time_limit"


@dataclasses.dataclass(frozen=True, slots=True)
class TopicKeys:
    keys: list[str]  # distinct and sorted
    partial: PartialReason | None  # None when every partition was read to its end


class TopicReader:
    """The reader behind getAllOrderIdsFromTopic: which topics may be read, and their keys, read
    by at most ``concurrency`` scans at once within the bounds of one scan."""

    def __init__(
        self,
        bootstrap_servers: str,
        admin: KafkaAdmin,
        allowed: frozenset[str],
        *,
        max_records: int,
        timeout_s: float,
        concurrency: int,
    ) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._admin = admin
        self._allowed = sorted(allowed)
        self._max_records = max_records
        self._timeout_s = timeout_s
        # A scan holds its slot for at most about the request timeout.
        self._slots = ScanSlots(concurrency, timeout_s)

    async def keys(self, topic: str) -> TopicKeys:
        """The keys of ``topic``: :class:`TopicNotAllowed` unless it is one of the allowed ones,
        :class:`TooManyScans` when every slot is taken."""
        # Refused whether it exists or not: the answer tells nothing about the cluster's other
        # topics.
        if topic not in self._allowed:
            raise TopicNotAllowed(
                f"topic {echo(topic)} may not be read here; the topics this service may read "
                "are: " + ", ".join(self._allowed)
            )
        with self._slots.taken():
            partitions = await self._admin.partitions_of(topic)
            return await read_topic_keys(
                self._bootstrap_servers,
                topic,
                partitions,
                max_records=self._max_records,
                timeout_s=self._timeout_s,
            )


async def read_topic_keys(
    bootstrap_servers: str, topic: str, partitions: int, *, max_records: int, timeout_s: float
) -> TopicKeys:
    """The distinct UTF-8 keys of ``topic`` from its beginning to its end at the time of the call,
    reading at most ``max_records`` records for at most ``timeout_s`` seconds.

    ``topic`` must exist (ask :meth:`KafkaAdmin.partitions_of` first). Records without a key or
    with a key that is not UTF-8 are skipped. :class:`KafkaUnavailable` when the broker fails the
    scan or does not let it start within ``timeout_s``.
    """
    deadline = asyncio.get_running_loop().time() + timeout_s
    keys: set[str] = set()
    async with PartitionReader.opened(
        bootstrap_servers, topic, range(partitions), timeout_s
    ) as reader:
        ends = await reader.seek_back()
        # Reading stops itself at the deadline; this bound (which started later) only catches a
        # call that hangs.
        partial = await bounded(
            _read(reader, ends, keys, max_records, deadline), timeout_s, f"reading topic {topic}"
        )
    return TopicKeys(sorted(keys), partial)


async def _read(
    reader: PartitionReader,
    ends: dict[TopicPartition, int],
    keys: set[str],
    max_records: int,
    deadline: float,
) -> PartialReason | None:
    """Add the keys below ``ends`` to ``keys``; the bound that stopped it, if one did."""
    loop = asyncio.get_running_loop()
    pending = {tp for tp, end in ends.items() if end > 0}
    budget = max_records
    while pending:
        if budget <= 0:
            return PartialReason.MAX_RECORDS
        wait_s = min(FETCH_WAIT_S, deadline - loop.time())
        if wait_s <= 0:
            return PartialReason.TIME_LIMIT
        batches = await reader.fetch(
            pending, int(wait_s * 1000), max_records=min(BATCH_RECORDS, budget)
        )
        for tp, records in batches.items():
            budget -= len(records)
            for record in records:
                if record.key is not None and record.offset < ends[tp]:
                    with contextlib.suppress(UnicodeDecodeError):
                        keys.add(record.key.decode("utf-8"))
        for tp in list(pending):
            if await reader.position(tp) >= ends[tp]:
                pending.discard(tp)
        # getmany answers from its buffer without yielding: let the writes waiting in between.
        await asyncio.sleep(0)
    return None


class ScanSlots:
    """At most ``size`` scans at once. One more is refused at once (429 with Retry-After) rather
    than queued: a scan may hold its slot for the whole request timeout, and a queued request
    would hold a connection that long only to be refused or answered late."""

    def __init__(self, size: int, retry_after_s: float) -> None:
        self._size = size
        self._retry_after_s = max(1, math.ceil(retry_after_s))
        self._busy = 0

    @contextlib.contextmanager
    def taken(self) -> Iterator[None]:
        """Hold one slot for the block; :class:`TooManyScans` when none is free."""
        if self._busy >= self._size:
            raise TooManyScans(
                f"{self._size} topic scan(s) are already running, the most allowed at once; "
                f"try again in {self._retry_after_s} s",
                headers={"Retry-After": str(self._retry_after_s)},
            )
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1
