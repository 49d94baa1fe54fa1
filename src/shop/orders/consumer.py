"""The order view's consumer: reads the order topic in a consumer group and applies every event.

The view lives in memory, so on every assignment it is rebuilt from the beginning of the assigned
partitions, whatever offsets the group committed; offsets are committed (``last + 1``) only after
the records were applied or dead-lettered, which keeps the group's lag honest for operators. They
are committed at most a second after they were applied, busy or quiet (Kafka's own auto-commit
waits five; a commit per fetch cost a round trip to the coordinator every few milliseconds under
load), at once after a record was dead-lettered (so a restart does not dead-letter it again), on
revocation, and on stop.

Nothing read is trusted: an event is judged by :mod:`shop.event_rules`, and a record that does not
decode or breaks the rules goes to the dead-letter topic. Nothing acknowledged may silently
disappear either: when the log turns out to hold less than the view applied (a broker that lost
its tail), the view says so loudly and is rebuilt from the log (:class:`LogLoss`).

This module is the loop that ties the consumer's jobs together; each job has a module of its own:
:mod:`~shop.orders.rebalance` (assignment and revocation), :mod:`~shop.orders.decoding` (decoding,
waiting out the registry), :mod:`~shop.orders.applying` (applying or dead-lettering records),
:mod:`~shop.orders.catch_up` (what was applied per partition: catch-up and the read-to-end
barrier), :mod:`~shop.orders.log_loss` (losses found and counted) and
:mod:`~shop.orders.group_consumer` (the typed aiokafka consumer).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import (
    ConsumerStoppedError,
    KafkaError,
    NoOffsetForPartitionError,
    OffsetOutOfRangeError,
)

from shop.background import running_beside
from shop.backoff import Backoff
from shop.codec import OrderEventCodec
from shop.errors import KafkaUnavailable
from shop.events import OrderEvent
from shop.kafka import Delivery, bounded, close_quietly, delivery_failure
from shop.orders.applying import Applier
from shop.orders.assignor import OwnershipAssignor
from shop.orders.catch_up import Progress
from shop.orders.dead_letters import DeadLetters
from shop.orders.decoding import Decoder
from shop.orders.group_consumer import GroupConsumer
from shop.orders.log_loss import Acknowledged, LogLoss, LogLost, past_the_end
from shop.orders.rebalance import Rebalance
from shop.orders.watermarks import Watermarks
from shop.ownership import Ownership
from shop.store import OrderStore

log = logging.getLogger(__name__)

# Records decoded and applied between two awaits: larger batches rebuild no faster but hold the
# event loop (and every HTTP request) for longer; 10,000 held it for 0.3-0.4 s after a burst.
BATCH_RECORDS = 1_000
# At most this long between two commits of what the view applied (see above), and how long one
# may take (a coordinator that is gone must not hold up the reading, nor the shutdown for the
# whole request timeout).
COMMIT_INTERVAL_S = 1.0
COMMIT_TIMEOUT_S = 2.0


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
        ownership: Ownership,
    ) -> None:
        self.topic = topic
        self._store = store
        self._dead_letters = dead_letters
        self._watermarks = watermarks
        self._timeout_s = timeout_s
        self._consumer = GroupConsumer(
            bootstrap_servers, topic, group_id, OwnershipAssignor(topic, ownership)
        )
        self._decoder = Decoder(codec)
        self._applier = Applier(store, self._decoder, dead_letters)
        self._progress = Progress(self._consumer, timeout_s, self._caught_up)
        self._acked = Acknowledged(store)
        self.loss = LogLoss()
        self._consumed = 0
        self._rebalance = Rebalance(
            self._consumer,
            self._progress,
            self._applier,
            self._acked,
            self.loss,
            watermarks,
            ownership,
            store,
        )
        # Set once the view holds everything the log had at the last assignment or rebuild.
        self.caught_up = self._progress.caught_up
        self._task: asyncio.Task[None] | None = None
        # The records the cart is writing, by value (see sending).
        self._sending: dict[bytes, OrderEvent] = {}
        # Whether a rebuild's replay from the beginning has yet to start (see _replay_all).
        self._replaying_all = False
        # Whether records were applied since the last commit, when the next commit is due, and
        # the refusals counted at the last commit.
        self._uncommitted = False
        self._commit_due = 0.0
        self._poisoned_at_commit = 0

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[OrderViewConsumer]:
        """Start consuming; stop (and leave the group) on exit."""
        try:
            await bounded(self._consumer.start(), self._timeout_s, "starting the order consumer")
            self._consumer.subscribe(self._rebalance)
            async with running_beside(
                self._run(),
                f"order-view {self.topic}",
                "the order view stopped following its topic; writes answer 503",
            ) as task:
                task.add_done_callback(self._stopped)
                self._task = task
                yield self
            if self._commit_owed:
                await close_quietly(
                    self._commit(), COMMIT_TIMEOUT_S, "order consumer (its last commit)"
                )
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
        return not self._decoder.waiting_for_registry and self._progress.live()

    @property
    def poisoned(self) -> int:
        """Records refused (dead-lettered now or before) since the service started."""
        return self._applier.poisoned

    @property
    def conflicts(self) -> int:
        """Events that claimed a version another event of their order already had."""
        return self._applier.conflicts

    # What the metrics read at each scrape (shop.observability.metrics.ViewStats).

    @property
    def consumed(self) -> int:
        """Records read from the topic and judged since the service started."""
        return self._consumed

    @property
    def dead_lettered(self) -> int:
        return self._dead_letters.sent

    @property
    def rebuilds(self) -> int:
        """Replays from the beginning that finished (at start, on assignment, after a loss)."""
        return self._progress.replays

    @property
    def rebuild_seconds(self) -> float:
        return self._progress.replay_seconds

    @property
    def orders(self) -> int:
        return len(self._store)

    def lag(self) -> dict[int, int]:
        """Per assigned partition, the records the last fetch knew of that are not applied yet."""
        return {tp.partition: max(0, self._progress.lag(tp)) for tp in self._consumer.assignment()}

    def partitions_caught_up(self) -> dict[int, bool]:
        """Per assigned partition, whether the view has replayed it since its assignment."""
        return {
            tp.partition: self._progress.replayed(tp) for tp in sorted(self._consumer.assignment())
        }

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
        await self._progress.wait_caught_up(stall_s)

    async def read_to_end(self) -> None:
        """Wait until the view has applied every record its partitions hold now (the barrier after
        a write whose outcome was not confirmed). The caller bounds the wait."""
        await self._progress.read_to_end()

    def confirmed(self, delivery: Delivery, event: OrderEvent) -> asyncio.Future[bool]:
        """Whether the view applied ``event``, sent as ``delivery``: once the broker acknowledged
        it and the view has read that far (checking that the log still holds it there). The
        delivery's failure, as :func:`~shop.kafka.bounded` words it, if the broker refused it.

        One future for the writer to wait on, resolved by callbacks: the acknowledgement needs no
        trip through the writer's task of its own.
        """
        confirmed = asyncio.get_running_loop().create_future()
        delivery.add_done_callback(functools.partial(self._acknowledged, event, confirmed))
        return confirmed

    def _acknowledged(
        self, event: OrderEvent, confirmed: asyncio.Future[bool], delivery: Delivery
    ) -> None:
        if confirmed.done():  # the writer gave up waiting (its deadline)
            return
        if (failure := delivery_failure(delivery, f"publishing to {self.topic}")) is not None:
            confirmed.set_exception(failure)
            return
        landed = delivery.result()
        partition, offset = landed.partition, landed.offset
        tp = TopicPartition(self.topic, partition)
        if offset >= 0:  # else no offset was given (a duplicate the broker recognised)
            self._watermarks.note(partition, offset + 1)
        stopped = self._task is None or self._task.done()  # nothing would ever read it back
        if offset < 0 or stopped or tp not in self._consumer.assignment():
            confirmed.set_result(False)
            return
        self._acked.expect(tp, offset, event, self._progress.applied(tp), confirmed)
        if not confirmed.done():
            self._consumer.fetch_now()  # the writer waits for this read

    def sending(self, event: OrderEvent, value: bytes) -> Sending:
        """While the cart writes ``event`` as the record value ``value`` (``with``): a record read
        with exactly these bytes holds this very event (its eventId is in them), so it is applied
        as sent instead of being decoded again. It is judged on its key and place in the log like
        any other record, not on its order, which the cart built (event_rules.judge)."""
        return Sending(self._sending, event, value)

    async def _run(self) -> None:
        backoff = Backoff()
        while True:
            # A Kafka error while handling another (an end-offsets request that times out, say)
            # reaches the outer handlers: it is retried, never the end of the view.
            try:
                try:
                    await self._read_once()
                    backoff.reset()
                except OffsetOutOfRangeError as exc:
                    await self._out_of_range(exc)
                except LogLost as lost:
                    await self._rebuild(lost)
                except NoOffsetForPartitionError as exc:
                    # aiokafka looked for a committed offset before on_partitions_assigned sought
                    # to the beginning (auto_offset_reset is "none"); the view starts there anyway.
                    log.debug("order consumer: %s; reading from the beginning", exc)
                    partitions = [tp for tp in exc.args if tp in self._consumer.assignment()]
                    if partitions:
                        await self._consumer.seek_to_beginning(*partitions)
            except ConsumerStoppedError:
                return
            except KafkaError as exc:
                if (died := self._consumer.coordination_died()) is not None:
                    await self._rejoin(died)
                    continue
                # Nothing was skipped: uncommitted records come again after a rebalance (a
                # registry outage is waited out in Decoder.decode, never skipped).
                log.warning("order consumer: %s; retrying in %.1f s", exc, backoff.next_s)
                await backoff.pause()

    async def _read_once(self) -> None:
        """One fetch, applied; what is due committed; a loss found by a writer raised."""
        if self._replaying_all:  # a rebuild whose replay could not start yet
            await self._replay_all()
        batches = await self._consumer.getmany(timeout_ms=500, max_records=BATCH_RECORDS)
        if batches:
            await self._apply(batches)
        await self._commit_if_due()  # after empty fetches too: the topic may have gone quiet
        if (lost := self._acked.found()) is not None:
            raise lost
        await self._progress.check_caught_up()

    async def _rejoin(self, died: BaseException) -> None:
        """The consumer's group coordination ended for good: a new consumer rejoins the group,
        and its assignment replays the view's partitions as at start. Until one starts, retry."""
        log.warning("rejoining the group: the order consumer's group coordination ended (%r)", died)
        backoff = Backoff()
        while True:
            try:
                await self._consumer.rejoin(self._timeout_s)
                return
            except KafkaUnavailable as exc:
                log.warning("order consumer: %s; retrying in %.1f s", exc, backoff.next_s)
                await backoff.pause()

    async def _apply(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """Apply what one fetch returned (the loop commits it: :meth:`_commit_if_due`)."""
        offsets = {}
        for tp, records in batches.items():
            self._consumed += len(records)
            self._acked.check(tp, records)
            applied = await self._applier.apply(records, self._sending)
            offsets[tp] = records[-1].offset + 1
            self._acked.settle(tp, offsets[tp], applied)
        for tp, end in offsets.items():
            self._watermarks.note(tp.partition, end)
        await self._progress.advance(offsets)
        self._uncommitted = True

    async def _commit_if_due(self) -> None:
        """Commit what was applied a second after the last commit, or at once after a dead
        letter. A commit that fails (a member fenced after a freeze, a rebalance under way) is
        tried again a second later, without holding up the reading: nothing depends on it until
        the view stops or gives the partition up, and both commit again."""
        if not self._commit_owed:
            return
        now = asyncio.get_running_loop().time()
        if now < self._commit_due and self._applier.poisoned == self._poisoned_at_commit:
            return
        poisoned = self._applier.poisoned
        try:
            # aiokafka retries a commit while no coordinator is known, for ever: bounded here.
            # asyncio.timeout, not wait_for: on 3.11 wait_for returns the result of a call that
            # ended just as its caller was cancelled, and the view's task would not stop.
            async with asyncio.timeout(COMMIT_TIMEOUT_S):
                await self._commit()
        except (KafkaError, TimeoutError) as exc:
            log.warning(
                "order consumer: could not commit what it applied (%r); trying again in %g s",
                exc,
                COMMIT_INTERVAL_S,
            )
        # Done or failed (still uncommitted then), the next attempt is a second away.
        self._commit_due = asyncio.get_running_loop().time() + COMMIT_INTERVAL_S
        self._poisoned_at_commit = poisoned

    @property
    def _commit_owed(self) -> bool:
        """Whether something applied, or the new end of a log that lost records, is uncommitted."""
        return self._uncommitted or self._applier.shortened

    async def _commit(self) -> None:
        """Commit the offset after the last applied record of each assigned partition (never
        below what the group had committed: :meth:`Applier.committable`)."""
        assigned = self._consumer.assignment()
        offsets = self._applier.committable(self._progress.applied_in(assigned), assigned)
        if offsets:
            await self._consumer.commit(offsets)
            self._applier.settled(offsets)
        self._uncommitted = False

    async def _out_of_range(self, exc: OffsetOutOfRangeError) -> None:
        """A position past the log's end is a loss; one before its start, retention at work (a
        topic that deletes old events, warned about at start): read on from its start."""
        positions: dict[TopicPartition, int] = (
            exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
        )
        if positions and self._rebalance.assigning:
            positions = await self._rebalance.unchecked(positions)
            if not positions:  # each a committed offset the assignment checked (and sought past)
                return
        ends = await self._consumer.end_offsets(list(positions)) if positions else {}
        lost = past_the_end(positions, ends)
        if lost is not None:
            await self._rebuild(lost)
            return
        log.warning(
            "order view: retention deleted records of %s before the view read them; "
            "reading on from the start of the log",
            sorted(positions),
        )
        await self._consumer.seek_to_beginning(*positions)

    async def _rebuild(self, lost: LogLost) -> None:
        """Say what was lost, then replay the log from its beginning into an empty view."""
        self.loss.note(lost)
        self.loss.rebuilding(self._store)
        for tp, applied in self._progress.applied_offsets().items():
            self._applier.handled_below(tp, applied)
        self._progress.clear()
        self._store.clear()
        self._acked.abandon()
        self._replaying_all = True
        await self._replay_all()

    async def _replay_all(self) -> None:
        """Seek every assigned partition to its beginning. Until that succeeds, every pass of the
        loop tries again before it reads on: the emptied view must not go on from where it was.

        Not on no partitions (a new member after a rejoin, before its assignment), nor on
        partitions that moved meanwhile: the replay would be declared done on what the view no
        longer reads.
        """
        partitions = sorted(self._consumer.assignment())
        if not partitions:
            return
        ends = await self._progress.replay_from_beginning(partitions)
        if ends is None:
            return
        for tp, end in ends.items():
            self._watermarks.reset(tp.partition, end)  # the log as it is now; the loss is reported
            # Offsets from the end on are new records, whatever the lost ones had been.
            self._applier.new_from(tp, end)
        self._replaying_all = False

    def _stopped(self, task: asyncio.Task[None]) -> None:
        """The loop ended (a failure is logged by running_beside): no write waiting for the view
        to read it back will be confirmed."""
        self._acked.abandon()

    def _caught_up(self) -> None:
        """The view has replayed its partitions (after an assignment or a rebuild)."""
        self.loss.rebuilt(self._store)
        log.info("order view caught up with %s: %d orders", self.topic, len(self._store))


class Sending:
    """``with``: the cart is writing ``event`` as ``value``. A class, not a generator context
    manager: every write enters one, and this costs a third as much (measured)."""

    __slots__ = ("_event", "_sending", "_value")

    def __init__(self, sending: dict[bytes, OrderEvent], event: OrderEvent, value: bytes) -> None:
        self._sending = sending
        self._event = event
        self._value = value

    def __enter__(self) -> None:
        self._sending[self._value] = self._event

    def __exit__(self, *exc_info: object) -> None:
        del self._sending[self._value]
