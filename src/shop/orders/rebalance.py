"""What the view does when its consumer group assigns or revokes partitions.

The view lives in memory, so on every assignment it is rebuilt from the beginning of the assigned
partitions, whatever offsets the group committed (the way aiokafka's
``examples/local_state_consumer.py`` seeks in ``on_partitions_assigned``). Before that, what the
group committed and what this service noted before it stopped must still be in the log; an end
below them is a loss. On revocation the view commits what it applied of the partitions it gives up
(an argument-less commit fails during a rebalance, aiokafka #933).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from shop.orders.applying import Applier
from shop.orders.catch_up import Progress
from shop.orders.group_consumer import GroupConsumer
from shop.orders.log_loss import Acknowledged, LogLoss, LogLost
from shop.orders.watermarks import Watermarks
from shop.ownership import Ownership
from shop.store import OrderStore

log = logging.getLogger(__name__)

# How long an end offset below what was reached may take to come back before it is a loss.
END_SETTLE_S = 3.0
END_RECHECK_S = 0.2


class Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """The view's listener for its group's partition changes."""

    def __init__(
        self,
        consumer: GroupConsumer,
        progress: Progress,
        applier: Applier,
        acked: Acknowledged,
        loss: LogLoss,
        watermarks: Watermarks,
        ownership: Ownership,
        store: OrderStore,
    ) -> None:
        self._consumer = consumer
        self._progress = progress
        self._applier = applier
        self._acked = acked
        self._loss = loss
        self._watermarks = watermarks
        self._ownership = ownership
        self._store = store
        # Set but while an assignment checks the group's committed offsets and seeks (see
        # on_partitions_assigned); the committed offsets it checked and sought past.
        self._assigned = asyncio.Event()
        self._assigned.set()
        self._checked: dict[TopicPartition, int] = {}

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # Nobody is known to own anything until the next assignment: requests for orders answer
        # 503 with Retry-After. Writes waiting for the view to read their event back wait on: if
        # their partition comes back, the replay reads it (and the first claim counts).
        self._ownership.revoked()
        self._progress.suspend()
        if revoked:
            log.info("rebalance: the order view gives up partitions %s", _names(revoked))
        offsets = self._applier.committable(self._progress.applied_in(revoked), revoked)
        if offsets:
            with contextlib.suppress(KafkaError):
                await self._consumer.commit(offsets)
        self._applier.forget(revoked)

    @property
    def assigning(self) -> bool:
        """Whether an assignment is checking the group's committed offsets and seeking."""
        return not self._assigned.is_set()

    async def unchecked(self, positions: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        """Of fetch positions found past the log's end while an assignment was under way, those
        its check did not examine (the rest are reported by it, once). Waits for it to end.

        aiokafka fetches from the committed offsets before ``on_partitions_assigned`` returns
        (``assign_from_subscribed`` wakes its fetcher first), so a committed offset past the end
        fails a fetch too; a position reached otherwise, or one the assignment did not get to
        seek past (its check or seek failed: aiokafka fetches from there again), is the view
        loop's to judge.
        """
        await self._assigned.wait()
        return {tp: at for tp, at in positions.items() if self._checked.get(tp) != at}

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Check what the group committed against the log, then replay from the beginning."""
        self._assigned.clear()
        self._checked = {}
        try:
            await self._replay_assigned(assigned)
        finally:
            self._assigned.set()

    async def _replay_assigned(self, assigned: set[TopicPartition]) -> None:
        self._progress.restart(assigned)  # the view replays these partitions from the beginning
        # Another instance owns the rest now: their orders would only grow stale here, and their
        # waiting writes are not confirmed here (the new owner decides what counts).
        self._store.keep_only({tp.partition for tp in assigned}, self._ownership.partitions)
        self._acked.abandon(self._acked.partitions() - assigned)
        partitions = sorted(assigned)
        lost, committed = await self._check_what_was_reached(partitions)
        log.info(
            "rebalance: the order view is assigned partitions %s; replaying them from the "
            "beginning",
            _names(assigned),
        )
        ends = await self._progress.replay_from_beginning(partitions)
        if ends is None:  # another assignment came meanwhile, and replays on its own
            return
        self._checked = committed  # checked, and sought past: see unchecked
        for tp in lost:
            self._watermarks.reset(tp.partition, ends[tp])  # reported once, not at every start

    async def _check_what_was_reached(
        self, partitions: list[TopicPartition]
    ) -> tuple[list[TopicPartition], dict[TopicPartition, int]]:
        """What the group committed, and what this service noted before it stopped, was in the
        log once: the log must still hold it. The partitions where it does not, and what the
        group had committed of each."""
        if not partitions:
            return [], {}
        ends = await self._consumer.end_offsets(partitions)
        self._applier.forget(partitions)  # checked anew here
        committed = {tp: await self._consumer.committed(tp) or 0 for tp in partitions}
        reached = {
            tp: max(committed[tp], self._watermarks.previous.pop(tp.partition, 0))
            for tp in partitions
        }
        below = [tp for tp in partitions if reached[tp] > ends[tp]]
        # All at once: aiokafka sends no heartbeat while this listener runs, and a few seconds
        # per partition, one after another, would outlast the session timeout (evicted, the
        # member would check again at its next assignment, and again).
        settled = await asyncio.gather(*(self._settled_end(tp, reached[tp]) for tp in below))
        ends.update(zip(below, settled, strict=True))
        lost = []
        for tp in partitions:
            self._applier.handled_below(tp, committed[tp])
            self._applier.new_from(tp, ends[tp])
            if reached[tp] > ends[tp]:
                lost.append(tp)
                self._applier.lost_to(tp, ends[tp])
                self._loss.note(
                    LogLost(
                        f"{tp.topic}-{tp.partition} ends at offset {ends[tp]}, below the "
                        f"{reached[tp]} it had reached before this start",
                        reached[tp] - ends[tp],
                    )
                )
        return lost, committed

    async def _settled_end(self, tp: TopicPartition, reached: int) -> int:
        """The end of ``tp``'s log once it is at ``reached`` or has stayed below it a while.

        A partition's end offset is its high watermark, and a new leader's can trail the old
        one's for a moment after an election (seen in the rolling-restart test on Apache Kafka);
        only an end that stays below what was reached is a loss.
        """
        deadline = asyncio.get_running_loop().time() + END_SETTLE_S
        end = (await self._consumer.end_offsets([tp]))[tp]
        while end < reached and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(END_RECHECK_S)
            end = (await self._consumer.end_offsets([tp]))[tp]
        return end


def _names(partitions: set[TopicPartition]) -> str:
    """``order-events-0, order-events-2``: partitions as Kafka's tools name them."""
    return ", ".join(f"{tp.topic}-{tp.partition}" for tp in sorted(partitions)) or "none"
