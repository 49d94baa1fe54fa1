"""Applying a partition's records to the view, and refusing those it cannot apply.

Nothing read is trusted: an event is judged by :mod:`shop.event_rules`, and a record that does not
decode or breaks the rules goes to the dead-letter topic, once: a record refused again after a
restart or a rebuild is not dead-lettered twice.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence

from aiokafka import ConsumerRecord, TopicPartition

from shop.errors import PoisonEvent
from shop.event_rules import Verdict, judge
from shop.events import OrderEvent
from shop.kafka import header_version
from shop.order import OrderId
from shop.orders.dead_letters import DeadLetters
from shop.orders.decoding import Decoder
from shop.store import OrderStore

log = logging.getLogger(__name__)


class Applier:
    """Brings records into an :class:`OrderStore`, counting the refused and the conflicting."""

    def __init__(self, store: OrderStore, decoder: Decoder, dead_letters: DeadLetters) -> None:
        self._store = store
        self._decoder = decoder
        self._dead_letters = dead_letters
        self.poisoned = 0
        self.conflicts = 0
        # Below these offsets a refused record was dead-lettered before (by an earlier run, or
        # before a rebuild): it is not written to the dead-letter topic again.
        self._handled: dict[TopicPartition, int] = {}
        # The new ends of logs that lost records, to commit (see lost_to).
        self._shortened: dict[TopicPartition, int] = {}

    async def apply(
        self, records: Sequence[ConsumerRecord], sending: Mapping[bytes, OrderEvent]
    ) -> set[int]:
        """Apply, in order, a batch of one partition's records; the offsets of those applied.

        ``sending``: the events this instance is writing, by their record values. A record with
        one of those values is that event (the read-back of a write): it is not decoded again.
        """
        # Tombstones are not events (the cart writes none): nothing to apply, nothing refused.
        records = [r for r in records if r.value is not None and not self._holds(r)]
        # Looked up once, before any await: a write that gives up meanwhile (its deadline) leaves
        # ``sending``, and its record must still be the one that was not decoded.
        mine = [sending.get(r.value) for r in records]
        foreign = [r.value for r, own in zip(records, mine, strict=True) if own is None]
        decoded = iter(await self._decoder.decode(foreign))
        applied: set[int] = set()
        for record, built_here in zip(records, mine, strict=True):
            event = built_here or next(decoded)
            if isinstance(event, PoisonEvent):
                await self._refuse(record, str(event))
                continue
            held = self._store.held(event.order_id)
            judgement = judge(
                event, record.key, record.offset, held, built_here=built_here is not None
            )
            if judgement.verdict is Verdict.REJECT:
                await self._refuse(record, judgement.reason)
                continue
            if judgement.verdict is Verdict.CONFLICT:
                self.conflicts += 1
                log.error(
                    "order %s: two events claim one version on %s-%d@%d: %s",
                    event.order_id,
                    record.topic,
                    record.partition,
                    record.offset,
                    judgement.reason,
                )
            if judgement.verdict is Verdict.APPLY and self._store.apply(event, record.offset):
                applied.add(record.offset)
        return applied

    def _holds(self, record: ConsumerRecord) -> bool:
        """Whether the view already has this record's event (by its orderVersion header), so
        decoding it could change nothing: the cart's own events, and replays of them. Skipping
        never changes the view, so a header that lies can only make its record ignored. A record
        with the held version elsewhere in the log is decoded: it may be a second claim to it."""
        version = header_version(record.headers)
        if version is None or record.key is None:
            return False
        held = self._store.held(OrderId(record.key.decode("utf-8", errors="replace")))
        if held is None:
            return False
        held_version = held.event.order_version
        return version < held_version or (version, record.offset) == (held_version, held.offset)

    async def _refuse(self, record: ConsumerRecord, reason: str) -> None:
        """Dead-letter a record the view cannot apply, unless an earlier run already did."""
        self.poisoned += 1
        if record.offset < self._handled.get(TopicPartition(record.topic, record.partition), 0):
            log.debug(
                "record %s-%d@%d was dead-lettered before: %s",
                record.topic,
                record.partition,
                record.offset,
                reason,
            )
            return
        await self._dead_letters.send(record, reason)

    def committable(
        self, applied: Mapping[TopicPartition, int], assigned: Collection[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """What to commit for the ``assigned`` partitions, given the offset after the last applied
        record of each (``applied``, of those partitions only): never below what the group had
        committed when the partition was assigned (its records were handled by an earlier run). A
        replay under way starts from the beginning again, and a commit of its position would move
        the group back: a restart would dead-letter again what was refused above it, and could no
        longer tell a log that lost its tail from one that never had it. After a loss the mark is
        the log's new end (:meth:`new_from`), committed even where no record is left to apply
        (:meth:`lost_to`)."""
        offsets = {tp: end for tp, end in self._shortened.items() if tp in assigned}
        offsets.update(
            {tp: max(offset, self._handled.get(tp, 0)) for tp, offset in applied.items()}
        )
        return offsets

    @property
    def shortened(self) -> bool:
        """Whether a log that lost records has its new end to commit (:meth:`lost_to`)."""
        return bool(self._shortened)

    def settled(self, offsets: Mapping[TopicPartition, int]) -> None:
        """``offsets`` (from :meth:`committable`) were committed: the new ends among them need no
        commit any more (one set meanwhile, by another assignment, still does)."""
        for tp, offset in offsets.items():
            if self._shortened.get(tp) == offset:
                del self._shortened[tp]

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """``partitions`` are no longer this view's to commit (revoked, or assigned again and
        checked anew): their new ends are left to whoever checks them next."""
        for tp in partitions:
            self._shortened.pop(tp, None)

    def handled_below(self, tp: TopicPartition, offset: int) -> None:
        """Records of ``tp`` below ``offset`` were dead-lettered before, if they were refused."""
        self._handled[tp] = max(self._handled.get(tp, 0), offset)

    def new_from(self, tp: TopicPartition, end: int) -> None:
        """The log of ``tp`` ends at ``end``: records from there on are new, whatever records the
        log had lost there had been."""
        self._handled[tp] = min(self._handled.get(tp, 0), end)

    def lost_to(self, tp: TopicPartition, end: int) -> None:
        """The log of ``tp`` lost records the group had committed, and now ends at ``end`` (an end
        that stayed there): the group's offset goes back to it at the next commit, even where no
        record is left to apply, or every start would report the loss again."""
        self._shortened[tp] = end
