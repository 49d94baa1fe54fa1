"""The order view's consumer: reads the order topic in a consumer group and applies every event.

The view lives in memory, so on every assignment it is rebuilt from the beginning of the assigned
partitions, whatever offsets the group committed; offsets are committed (``last + 1``) only after
the records were applied, which keeps the group's lag honest for operators.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.errors import ConsumerStoppedError, KafkaError

from shop.codec import OrderEventCodec
from shop.errors import PoisonEvent, RegistryUnavailable, StartupError
from shop.events import OrderEvent
from shop.idle_fetch import pause_after_empty_fetches
from shop.order import OrderId
from shop.kafka import bounded, close_quietly, header_version
from shop.store import OrderStore

log = logging.getLogger(__name__)

# Records decoded and applied between two awaits: larger batches rebuild no faster but hold the
# event loop (and every HTTP request) for longer; 10,000 held it for 0.3-0.4 s after a burst.
BATCH_RECORDS = 1_000
MAX_BACKOFF_S = 5.0


class OrderViewConsumer:
    """Keeps an :class:`OrderStore` up to date with one topic."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        group_id: str,
        store: OrderStore,
        codec: OrderEventCodec,
        timeout_s: float,
    ) -> None:
        self.topic = topic
        self._store = store
        self._codec = codec
        self._timeout_s = timeout_s
        self._consumer: Any = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # No shorter request timeout here: a JoinGroup waits out the broker's rebalance delay
            # (seconds on tansu); aiokafka's default (40 s) allows for it.
        )
        pause_after_empty_fetches(self._consumer)
        self.caught_up = asyncio.Event()
        self.poisoned = 0
        self._task: asyncio.Task[None] | None = None
        # Notified each time a batch has been applied (for read_to_end).
        self._advanced = asyncio.Condition()
        # Offset after the last applied record of each partition (what is committed).
        self._applied: dict[Any, int] = {}
        # End offsets seen at assignment; the view has caught up once every one is reached.
        self._catch_up_to: dict[Any, int] = {}

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

    def report(self) -> dict[str, object]:
        """What ``/health`` shows of the view (JSON-ready)."""
        return {
            "following": not self.failed,
            "caughtUp": self.caught_up.is_set(),
            "orders": len(self._store),
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

    def _progress(self) -> int:
        return sum(self._applied.values())

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                batches = await self._consumer.getmany(timeout_ms=500, max_records=BATCH_RECORDS)
                offsets = {}
                for tp, records in batches.items():
                    await self._apply(records)
                    offsets[tp] = records[-1].offset + 1
                if offsets:
                    self._applied.update(offsets)
                    async with self._advanced:
                        self._advanced.notify_all()
                    await self._consumer.commit(offsets)
                if not self.caught_up.is_set():
                    await self._check_caught_up()
                backoff = 0.1
            except ConsumerStoppedError:
                return
            except KafkaError as exc:
                # Nothing was skipped: uncommitted records come again after a rebalance (a
                # registry outage is waited out in _decode, never skipped).
                log.warning("order consumer: %s; retrying in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _apply(self, records: Sequence[Any]) -> None:
        records = [record for record in records if not self._holds(record)]
        decoded = await self._decode([record.value for record in records])
        for record, event in zip(records, decoded, strict=True):
            if isinstance(event, PoisonEvent):
                self.poisoned += 1
                log.error(
                    "skipping record %s-%d@%d: %s", record.topic, record.partition, record.offset, event
                )
            else:
                self._store.apply(event)

    def _holds(self, record: Any) -> bool:
        """Whether the view already has this record's event (by its orderVersion header), so
        decoding it could change nothing: the cart's own events, and replays of them."""
        version = header_version(record.headers)
        if version is None or record.key is None:
            return False
        held = self._store.get(OrderId(record.key.decode("utf-8", errors="replace")))
        return held is not None and held[1] >= version

    async def _decode(self, values: list[bytes | None]) -> list[OrderEvent | PoisonEvent]:
        """Decode a batch, waiting out a registry outage rather than skipping records."""
        backoff = 0.1
        while True:
            try:
                return await self._codec.decode_batch(values)
            except RegistryUnavailable as exc:
                log.warning("order consumer: %s; retrying in %.1f s", exc.message, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _check_caught_up(self) -> None:
        if not self._catch_up_to:
            return
        for tp, end in self._catch_up_to.items():
            if await self._consumer.position(tp) < end:
                return
        log.info("order view caught up with %s: %d orders", self.topic, len(self._store))
        self.caught_up.set()

    async def on_assigned(self, assigned: set[Any]) -> None:
        self.caught_up.clear()  # the view replays these partitions from the beginning
        partitions = sorted(assigned)
        if partitions:
            await self._consumer.seek_to_beginning(*partitions)
        ends = await self._consumer.end_offsets(partitions) if partitions else {}
        self._catch_up_to = {tp: end for tp, end in ends.items() if end > 0}
        log.info("order view assigned %s; rebuilding from the beginning", partitions)
        if not self._catch_up_to:
            self.caught_up.set()

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
