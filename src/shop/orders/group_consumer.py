"""The view's Kafka consumer: aiokafka's, in a consumer group, wrapped in the typed calls the view
makes of it.

It commits only what it is told to (no auto-commit) and never resets a position silently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor

from shop.idle_fetch import pause_after_empty_fetches
from shop.kafka import bounded, close_quietly

# aiokafka's default, set here because Ownership needs to know it: a process frozen for longer has
# been dropped from the group.
SESSION_TIMEOUT_S = 10.0


# A write is acknowledged once this consumer has read it back, so a fetch that waits for data must
# not wait long: Kafka answers a waiting fetch as soon as a record arrives, but some brokers
# (tansu) hold it to the end of its wait, aiokafka's 500 ms, which made a write 250 ms on average.
FETCH_MAX_WAIT_MS = 50


class GroupConsumer:
    """One topic, read in a consumer group whose partitions ``assignor`` hands out."""

    _consumer: Any  # aiokafka's, replaced when it must rejoin the group
    _fetch_now: Callable[[], None]

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        group_id: str,
        assignor: AbstractPartitionAssignor,
    ) -> None:
        self.topic = topic
        self._bootstrap_servers = bootstrap_servers
        self._group_id = group_id
        self._assignor = assignor
        self._listener: ConsumerRebalanceListener | None = None
        self._open()

    def _open(self) -> None:
        """A new aiokafka consumer (not started yet), with this group's settings."""
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap_servers,
            group_id=self._group_id,
            partition_assignment_strategy=(self._assignor,),
            session_timeout_ms=int(SESSION_TIMEOUT_S * 1000),
            enable_auto_commit=False,
            # Never reset silently: a position past the log's end means the log lost records.
            auto_offset_reset="none",
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            # No shorter request timeout here: a JoinGroup waits out the broker's rebalance delay
            # (seconds on tansu); aiokafka's default (40 s) allows for it.
        )
        self._fetch_now = pause_after_empty_fetches(self._consumer)

    def fetch_now(self) -> None:
        """Send the next fetch at once, not after the pause that follows an empty one."""
        self._fetch_now()

    async def start(self) -> None:
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()

    def subscribe(self, listener: ConsumerRebalanceListener) -> None:
        self._listener = listener
        self._consumer.subscribe([self.topic], listener=listener)

    def coordination_died(self) -> BaseException | None:
        """Why this consumer's part in the group ended for good, or None while it takes part.

        aiokafka runs the group protocol in one task of its coordinator; an error it does not
        expect there (an empty assignment, which a broker sends to a member the leader left out,
        fails to decode) ends that task, and from then on every call raises that error and the
        consumer never rejoins. aiokafka says so nowhere else, hence its internals here.
        """
        task = getattr(self._consumer._coordinator, "_coordination_task", None)
        if task is None or not task.done() or task.cancelled():
            return None
        error: BaseException | None = task.exception()
        return error

    async def rejoin(self, timeout_s: float) -> None:
        """Replace the consumer by a new one with the same settings, listener and assignor: it
        joins the group as a new member and is assigned partitions through the listener, as at
        start. The old one is stopped first (it leaves the group), for at most ``timeout_s``."""
        assert self._listener is not None, "subscribe() first"
        await close_quietly(self.stop(), timeout_s, "order consumer left behind")
        self._open()
        await bounded(self.start(), timeout_s, "starting the order consumer again")
        self.subscribe(self._listener)

    def assignment(self) -> set[TopicPartition]:
        assigned: set[TopicPartition] = self._consumer.assignment()
        return assigned

    def highwater(self, tp: TopicPartition) -> int | None:
        """The partition's end offset as the last fetch saw it (None before any fetch)."""
        end: int | None = self._consumer.highwater(tp)
        return end

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        ends: dict[TopicPartition, int] = await self._consumer.end_offsets(partitions)
        return ends

    async def position(self, tp: TopicPartition) -> int:
        offset: int = await self._consumer.position(tp)
        return offset

    async def committed(self, tp: TopicPartition) -> int | None:
        offset: int | None = await self._consumer.committed(tp)
        return offset

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        await self._consumer.seek_to_beginning(*partitions)

    async def getmany(
        self, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[ConsumerRecord]]:
        batches: dict[TopicPartition, list[ConsumerRecord]] = await self._consumer.getmany(
            timeout_ms=timeout_ms, max_records=max_records
        )
        return batches

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit ``{tp: offset after the last applied record}`` for each partition given."""
        await self._consumer.commit(offsets)
