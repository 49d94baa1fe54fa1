"""Records the log lost after it had them: what the view found, and what it says about it.

Nothing acknowledged may silently disappear: when the log turns out to hold less than the view
applied or the cart was acknowledged (a broker that lost its tail), the view says so loudly and is
rebuilt from the log. The ways it finds out: a position past the log's end
(:func:`past_the_end`), another record where the broker acknowledged one
(:class:`Acknowledged`), and an end below what was reached before a start or a rebalance
(:mod:`shop.orders.rebalance`). :class:`LogLoss` counts what went, for ``/health``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import msgspec
from aiokafka import ConsumerRecord, TopicPartition

from shop.events import OrderEvent
from shop.kafka import header_version
from shop.order import OrderId
from shop.store import OrderStore

log = logging.getLogger(__name__)


class LogLost(Exception):
    """The log holds less than the view had applied or the cart had been acknowledged."""

    def __init__(self, reason: str, records: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.records = records


@dataclasses.dataclass(slots=True)
class LogLoss:
    """What the view has seen the log lose since the service started (for /health)."""

    detected: int = 0
    records_lost: int = 0
    orders_lost: int = 0
    orders_rolled_back: int = 0
    last_reason: str = ""
    last_at: datetime | None = None
    # The versions the view held before a rebuild for lost records, to count what changed.
    _before_rebuild: dict[OrderId, int] | None = dataclasses.field(
        default=None, init=False, repr=False, compare=False
    )

    def report(self) -> dict[str, object] | None:
        if not self.detected:
            return None
        return {
            "detected": self.detected,
            "recordsLost": self.records_lost,
            "ordersLost": self.orders_lost,
            "ordersRolledBack": self.orders_rolled_back,
            "last": self.last_reason,
            "lastAt": self.last_at.isoformat(timespec="seconds") if self.last_at else None,
        }

    def note(self, lost: LogLost) -> None:
        """Count a loss and say it loudly."""
        self.detected += 1
        self.records_lost += lost.records
        self.last_reason = lost.reason
        self.last_at = datetime.now(UTC)
        log.error(
            "DATA LOSS: %s. The broker lost records it had acknowledged (a broker that "
            "acknowledges before it saves, killed?); the view is rebuilt from what the log holds",
            lost.reason,
        )

    def rebuilding(self, store: OrderStore) -> None:
        """The view is about to be emptied for a rebuild: remember what it held before the first
        of the rebuilds that follow one another until it has caught up."""
        if self._before_rebuild is None:
            self._before_rebuild = store.versions()

    def rebuilt(self, store: OrderStore) -> None:
        """The view has caught up: count the orders a rebuild lost or rolled back, if it was one."""
        before, self._before_rebuild = self._before_rebuild, None
        if before is None:
            return
        now = store.versions()
        lost = sum(1 for order_id in before if order_id not in now)
        older = sum(1 for order_id, version in now.items() if version < before.get(order_id, 0))
        self.orders_lost += lost
        self.orders_rolled_back += older
        log.error(
            "DATA LOSS: the view is rebuilt from the log: %d orders it held are gone and %d "
            "went back to an older version",
            lost,
            older,
        )


def past_the_end(
    positions: dict[TopicPartition, int], ends: dict[TopicPartition, int]
) -> LogLost | None:
    """The loss shown by fetch positions that were out of range, or None when every one was
    before its log's start (retention at work, not a loss). Without positions, a loss too."""
    beyond = {tp: offset for tp, offset in positions.items() if offset > ends.get(tp, -1)}
    if not beyond and positions:
        return None
    where = ", ".join(
        f"{tp.topic}-{tp.partition}@{at} (end {ends.get(tp, '?')})" for tp, at in beyond.items()
    )
    return LogLost(
        f"the view's position {where} is past the end of the log",
        sum(at - ends.get(tp, at) for tp, at in beyond.items()),
    )


class _Acked(msgspec.Struct, frozen=True):
    order_id: OrderId
    version: int
    event_id: str
    # True once the view applied this record, False when it did not (another claim to its version
    # came first, or the view gave the partition up before reading it).
    confirmed: asyncio.Future[bool]


class Acknowledged:
    """What the broker acknowledged to the cart and the view has not read yet, by offset.

    Each must be where the broker said it was when the view reads that far (else the log lost
    it), and the writer waits to hear whether the view applied it: only then is the write
    acknowledged to its client.
    """

    def __init__(self, store: OrderStore) -> None:
        self._store = store
        self._acked: dict[TopicPartition, dict[int, _Acked]] = {}
        # A loss the writer found (see expect), for the consumer's loop to act on.
        self._found: LogLost | None = None

    def expect(
        self,
        tp: TopicPartition,
        offset: int,
        event: OrderEvent,
        applied: int,
        confirmed: asyncio.Future[bool],
    ) -> None:
        """``event`` was acknowledged at ``offset`` of ``tp``, where the view has applied up to
        ``applied``: ``confirmed`` resolves to whether the view applied it, once it has read that
        far."""
        if applied <= offset:
            self._acked.setdefault(tp, {})[offset] = _Acked(
                event.order_id, event.order_version, event.event_id, confirmed
            )
            return
        # Read already: the view holds this event if it applied it (the order's lock keeps this
        # instance from writing the order again meanwhile).
        held = self._store.held(event.order_id)
        confirmed.set_result(held is not None and held.event.event_id == event.event_id)
        if held is None or held.event.order_version < event.order_version:
            # The consumer's loop says so and rebuilds the view (without this event).
            self._found = LogLost(
                f"{tp.topic}-{tp.partition}@{offset} held another record "
                f"than version {event.order_version} of order {event.order_id}, which the "
                "broker had acknowledged",
                1,
            )

    def found(self) -> LogLost | None:
        """The loss :meth:`expect` found since the last call, if any."""
        found, self._found = self._found, None
        return found

    def check(self, tp: TopicPartition, records: Sequence[ConsumerRecord]) -> None:
        """Each record the cart was acknowledged must be where the broker said it was."""
        acked = self._acked.get(tp)
        if not acked:
            return
        for record in records:
            expected = acked.get(record.offset)
            if expected is None:
                continue
            if record.key != expected.order_id.encode() or header_version(record.headers) != (
                expected.version
            ):
                raise LogLost(
                    f"{tp.topic}-{tp.partition}@{record.offset} holds another record than version "
                    f"{expected.version} of order {expected.order_id}, which the broker had "
                    "acknowledged",
                    1,
                )

    def settle(self, tp: TopicPartition, end: int, applied: set[int]) -> None:
        """The view has read ``tp`` up to ``end`` and applied the records at ``applied``. An
        acknowledged offset the log skipped over was compacted away: not applied either."""
        acked = self._acked.get(tp)
        if not acked:
            return
        for offset in [offset for offset in acked if offset < end]:
            confirmed = acked.pop(offset).confirmed
            if not confirmed.done():
                confirmed.set_result(offset in applied)

    def partitions(self) -> set[TopicPartition]:
        """The partitions with acknowledged records the view has not read yet."""
        return {tp for tp, acked in self._acked.items() if acked}

    def abandon(self, partitions: Iterable[TopicPartition] | None = None) -> None:
        """The view stops reading ``partitions`` (None: all) before it read their acknowledged
        records: none of those writes is confirmed."""
        for tp in list(self._acked) if partitions is None else list(partitions):
            for expected in self._acked.pop(tp, {}).values():
                if not expected.confirmed.done():
                    expected.confirmed.set_result(False)
