"""The order view's consumer: reads the order topic in a consumer group and applies every event.

The view lives in memory, so on every assignment it is rebuilt from the beginning of the assigned
partitions, whatever offsets the group committed; offsets are committed (``last + 1``) only after
the records were applied or dead-lettered, which keeps the group's lag honest for operators.

Nothing read is trusted: an event is judged by :mod:`shop.event_rules`, and a record that does not
decode or breaks the rules goes to the dead-letter topic. Nothing acknowledged may silently
disappear either: when the log turns out to hold less than the view applied (a broker that lost
its tail), the view says so loudly and is rebuilt from the log (:class:`LogLoss`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import (
    ConsumerStoppedError,
    KafkaError,
    NoOffsetForPartitionError,
    OffsetOutOfRangeError,
)

from shop.codec import OrderEventCodec
from shop.errors import PoisonEvent, RegistryUnavailable, StartupError
from shop.event_rules import Verdict, judge
from shop.idle_fetch import pause_after_empty_fetches
from shop.kafka import bounded, close_quietly, header_version
from shop.order import OrderId
from shop.orders.dead_letters import DeadLetters
from shop.orders.watermarks import Watermarks
from shop.store import OrderStore

log = logging.getLogger(__name__)

# Records decoded and applied between two awaits: larger batches rebuild no faster but hold the
# event loop (and every HTTP request) for longer; 10,000 held it for 0.3-0.4 s after a burst.
BATCH_RECORDS = 1_000
MAX_BACKOFF_S = 5.0
# How long an end offset below what was reached may take to come back before it is a loss.
END_SETTLE_S = 3.0
END_RECHECK_S = 0.2


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


@dataclasses.dataclass(frozen=True, slots=True)
class _Acked:
    order_id: OrderId
    version: int


class OrderViewConsumer:
    """Keeps an :class:`OrderStore` up to date with one topic."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        group_id: str,
        store: OrderStore,
        codec: OrderEventCodec,
        dead_letters: DeadLetters,
        watermarks: Watermarks,
        timeout_s: float,
    ) -> None:
        self.topic = topic
        self._store = store
        self._codec = codec
        self._dead_letters = dead_letters
        self._watermarks = watermarks
        self._timeout_s = timeout_s
        self._consumer: Any = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            enable_auto_commit=False,
            # Never reset silently: a position past the log's end means the log lost records.
            auto_offset_reset="none",
            # No shorter request timeout here: a JoinGroup waits out the broker's rebalance delay
            # (seconds on tansu); aiokafka's default (40 s) allows for it.
        )
        pause_after_empty_fetches(self._consumer)
        # Set once the view holds everything the log had at the last assignment or rebuild.
        self.caught_up = asyncio.Event()
        self.poisoned = 0
        self.conflicts = 0
        self.loss = LogLoss()
        self._task: asyncio.Task[None] | None = None
        # Notified each time a batch has been applied (for read_to_end).
        self._advanced = asyncio.Condition()
        # Offset after the last applied record of each partition (what is committed).
        self._applied: dict[Any, int] = {}
        # End offsets seen at assignment; the view has caught up once every one is reached.
        self._catch_up_to: dict[Any, int] = {}
        # Below these offsets a refused record was dead-lettered before (by an earlier run, or
        # before a rebuild): it is not written to the dead-letter topic again.
        self._handled: dict[Any, int] = {}
        # What the broker acknowledged to the cart and the view has not read yet, by offset.
        self._acked: dict[Any, dict[int, _Acked]] = {}
        self._waiting_for_registry = False
        # A loss the writer found (see expect), for the consumer's loop to act on.
        self._lost: LogLost | None = None
        # The versions the view held before a rebuild for lost records, to count what changed.
        self._before_rebuild: dict[OrderId, int] | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[OrderViewConsumer]:
        """Start consuming; stop (and leave the group) on exit."""
        try:
            await bounded(self._consumer.start(), self._timeout_s, "starting the order consumer")
            self._consumer.subscribe([self.topic], listener=_Rebalance(self))
            task = asyncio.create_task(self._run(), name=f"order-view {self.topic}")
            task.add_done_callback(_log_failure)
            self._task = task
            try:
                yield self
            finally:
                task.cancel()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await task
        finally:
            await close_quietly(self._consumer.stop(), self._timeout_s, "order consumer")

    @property
    def failed(self) -> bool:
        """Whether the consumer task ended on an unexpected error (the view no longer follows)."""
        task = self._task
        return task is not None and task.done() and not task.cancelled() and bool(task.exception())

    @property
    def following_live(self) -> bool:
        """Caught up now: replayed, not waiting for the registry, nothing fetched left unapplied."""
        if not self.caught_up.is_set() or self._waiting_for_registry:
            return False
        return all(
            self._applied.get(tp, 0) >= (self._consumer.highwater(tp) or 0)
            for tp in self._consumer.assignment()
        )

    def report(self) -> dict[str, object]:
        """What ``/health`` shows of the view (JSON-ready)."""
        return {
            "following": not self.failed,
            "caughtUp": self.following_live,
            "orders": len(self._store),
            "deadLettered": self._dead_letters.sent,
            "refused": self.poisoned,
            "versionConflicts": self.conflicts,
            "logLoss": self.loss.report(),
        }

    async def wait_caught_up(self, stall_s: float) -> None:
        """Wait until the view holds everything the topic had when the partitions were assigned.

        However long the topic, only a replay that stops advancing for ``stall_s`` fails.
        """
        progress = -1
        while not self.caught_up.is_set():
            if self._progress() == progress:
                raise StartupError(
                    f"the order view made no progress reading topic {self.topic} for "
                    f"{stall_s:g} s; check that Kafka is reachable"
                )
            progress = self._progress()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.caught_up.wait(), stall_s)

    async def ready(self) -> None:
        """Wait until the view is complete (not replaying after an assignment or a loss)."""
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
                lambda: all(self._applied.get(tp, 0) >= end for tp, end in ends.items() if end)
            )

    def expect(self, partition: int, offset: int, order_id: OrderId, version: int) -> None:
        """The broker acknowledged version ``version`` of ``order_id`` at ``offset``: the view
        checks that the log still holds it there when it reads that far."""
        tp = TopicPartition(self.topic, partition)
        if offset < 0:
            return  # no offset given (a duplicate the broker recognised)
        self._watermarks.note(partition, offset + 1)
        if tp not in self._consumer.assignment():
            return
        if self._applied.get(tp, 0) <= offset:
            self._acked.setdefault(tp, {})[offset] = _Acked(order_id, version)
            return
        # Read already: the record there was this event, so the view holds it (or a later one).
        held = self._store.held(order_id)
        if held is None or held.event.order_version < version:
            # The consumer's loop says so and rebuilds the view (without this event).
            self._lost = LogLost(f"{tp.topic}-{partition}@{offset} held another record than "
                                 f"version {version} of order {order_id}, which the broker had "
                                 "acknowledged", 1)  # fmt: skip

    def _progress(self) -> int:
        return sum(self._applied.values())

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                batches = await self._consumer.getmany(timeout_ms=500, max_records=BATCH_RECORDS)
                offsets = {}
                for tp, records in batches.items():
                    await self._apply(tp, records)
                    offsets[tp] = records[-1].offset + 1
                if offsets:
                    self._applied.update(offsets)
                    for tp, end in offsets.items():
                        self._watermarks.note(tp.partition, end)
                    async with self._advanced:
                        self._advanced.notify_all()
                    await self._consumer.commit(offsets)
                if self._lost is not None:
                    lost, self._lost = self._lost, None
                    raise lost
                if not self.caught_up.is_set():
                    await self._check_caught_up()
                backoff = 0.1
            except ConsumerStoppedError:
                return
            except OffsetOutOfRangeError as exc:
                await self._out_of_range(exc)
            except LogLost as lost:
                await self._rebuild(lost)
            except NoOffsetForPartitionError as exc:
                # aiokafka looked for a committed offset before on_assigned sought to the
                # beginning (auto_offset_reset is "none"); the view starts there anyway.
                log.debug("order consumer: %s; reading from the beginning", exc)
                partitions = [tp for tp in exc.args if tp in self._consumer.assignment()]
                if partitions:
                    await self._consumer.seek_to_beginning(*partitions)
            except KafkaError as exc:
                # Nothing was skipped: uncommitted records come again after a rebalance (a
                # registry outage is waited out in _decode, never skipped).
                log.warning("order consumer: %s; retrying in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _apply(self, tp: Any, records: Sequence[Any]) -> None:
        self._check_acked(tp, records)
        # Tombstones are not events (the cart writes none): nothing to apply, nothing refused.
        records = [r for r in records if r.value is not None and not self._holds(r)]
        decoded = await self._decode([record.value for record in records])
        for record, event in zip(records, decoded, strict=True):
            if isinstance(event, PoisonEvent):
                await self._refuse(record, str(event))
                continue
            held = self._store.held(event.order_id)
            judgement = judge(event, record.key, record.offset, held)
            if judgement.verdict is Verdict.REJECT:
                await self._refuse(record, judgement.reason)
                continue
            if judgement.verdict is Verdict.CONFLICT:
                self.conflicts += 1
                log.error("order %s: two events claim one version on %s-%d@%d: %s",
                          event.order_id, record.topic, record.partition, record.offset,
                          judgement.reason)  # fmt: skip
            if judgement.verdict is not Verdict.SKIP:
                self._store.apply(event, record.offset)

    def _holds(self, record: Any) -> bool:
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

    async def _refuse(self, record: Any, reason: str) -> None:
        """Dead-letter a record the view cannot apply, unless an earlier run already did."""
        self.poisoned += 1
        if record.offset < self._handled.get(TopicPartition(record.topic, record.partition), 0):
            log.debug("record %s-%d@%d was dead-lettered before: %s",
                      record.topic, record.partition, record.offset, reason)  # fmt: skip
            return
        await self._dead_letters.send(record, reason)

    def _check_acked(self, tp: Any, records: Sequence[Any]) -> None:
        """Each record the cart was acknowledged must be where the broker said it was."""
        acked = self._acked.get(tp)
        if not acked:
            return
        for record in records:
            expected = acked.pop(record.offset, None)
            if expected is None:
                continue
            if record.key != expected.order_id.encode() or header_version(record.headers) != (
                expected.version
            ):
                raise LogLost(
                    f"{tp.topic}-{tp.partition}@{record.offset} holds another record than version "
                    f"{expected.version} of order {expected.order_id}, which the broker had "
                    "acknowledged", 1,
                )  # fmt: skip
        # An acknowledged offset the log skipped over was compacted away by a later event of
        # its order; the view reads that one.
        last = records[-1].offset
        for offset in [offset for offset in acked if offset <= last]:
            del acked[offset]

    async def _out_of_range(self, exc: OffsetOutOfRangeError) -> None:
        """A position past the log's end is a loss; one before its start, retention at work (a
        topic that deletes old events, warned about at start): read on from its start."""
        positions: dict[Any, int] = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
        ends = await self._consumer.end_offsets(list(positions)) if positions else {}
        beyond = {tp: offset for tp, offset in positions.items() if offset > ends.get(tp, -1)}
        if beyond or not positions:
            where = ", ".join(f"{tp.topic}-{tp.partition}@{at} (end {ends.get(tp, '?')})"
                              for tp, at in beyond.items())  # fmt: skip
            await self._rebuild(LogLost(f"the view's position {where} is past the end of the log",
                                        sum(at - ends.get(tp, at) for tp, at in beyond.items())))  # fmt: skip
            return
        log.warning("order view: retention deleted records of %s before the view read them; "
                    "reading on from the start of the log", sorted(positions))  # fmt: skip
        await self._consumer.seek_to_beginning(*positions)

    def _note_loss(self, lost: LogLost) -> None:
        self.loss.detected += 1
        self.loss.records_lost += lost.records
        self.loss.last_reason = lost.reason
        self.loss.last_at = datetime.now(UTC)
        log.error(
            "DATA LOSS: %s. The broker lost records it had acknowledged (a broker that "
            "acknowledges before it saves, killed?); the view is rebuilt from what the log holds",
            lost.reason,
        )

    async def _rebuild(self, lost: LogLost) -> None:
        """Say what was lost, then replay the log from its beginning into an empty view."""
        self._note_loss(lost)
        if self._before_rebuild is None:
            self._before_rebuild = self._store.versions()
        for tp, applied in self._applied.items():
            self._handled[tp] = max(self._handled.get(tp, 0), applied)
        self.caught_up.clear()
        self._store.clear()
        self._applied.clear()
        self._acked.clear()
        partitions = sorted(self._consumer.assignment())
        for tp, end in (await self._replay_from_beginning(partitions)).items():
            self._watermarks.reset(tp.partition, end)  # the log as it is now; the loss is reported
            # Offsets from the end on are new records, whatever the lost ones had been.
            self._handled[tp] = min(self._handled.get(tp, 0), end)

    async def _replay_from_beginning(self, partitions: list[Any]) -> dict[Any, int]:
        if partitions:
            await self._consumer.seek_to_beginning(*partitions)
        ends: dict[Any, int] = await self._consumer.end_offsets(partitions) if partitions else {}
        self._catch_up_to = {tp: end for tp, end in ends.items() if end > 0}
        if not self._catch_up_to:
            self._caught_up()
        return ends

    async def _decode(self, values: list[bytes | None]) -> list[Any]:
        """Decode a batch, waiting out a registry outage rather than skipping records."""
        backoff = 0.1
        try:
            while True:
                try:
                    return await self._codec.decode_batch(values)
                except RegistryUnavailable as exc:
                    self._waiting_for_registry = True
                    log.warning("order consumer: %s; retrying in %.1f s", exc.message, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
        finally:
            self._waiting_for_registry = False

    async def _check_caught_up(self) -> None:
        if not self._catch_up_to:
            return
        for tp, end in self._catch_up_to.items():
            if await self._consumer.position(tp) < end:
                return
        self._caught_up()

    def _caught_up(self) -> None:
        before, self._before_rebuild = self._before_rebuild, None
        if before is not None:
            now = self._store.versions()
            lost = sum(1 for order_id in before if order_id not in now)
            older = sum(1 for order_id, version in now.items() if version < before.get(order_id, 0))
            self.loss.orders_lost += lost
            self.loss.orders_rolled_back += older
            log.error(
                "DATA LOSS: the view is rebuilt from the log: %d orders it held are gone and %d "
                "went back to an older version", lost, older,
            )  # fmt: skip
        log.info("order view caught up with %s: %d orders", self.topic, len(self._store))
        self.caught_up.set()

    async def on_assigned(self, assigned: set[Any]) -> None:
        self.caught_up.clear()  # the view replays these partitions from the beginning
        partitions = sorted(assigned)
        for tp in partitions:
            self._applied.pop(tp, None)
        lost = await self._check_what_was_reached(partitions)
        log.info("order view assigned %s; rebuilding from the beginning", partitions)
        ends = await self._replay_from_beginning(partitions)
        for tp in lost:
            self._watermarks.reset(tp.partition, ends[tp])  # reported once, not at every start

    async def _check_what_was_reached(self, partitions: list[Any]) -> list[Any]:
        """What the group committed, and what this service noted before it stopped, was in the
        log once: the log must still hold it. The partitions where it does not."""
        if not partitions:
            return []
        ends = await self._consumer.end_offsets(partitions)
        lost = []
        for tp in partitions:
            committed = await self._consumer.committed(tp) or 0
            reached = max(committed, self._watermarks.previous.pop(tp.partition, 0))
            if reached > ends[tp]:
                ends[tp] = await self._settled_end(tp, reached)
            self._handled[tp] = min(max(self._handled.get(tp, 0), committed), ends[tp])
            if reached > ends[tp]:
                lost.append(tp)
                self._note_loss(
                    LogLost(f"{tp.topic}-{tp.partition} ends at offset {ends[tp]}, below the "
                            f"{reached} it had reached before this start", reached - ends[tp])
                )  # fmt: skip
        return lost

    async def _settled_end(self, tp: Any, reached: int) -> int:
        """The end of ``tp``'s log once it is at ``reached`` or has stayed below it a while.

        A partition's end offset is its high watermark, and a new leader's can trail the old
        one's for a moment after an election (seen in the rolling-restart test on Apache Kafka);
        only an end that stays below what was reached is a loss.
        """
        deadline = asyncio.get_running_loop().time() + END_SETTLE_S
        end: int = (await self._consumer.end_offsets([tp]))[tp]
        while end < reached and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(END_RECHECK_S)
            end = (await self._consumer.end_offsets([tp]))[tp]
        return end

    async def on_revoked(self, revoked: set[Any]) -> None:
        offsets = {tp: self._applied[tp] for tp in revoked if tp in self._applied}
        if offsets:
            with contextlib.suppress(KafkaError):
                await self._consumer.commit(offsets)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("the order view stopped following its topic", exc_info=error)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, view: OrderViewConsumer) -> None:
        self._view = view

    async def on_partitions_revoked(self, revoked: set[Any]) -> None:
        await self._view.on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[Any]) -> None:
        await self._view.on_assigned(assigned)
