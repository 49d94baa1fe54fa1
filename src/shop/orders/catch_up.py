"""How far the view has applied each partition: catching up after an assignment or a rebuild, and
the read-to-end barrier.

On every assignment, and after a loss, the view replays its partitions from the beginning; it has
caught up once it has read to the end offsets the log had when the replay began. Whatever offsets
the group committed, an in-memory view starts empty, so it always replays.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable

from aiokafka import TopicPartition

from shop.errors import StartupError
from shop.kafka import bounded
from shop.orders.group_consumer import GroupConsumer


class Progress:
    """The offset applied in each partition, and whether the view has caught up with the log."""

    def __init__(
        self, consumer: GroupConsumer, timeout_s: float, on_caught_up: Callable[[], None]
    ) -> None:
        self._consumer = consumer
        self._timeout_s = timeout_s
        # Called just before caught_up is set (to say what a rebuild changed).
        self._on_caught_up = on_caught_up
        # Set once the view holds everything the log had at the last assignment or rebuild.
        self.caught_up = asyncio.Event()
        # Notified each time a batch has been applied (for read_to_end).
        self._advanced = asyncio.Condition()
        # Offset after the last applied record of each partition (what is committed).
        self._applied: dict[TopicPartition, int] = {}
        # Assignments so far (a replay started before the latest one is stale).
        self._assignments = 0
        # End offsets seen at assignment; the view has caught up once every one is reached.
        self._catch_up_to: dict[TopicPartition, int] = {}
        # Replays finished and the seconds they took (for the metrics), and when the one under
        # way began (a rebalance in the middle of one goes on with it).
        self.replays = 0
        self.replay_seconds = 0.0
        self._replay_began: float | None = None

    def applied(self, tp: TopicPartition) -> int:
        """The offset after the last record of ``tp`` the view applied (0 before any)."""
        return self._applied.get(tp, 0)

    def applied_in(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """What to commit for ``partitions``: the offset after each one's last applied record."""
        return {tp: self._applied[tp] for tp in partitions if tp in self._applied}

    def replayed(self, tp: TopicPartition) -> bool:
        """Whether the view has read ``tp`` up to the end it had when its replay began."""
        target = self._catch_up_to.get(tp)
        return self.caught_up.is_set() or (target is not None and self.applied(tp) >= target)

    def applied_offsets(self) -> dict[TopicPartition, int]:
        """The offset after the last applied record of every partition the view has applied."""
        return dict(self._applied)

    def lag(self, tp: TopicPartition) -> int:
        """Records of ``tp`` fetched, or known to the last fetch, that the view has not applied."""
        return (self._consumer.highwater(tp) or 0) - self.applied(tp)

    def live(self) -> bool:
        """Caught up now: replayed, and nothing the consumer fetched is left unapplied."""
        return self.caught_up.is_set() and all(
            self.lag(tp) <= 0 for tp in self._consumer.assignment()
        )

    async def advance(self, offsets: dict[TopicPartition, int]) -> None:
        """A batch was applied: ``offsets`` is, per partition, the offset after its last record."""
        self._applied.update(offsets)
        async with self._advanced:
            self._advanced.notify_all()

    def suspend(self) -> None:
        """A rebalance began: the view is not known to be complete until it has replayed the
        partitions it will be assigned."""
        self.caught_up.clear()

    def restart(self, partitions: Iterable[TopicPartition]) -> None:
        """``partitions`` were assigned: the view replays them from the beginning, and forgets
        how far it had read any other."""
        self._assignments += 1
        self.caught_up.clear()
        self._applied.clear()
        self._catch_up_to = {}

    def clear(self) -> None:
        """The view was emptied: nothing is applied, and it replays every partition."""
        self.caught_up.clear()
        self._applied.clear()

    async def replay_from_beginning(
        self, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, int] | None:
        """Seek ``partitions`` to their beginning and catch up to their end offsets (returned).

        None when partitions were assigned during the awaits (the group's listener runs beside
        the view's loop): ``partitions`` are stale, and the assignment replays its own.
        """
        assignments = self._assignments
        if self._replay_began is None:
            self._replay_began = asyncio.get_running_loop().time()
        if partitions:
            await self._consumer.seek_to_beginning(*partitions)
        ends = await self._consumer.end_offsets(partitions) if partitions else {}
        if self._assignments != assignments:
            return None
        self._catch_up_to = {tp: end for tp, end in ends.items() if end > 0}
        if not self._catch_up_to:
            self._caught_up()
        return ends

    async def check_caught_up(self) -> None:
        """Set :attr:`caught_up` once the consumer has read every partition to its replay's end."""
        if self.caught_up.is_set() or not self._catch_up_to:
            return
        for tp, end in self._catch_up_to.items():
            if await self._consumer.position(tp) < end:
                return
        self._caught_up()

    def _caught_up(self) -> None:
        if self._replay_began is not None:
            self.replays += 1
            self.replay_seconds += asyncio.get_running_loop().time() - self._replay_began
            self._replay_began = None
        self._on_caught_up()
        self.caught_up.set()

    async def wait_caught_up(self, stall_s: float) -> None:
        """Wait until the view holds everything the topic had when the partitions were assigned.

        However long the topic, only a replay that stops advancing for ``stall_s`` fails.
        """
        progress = -1
        while not self.caught_up.is_set():
            if self._total() == progress:
                raise StartupError(
                    f"the order view made no progress reading topic {self._consumer.topic} for "
                    f"{stall_s:g} s; check that Kafka is reachable"
                )
            progress = self._total()
            with contextlib.suppress(TimeoutError):
                # Not wait_for, which on 3.11 can swallow a cancellation that comes as it ends.
                async with asyncio.timeout(stall_s):
                    await self.caught_up.wait()

    async def read_to_end(self) -> None:
        """Wait until the view has applied every record its partitions hold now.

        The barrier after a write whose outcome was not confirmed: whatever of it reached the
        log is in the view afterwards. The caller bounds the wait.
        """
        partitions = list(self._consumer.assignment())
        ends = await bounded(
            self._consumer.end_offsets(partitions), self._timeout_s, "reading end offsets"
        )
        async with self._advanced:
            await self._advanced.wait_for(
                lambda: all(self.applied(tp) >= end for tp, end in ends.items() if end)
            )

    def _total(self) -> int:
        return sum(self._applied.values())
